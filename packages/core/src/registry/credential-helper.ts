import { spawn } from 'node:child_process';
import { FnbuildError } from '../util/errors';
import { redactCredentials } from '../util/redact';

/**
 * Runs `docker-credential-<name> get` with the server URL on stdin and reads
 * `{"ServerURL","Username","Secret"}` from stdout. process/run.ts cannot feed stdin yet, so
 * this spawns directly (argument array, no shell). The helper's stdout is never put in a
 * message when it succeeded: it holds the secret.
 */
export interface HelperCredentials {
  username: string;
  secret: string;
}

const TIMEOUT_MS = 30_000;

export async function credentialHelperGet(name: string, serverUrl: string, env: Record<string, string | undefined>): Promise<HelperCredentials | undefined> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new FnbuildError(`credential helper name "${name}" is not a plain program name`);
  const program = `docker-credential-${name}`;
  const cleanEnv = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const { code, stdout, stderr, error } = await new Promise<{ code: number | null; stdout: string; stderr: string; error?: NodeJS.ErrnoException }>(
    (resolve) => {
      const child = spawn(program, ['get'], { env: cleanEnv, stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      // Our own timer (not spawn's `timeout`): cleared however the child ends, so nothing lingers.
      const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
      const settle = (r: { code: number | null; stdout: string; stderr: string; error?: NodeJS.ErrnoException }) => {
        clearTimeout(timer);
        resolve(r);
      };
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.stdin.on('error', () => {
        /* a helper that exits without reading stdin: its exit code tells the story */
      });
      child.on('error', (e: NodeJS.ErrnoException) => settle({ code: null, stdout: '', stderr: '', error: e }));
      child.on('close', (c) => settle({ code: c, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
      child.stdin.end(serverUrl);
    },
  );
  if (error) {
    if (error.code === 'ENOENT') {
      throw new FnbuildError(
        `credential helper ${program} was not found on PATH`,
        `Install it, or remove it from your Docker config (credHelpers / credsStore).`,
      );
    }
    throw new FnbuildError(`credential helper ${program} could not be run: ${error.message}`);
  }
  if (code !== 0) {
    const said = redactCredentials(stdout.trim() || stderr.trim()).slice(0, 300);
    if (/credentials not found/i.test(said)) return undefined;
    throw new FnbuildError(`credential helper ${program} failed for ${serverUrl} (exit ${code ?? 'signal'}): ${said}`);
  }
  let doc: { Username?: unknown; Secret?: unknown };
  try {
    doc = JSON.parse(stdout) as typeof doc;
  } catch {
    throw new FnbuildError(`credential helper ${program} printed something that is not JSON for ${serverUrl}`);
  }
  if (typeof doc.Secret !== 'string' || doc.Secret === '') return undefined;
  return { username: typeof doc.Username === 'string' ? doc.Username : '', secret: doc.Secret };
}
