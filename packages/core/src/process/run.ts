import { FnbuildError } from '../util/errors';

/**
 * The one place that starts processes. Arguments are always an array (never a shell
 * string), the environment is exactly the one given (extendEnv is off), and a non-zero
 * exit is a result to inspect, not an exception. Every child leads a process group of its
 * own, so that stopping it stops what it started too (go build's compile and link).
 */
export interface RunOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  /** When it aborts: the child's whole process group gets SIGTERM (SIGKILL 2 s later), and run rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

type Execa = typeof import('execa', { with: { 'resolution-mode': 'import' }}).execa;
let execaPromise: Promise<Execa> | undefined;
// execa is ESM-only; a dynamic import keeps this CommonJS package loadable on Node 20.
const loadExeca = (): Promise<Execa> => (execaPromise ??= import('execa').then((m) => m.execa));

const GROUPS = process.platform !== 'win32';
const FORCE_KILL_MS = 2000;
/** Process groups of the children running now: they die with this process, however it exits. */
const running = new Set<number>();
let exitHook = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(GROUPS ? -pid : pid, signal);
  } catch {
    // already gone
  }
}

function track(pid: number | undefined, signal: AbortSignal | undefined): () => void {
  if (pid === undefined) return () => {};
  running.add(pid);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => running.forEach((p) => killGroup(p, 'SIGKILL')));
  }
  const stop = () => {
    killGroup(pid, 'SIGTERM');
    setTimeout(() => killGroup(pid, 'SIGKILL'), FORCE_KILL_MS).unref();
  };
  signal?.addEventListener('abort', stop, { once: true });
  return () => {
    running.delete(pid);
    signal?.removeEventListener('abort', stop);
  };
}

export async function run(file: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  options.signal?.throwIfAborted();
  const execa = await loadExeca();
  const env = Object.fromEntries(Object.entries(options.env).filter(([, v]) => v !== undefined)) as Record<string, string>;
  // A group of its own (detached): execa's own cleanup does not cover it, track() does.
  const child = execa(file, args, {
    cwd: options.cwd,
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    detached: GROUPS,
    cleanup: !GROUPS,
    maxBuffer: 256 * 1024 * 1024,
  });
  const untrack = track(child.pid, options.signal);
  const result = await child.finally(untrack);
  options.signal?.throwIfAborted();
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

/**
 * An AbortSignal that SIGINT and SIGTERM abort (Ctrl-C, Nx stopping a task), for the CLI
 * and the executors. The reason is a user error ("interrupted by SIGINT"). dispose()
 * removes the handlers; a second signal while aborting exits at once.
 */
export function abortOnSignals(signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handlers = signals.map((name) => {
    const handler = () => {
      if (controller.signal.aborted) process.exit(130);
      controller.abort(new FnbuildError(`interrupted by ${name}`, 'The build stopped; its processes were stopped with it. Run it again to finish.'));
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  return { signal: controller.signal, dispose: () => handlers.forEach(([name, handler]) => process.off(name, handler)) };
}
