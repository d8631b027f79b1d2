/** Test helpers: run the independent tools (GNU tar, gzip, skopeo, umoci) and collect streams. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a tool with an argument array; throws with its stderr unless it exits 0 (or `allowFail`). */
export function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; allowFail?: boolean } = {}): RunResult {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  const out = { status: r.status, stdout: r.stdout, stderr: r.stderr };
  if (!opts.allowFail && r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return out;
}

export async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `fnb-oci-${label}-`));
}

/** `tar -tvf` lines as { mode, owner, size, date, time, name, link? }. */
export function tarListing(
  file: string,
  extra: readonly string[] = [],
): { mode: string; owner: string; size: number; when: string; name: string; link?: string }[] {
  const out = run('tar', [...extra, '--full-time', '-tvf', file], { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } }).stdout;
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const m = /^(\S+) (\S+)\s+(\d+) (\S+ \S+) (.*)$/.exec(line);
      if (!m) throw new Error(`unexpected tar -tv line: ${line}`);
      const [name, link] = m[5]!.split(' -> ');
      return { mode: m[1]!, owner: m[2]!, size: Number(m[3]), when: m[4]!, name: name!, ...(link !== undefined ? { link } : {}) };
    });
}
