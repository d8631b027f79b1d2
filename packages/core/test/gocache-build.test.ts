/**
 * Real go builds through the cache program (GOCACHEPROG). Machines are folders: each has its
 * own GOCACHE and store; they share a remote. The remote is the directory-backed stand-in of
 * gocache-dir-remote.ts (the real tiers, Bazel HTTP and OCI, are tested on their own), run
 * with the program's real loop; the built CLI (`node dist/cli.js gocacheprog`) is exercised
 * on a local store. linux/amd64 only: one cold standard-library compile for the whole file.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sumCounters, type GoCacheCounters } from '../src/gocache/counters';
import { quoteForGo } from '../src/gocache/env';

const REPO = resolve(__dirname, '../../..');
const DIR_REMOTE_PROGRAM = [process.execPath, '-r', require.resolve('@swc-node/register'), resolve(__dirname, 'gocache-dir-remote.ts')];
const PLATFORM = { GOOS: 'linux', GOARCH: 'amd64', CGO_ENABLED: '0' };
const GREETING = join('internal', 'greeting', 'greeting.go');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let work: string;
let remote: string;

interface GoRun {
  code: number | null;
  stderr: string;
  /** Import paths `go build -x` ran the compiler for. */
  compiled: string[];
  counters: GoCacheCounters;
  /** sha256 of the binary (jest's toEqual on megabytes of Buffer is slow). */
  binary: string | undefined;
}

function exec(file: string, args: string[], opts: { cwd: string; env: Record<string, string | undefined> }): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stderr }));
  });
}

/** A machine: its own source checkout, GOCACHE and store folder. */
function machine(name: string): { src: string; env: Record<string, string | undefined> } {
  const root = join(work, name);
  const src = join(root, 'hello');
  cpSync(join(REPO, 'examples', 'hello'), src, { recursive: true, filter: (p) => !p.includes('/bin') });
  mkdirSync(join(root, 'gocache'));
  const env = {
    ...process.env,
    ...PLATFORM,
    GOCACHE: join(root, 'gocache'),
    GOFLAGS: '',
    GOPROXY: 'off',
    GOTOOLCHAIN: 'local',
    NX_FNBUILD_CACHE_DIR: join(root, 'store'),
  };
  return { src, env };
}

let builds = 0;
/** `go build -x -trimpath` of ./cmd/server through GOCACHEPROG=`program`. */
async function build(
  m: { src: string; env: Record<string, string | undefined> },
  program: string[] | undefined,
  extraEnv: Record<string, string> = {},
): Promise<GoRun> {
  const out = join(work, `server-${++builds}`);
  const stats = join(work, `stats-${builds}`);
  const env: Record<string, string | undefined> = {
    ...m.env,
    ...extraEnv,
    NX_FNBUILD_GOCACHEPROG_STATS: stats,
    SWC_NODE_PROJECT: join(REPO, 'tsconfig.base.json'),
  };
  if (program) env.GOCACHEPROG = quoteForGo(program);
  const r = await exec('go', ['build', '-x', '-trimpath', '-buildvcs=false', '-o', out, './cmd/server'], { cwd: m.src, env });
  const compiled = [...r.stderr.matchAll(/\/compile -o \S+ .*?-p (\S+)/g)].map((x) => x[1]!);
  return {
    ...r,
    compiled,
    counters: sumCounters(existsSync(stats) ? readFileSync(stats, 'utf8') : ''),
    binary: existsSync(out) ? sha(readFileSync(out)) : undefined,
  };
}

const viaDirRemote = { GOCACHE_TEST_REMOTE_DIR: '' };
const changeOneLine = (src: string) => {
  const file = join(src, GREETING);
  writeFileSync(file, readFileSync(file, 'utf8').replace('name = "world"', 'name = "there"'));
};

/** Plain `go build` (the machine's own GOCACHE, no cache program): what every binary must equal byte for byte. */
async function reference(change: boolean): Promise<string> {
  const src = join(work, `ref-${change}`);
  cpSync(join(REPO, 'examples', 'hello'), src, { recursive: true, filter: (p) => !p.includes('/bin') });
  if (change) changeOneLine(src);
  const out = join(src, 'server');
  const r = await exec('go', ['build', '-trimpath', '-buildvcs=false', '-o', out, './cmd/server'], {
    cwd: src,
    env: { ...process.env, ...PLATFORM, GOFLAGS: '', GOPROXY: 'off', GOTOOLCHAIN: 'local' },
  });
  if (r.code !== 0) throw new Error(r.stderr);
  return sha(readFileSync(out));
}

let a: ReturnType<typeof machine>;
let cold: GoRun;
let plain: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'fnb-gocache-build-'));
  remote = join(work, 'remote');
  viaDirRemote.GOCACHE_TEST_REMOTE_DIR = remote;
  a = machine('a');
  plain = await reference(false);
  cold = await build(a, DIR_REMOTE_PROGRAM, viaDirRemote);
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

test('a cold build through the program: succeeds, byte-identical to plain go build, everything stored and uploaded, nothing in GOCACHE', () => {
  expect(cold.stderr).not.toMatch(/warning|gocacheprog:/);
  expect(cold.code).toBe(0);
  expect(cold.binary).toEqual(plain);
  expect(cold.compiled).toEqual(expect.arrayContaining(['runtime', 'net/http', 'example.com/hello/internal/greeting', 'main']));
  expect(cold.counters.misses).toBeGreaterThanOrEqual(cold.compiled.length);
  expect(cold.counters).toMatchObject({ hitsRemote: 0, uploads: cold.counters.puts, uploadsSkipped: 0, remoteErrors: 0 });
  // Go's outputs went to the store folder, not GOCACHE (go only opens it, for its README and the fuzz cache).
  const gocacheFiles = readdirSync(a.env.GOCACHE!, { recursive: true, withFileTypes: true }).filter((d) => d.isFile() && d.name !== 'README');
  expect(gocacheFiles.map((d) => d.name)).toEqual([]);
  expect(readdirSync(join(a.env.NX_FNBUILD_CACHE_DIR!, 'go', 'o'), { recursive: true }).length).toBeGreaterThan(cold.compiled.length);
});

test('a clean machine sharing the remote compiles nothing and links the same binary', async () => {
  const b = await build(machine('b'), DIR_REMOTE_PROGRAM, viaDirRemote);
  expect(b.stderr).not.toMatch(/warning|gocacheprog:/);
  expect(b.code).toBe(0);
  expect(b.compiled).toEqual([]);
  expect(b.counters.hitsRemote).toBeGreaterThanOrEqual(cold.compiled.length);
  expect(b.counters.bytesDown).toBeGreaterThan(0);
  expect(b.binary).toEqual(plain);
}, 300_000);

test('a clean machine with a one-line change compiles only the changed package (and main, which imports it)', async () => {
  const c = machine('c');
  changeOneLine(c.src);
  const [changed, ref] = await Promise.all([build(c, DIR_REMOTE_PROGRAM, viaDirRemote), reference(true)]);
  expect(changed.code).toBe(0);
  expect(changed.compiled).toContain('example.com/hello/internal/greeting');
  expect(changed.compiled.filter((p) => p !== 'example.com/hello/internal/greeting' && p !== 'main')).toEqual([]);
  expect(changed.binary).toEqual(ref);
  expect(changed.binary).not.toEqual(plain);
}, 300_000);

test('the built CLI as GOCACHEPROG (its path quoted the way cmd/go splits it) serves a warm local store', async () => {
  const spaced = join(work, 'dist with space');
  symlinkSync(resolve(__dirname, '../dist'), spaced);
  const warm = await build(a, [process.execPath, join(spaced, 'cli.js'), 'gocacheprog']);
  expect(warm.stderr).not.toMatch(/warning|gocacheprog:/);
  expect(warm.code).toBe(0);
  expect(warm.compiled).toEqual([]);
  expect(warm.counters).toMatchObject({ hitsRemote: 0, misses: expect.any(Number) });
  expect(warm.counters.hitsLocal).toBeGreaterThanOrEqual(cold.compiled.length);
  expect(warm.binary).toEqual(plain);
}, 300_000);

test('a remote that is down never fails go: the build goes on locally with one warning line', async () => {
  const d = { ...a, src: join(work, 'a-changed') };
  cpSync(a.src, d.src, { recursive: true });
  changeOneLine(d.src);
  const r = await build(d, DIR_REMOTE_PROGRAM, { ...viaDirRemote, GOCACHE_TEST_REMOTE_FAULT: 'down' });
  expect(r.code).toBe(0);
  expect(r.compiled).toContain('example.com/hello/internal/greeting');
  expect(r.stderr.split('\n').filter((l) => /warning/.test(l))).toEqual([
    expect.stringMatching(/^warning: Go cache: .*connection refused; this go command continues without the remote cache$/),
  ]);
}, 300_000);
