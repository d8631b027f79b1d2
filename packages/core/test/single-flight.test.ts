/**
 * Two `fnbuild build-binaries` processes (the built CLI, packages/core/dist/cli.js) at once
 * on one cold cache and one project (examples/hello, linux/amd64): every (target, platform)
 * is compiled once in total, the other process waits and reports it cached. And a holder
 * killed with SIGKILL in the middle of its go build: the waiter takes over and finishes.
 *
 * A gate in the go wrapper holds every `go build` until the test opens it, so the test
 * sees the second process waiting (its "waiting" line) while the first is mid-compile.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { liveOutput } from '../../../testkit';
import { cleanup, REAL_GO, sha256File, tempDir, testEnv } from './fixtures/helpers';

jest.setTimeout(300_000);

const CLI = join(__dirname, '..', 'dist', 'cli.js');
const EXAMPLE = join(__dirname, '..', '..', '..', 'examples', 'hello');
const PLATFORM = 'linux/amd64';

let tmp: string;
let project: string;
let gateDir: string;
let goLog: string;
let env: Record<string, string | undefined>;
const started: ChildProcess[] = [];

beforeEach(() => {
  tmp = tempDir('single-flight');
  project = join(tmp, 'hello');
  cpSync(EXAMPLE, project, { recursive: true, filter: (s) => !s.includes('/bin') });
  const tools = join(tmp, 'tools');
  gateDir = join(tmp, 'gate');
  goLog = join(tools, 'go-calls.log');
  mkdirSync(tools);
  mkdirSync(gateDir);
  writeFileSync(goLog, '');
  // Logs each call (caller pid, args); a `go build` announces itself in the gate folder and waits for gate/open.
  writeFileSync(
    join(tools, 'go'),
    `#!/bin/sh
printf '%s %s\\n' "$PPID" "$*" >> '${goLog}'
if [ "$1" = build ]; then
  printf '%s' "$PPID" > '${gateDir}'/held.$$
  i=0
  while [ ! -e '${gateDir}/open' ] && [ $i -lt 3000 ]; do sleep 0.05; i=$((i+1)); done
fi
exec '${REAL_GO}' "$@"
`,
    { mode: 0o755 },
  );
  // A cold machine: its own GOCACHE, an empty store.
  env = testEnv({ GO: join(tools, 'go'), GOCACHE: join(tmp, 'gocache') });
});

afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  cleanup(tmp);
});

interface Cli {
  child: ChildProcess;
  output: () => string;
  /** Resolves once the output has a line matching `re`. */
  line(re: RegExp): Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function fnbuild(outDir: string): Cli {
  const args = [CLI, 'build-binaries', '--project', project, '--workspace-root', tmp, '--platforms', PLATFORM];
  args.push('--cache-dir', join(tmp, 'cache'), '--parallelism', '2', '--output-path', outDir);
  const child = spawn(process.execPath, args, { cwd: tmp, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  return { child, ...liveOutput(child, { deadlineMs: 120_000 }) };
}

/** The go builds that reached the gate: wrapper pid → caller (engine) pid. */
const held = () =>
  readdirSync(gateDir)
    .filter((f) => f.startsWith('held.'))
    .map((f) => ({ wrapper: Number(f.slice(5)), caller: Number(readFileSync(join(gateDir, f), 'utf8')) }));
const until = async (what: string, cond: () => boolean) => {
  for (let i = 0; !cond(); i++) {
    if (i > 2400) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
/** The logged `go build` calls ("<caller pid> build ..."). */
const goBuilds = () =>
  readFileSync(goLog, 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[1] === 'build');
/** "compile <target> <platform>" of each line in this state ("  built   compile client linux/amd64   1.2s"). */
const compileLines = (out: string, state: string) =>
  out
    .split('\n')
    .filter((l) => new RegExp(`^\\s+${state}\\s+compile `).test(l))
    .map((l) => l.trim().split(/\s+/).slice(1, 4).join(' '))
    .sort(); // nodes finish in any order
const greet = (bin: string) => execFileSync(bin, ['-local', '-name', 'gate'], { encoding: 'utf8' }).trim();
const openGate = () => writeFileSync(join(gateDir, 'open'), '');

test('two CLI builds at once on one cold cache: each (target, platform) compiled once in total; the other waits and reports it cached', async () => {
  const a = fnbuild(join(tmp, 'out-a'));
  const b = fnbuild(join(tmp, 'out-b'));
  // One is in its first go build (held at the gate); the other must be seen waiting for that compile.
  const waiting = await Promise.race([a.line(/^\s+waiting\s+compile /), b.line(/^\s+waiting\s+compile /)]);
  expect(waiting).toMatch(/another build has it \(pid \d+\)/);
  openGate();
  expect(await a.exit).toEqual({ code: 0, signal: null });
  expect(await b.exit).toEqual({ code: 0, signal: null });

  const built = [...compileLines(a.output(), 'built'), ...compileLines(b.output(), 'built')].sort();
  const cached = [...compileLines(a.output(), 'cached'), ...compileLines(b.output(), 'cached')].sort();
  expect(built).toEqual([`compile client ${PLATFORM}`, `compile server ${PLATFORM}`]);
  expect(cached).toEqual([`compile client ${PLATFORM}`, `compile server ${PLATFORM}`]);
  expect(goBuilds()).toHaveLength(2);
  for (const name of ['client', 'server']) {
    expect(sha256File(join(tmp, 'out-a', 'linux_amd64', name))).toBe(sha256File(join(tmp, 'out-b', 'linux_amd64', name)));
  }
  expect(greet(join(tmp, 'out-a', 'linux_amd64', 'client'))).toBe('Hello, gate!');
  expect(readdirSync(join(tmp, 'cache', 'tmp'))).toEqual([]);
  expect(readdirSync(join(tmp, 'cache', 'locks')).flatMap((kk) => readdirSync(join(tmp, 'cache', 'locks', kk)))).toEqual([]);
});

test('the holder killed with SIGKILL mid-compile: the waiter takes over, compiles, and leaves a whole cache', async () => {
  const a = fnbuild(join(tmp, 'out-a'));
  await until('the first go build', () => held().length > 0);
  const holder = held()[0];
  expect(holder.caller).toBe(a.child.pid);
  const b = fnbuild(join(tmp, 'out-b'));
  await b.line(/^\s+waiting\s+compile /);

  process.kill(a.child.pid!, 'SIGKILL');
  const killedAt = Date.now();
  expect(await a.exit).toEqual({ code: null, signal: 'SIGKILL' });
  process.kill(holder.wrapper, 'SIGKILL'); // the orphaned go build of the killed process
  await until('the waiter’s own go build', () => held().some((h) => h.caller === b.child.pid));
  // Reported, not asserted (includes starting the go wrapper): speed is not a test's business.
  console.log(`single-flight: SIGKILL of the holder → the waiter's go build started: ${Date.now() - killedAt} ms (polling at 50 ms)`);
  openGate();
  expect(await b.exit).toEqual({ code: 0, signal: null });
  expect(compileLines(b.output(), 'built')).toEqual([`compile client ${PLATFORM}`, `compile server ${PLATFORM}`]);
  expect(greet(join(tmp, 'out-b', 'linux_amd64', 'client'))).toBe('Hello, gate!');

  // Every entry B wrote is whole: a third build compiles nothing and gives the same bytes.
  writeFileSync(goLog, '');
  const c = fnbuild(join(tmp, 'out-c'));
  expect(await c.exit).toEqual({ code: 0, signal: null });
  expect(goBuilds()).toEqual([]);
  expect(compileLines(c.output(), 'cached')).toEqual([`compile client ${PLATFORM}`, `compile server ${PLATFORM}`]);
  for (const name of ['client', 'server'])
    expect(sha256File(join(tmp, 'out-c', 'linux_amd64', name))).toBe(sha256File(join(tmp, 'out-b', 'linux_amd64', name)));
  expect(existsSync(join(tmp, 'cache', 'locks'))).toBe(true);
  expect(readdirSync(join(tmp, 'cache', 'locks')).flatMap((kk) => readdirSync(join(tmp, 'cache', 'locks', kk)))).toEqual([]);
});
