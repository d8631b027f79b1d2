import { FnbuildError } from '../util/errors';

/**
 * The one place that starts processes. Arguments are always an array (never a shell
 * string), the environment is passed whole (no silent inheritance), and a non-zero exit
 * is a result to inspect, not an exception.
 */
export interface RunOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  /** Abort the process (SIGTERM) when this signal fires. */
  signal?: AbortSignal;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

type Execa = typeof import('execa', { with: { 'resolution-mode': 'import' } }).execa;
let execaPromise: Promise<Execa> | undefined;
// execa is ESM-only; a dynamic import keeps this CommonJS package loadable on Node 20.
const loadExeca = (): Promise<Execa> => (execaPromise ??= import('execa').then((m) => m.execa));

export async function run(file: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const execa = await loadExeca();
  const env = Object.fromEntries(Object.entries(options.env).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const result = await execa(file, args, {
    cwd: options.cwd,
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    cancelSignal: options.signal,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.failed && result.exitCode === undefined) {
    const code = (result.cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT') throw new FnbuildError(`cannot run ${file}: not found`, `Check that ${file} is installed and on PATH.`);
    throw new FnbuildError(`cannot run ${file} ${args.join(' ')}: ${result.shortMessage}`);
  }
  return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** Runs and returns stdout; a non-zero exit becomes an error carrying the command's stderr. */
export async function runOk(file: string, args: readonly string[], options: RunOptions): Promise<string> {
  const r = await run(file, args, options);
  if (r.exitCode !== 0) {
    throw new FnbuildError(`${[file, ...args].join(' ')} failed (exit ${r.exitCode}) in ${options.cwd}:\n${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}
