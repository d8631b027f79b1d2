/**
 * Real processes, started with argument arrays (never a shell string).
 *
 * execa is ESM-only. The root node_modules holds jest's execa 5, so load the execa 9 the
 * core itself depends on (resolved from packages/core), through a dynamic import. The type
 * is the part of execa 9's API used here (its own types would resolve to execa 5).
 */
import type { ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The repository this kit belongs to. */
export const REPO_ROOT = resolve(__dirname, '..');

type Execa = (
  file: string,
  args: readonly string[],
  options: Record<string, unknown>,
) => Promise<{ exitCode?: number; stdout: unknown; stderr: unknown; all?: unknown; timedOut: boolean; shortMessage: string }>;
let execaPromise: Promise<Execa> | undefined;
const loadExeca = (): Promise<Execa> =>
  (execaPromise ??= (async () => {
    const entry = require.resolve('execa', { paths: [join(REPO_ROOT, 'packages', 'core')] });
    const m = (await import(pathToFileURL(entry).href)) as { execa: Execa };
    return m.execa;
  })());

export type Env = Record<string, string | undefined>;

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved, ANSI colours removed. */
  output: string;
}

export interface ExecOptions {
  cwd: string;
  /** The whole environment of the child (nothing is inherited besides this). */
  env: Env;
  /** Kill the process after this long (default 10 minutes): a hang fails the test instead of the run. */
  timeoutMs?: number;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences start with ESC
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
export const stripAnsi = (s: string) => s.replace(ANSI, '');

/**
 * The environment children start from: this process's, without what would steer them
 * somewhere else (npm's lifecycle variables from `npm test`, git's repository variables,
 * an outer Nx run's settings).
 */
export function baseEnv(): Env {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|GIT_|NX_)/.test(k)));
}

/** Runs a command to its end; a non-zero exit is a result, not an exception. */
export async function exec(file: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  const execa = await loadExeca();
  const env = Object.fromEntries(Object.entries(opts.env).filter((e): e is [string, string] => e[1] !== undefined));
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
  const r = await execa(file, args, {
    cwd: opts.cwd,
    env,
    extendEnv: false,
    reject: false,
    all: true,
    stripFinalNewline: false,
    stdin: 'ignore',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.timedOut) throw new Error(`${file} ${args.join(' ')} timed out after ${timeoutMs} ms:\n${stripAnsi(String(r.all ?? ''))}`);
  if (r.exitCode === undefined) throw new Error(`${file} ${args.join(' ')} did not run: ${r.shortMessage}`);
  return { exitCode: r.exitCode, stdout: stripAnsi(String(r.stdout)), stderr: stripAnsi(String(r.stderr)), output: stripAnsi(String(r.all ?? '')) };
}

/** Runs a command that must succeed; its output otherwise becomes the error. */
export async function execOk(file: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  const r = await exec(file, args, opts);
  if (r.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} failed (exit ${r.exitCode}) in ${opts.cwd}:\n${r.output}`);
  return r;
}

/** A tool of the machine (openssl, htpasswd, skopeo, ...) that must succeed, in the C locale; its stdout. */
export async function tool(file: string, args: readonly string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await execOk(file, args, { cwd: opts.cwd ?? '/', env: { ...baseEnv(), LC_ALL: 'C' }, timeoutMs: opts.timeoutMs ?? 120_000 });
  return r.stdout;
}

export interface LiveOutput {
  /** Everything printed so far (stdout and stderr, ANSI stripped). */
  output: () => string;
  /** The first output line matching `re`, once it is printed; rejects if the process exits first or after `deadlineMs`. */
  line(re: RegExp): Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Reads a running child's output as it comes (exec returns only at the end). */
export function liveOutput(child: ChildProcess, opts: { deadlineMs: number }): LiveOutput {
  let text = '';
  const listeners: (() => void)[] = [];
  const wake = () => listeners.splice(0).forEach((l) => l());
  const onData = (d: Buffer) => {
    text += stripAnsi(d.toString());
    wake();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  void exit.then(wake);
  const line = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`no line matching ${re} within ${opts.deadlineMs} ms:\n${text}`)), opts.deadlineMs);
      const check = () => {
        const hit = text.split('\n').find((l) => re.test(l));
        if (hit !== undefined) {
          clearTimeout(deadline);
          resolve(hit);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(deadline);
          reject(new Error(`exited without a line matching ${re}:\n${text}`));
        } else {
          listeners.push(check);
        }
      };
      check();
    });
  return { output: () => text, line, exit };
}

/** A server child the kit started: its output so far, and a stop that ends it (SIGTERM, then SIGKILL after 3 s). */
export function serverProcess(child: ChildProcess): { output: () => string; stop: () => Promise<void> } {
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
  return { output: () => output, stop };
}
