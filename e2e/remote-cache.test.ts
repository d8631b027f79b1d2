/**
 * The shared cache across machines, with real Nx from the packed tarballs. A "machine" is a
 * clone of one workspace with its own HOME, GOCACHE, Nx cache, nx-fnbuild store and module
 * cache; machines share only the remote tier: CNCF Distribution (oci://) or Debian's nginx
 * with WebDAV PUT (http://, the Bazel HTTP cache layout), both on loopback.
 *
 * For each remote: machine A builds `nx run-many -t build-binaries,build-image` (two targets,
 * linux/amd64 + linux/arm64) once; a clean machine replays it with no go build at all and
 * byte-identical binaries and images; a clean machine building a one-line change compiles
 * that package only, and gets what A gets building the same change; a clean machine in read
 * mode builds a change of its own and writes nothing to the remote.
 *
 * Checks that do not rely on the code under test: go calls come from the logging wrapper
 * (testkit/go.ts); compile actions from `go build -x` (this file's $GO adds -x to every build
 * and keeps its stderr); outputs by sha256; what the remote holds from the registry's tag
 * list and storage folder, or nginx's folder. The cache program's own counters
 * (NX_FNBUILD_GOCACHEPROG_STATS) only show that Go's cache was really read from the remote.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { removeDir, startRegistry, tempDir, type Env, type RunningRegistry } from '../testkit';
import { startNginx, type RunningNginx } from '../testkit/nginx';
import { NxWorkspace } from './harness/nx-workspace';
import { FIXTURES } from './harness/paths';
import { filesUnder, GIT_TAG, NX_VERSION, readArtifacts, runBinary, sha256Of } from './harness/workspace';

jest.setTimeout(10 * 60_000);

const RELEASE = { nx: NX_VERSION, devkit: NX_VERSION };
const PLATFORMS = ['linux/amd64', 'linux/arm64'];
const TARGETS = ['client', 'server'];
const DEMO = 'apps/demo';
const MODULE = 'example.com/demo';
const OUTPUT_DIRS = [`${DEMO}/bin`, 'dist/images'];
const CACHE_REPOSITORY = 'team/fnbuild-cache';
const BUILD = ['run-many', '-t', 'build-binaries,build-image'];
const OPTIONS = { platforms: PLATFORMS, ldflags: '-X main.version={version}' };

/** Every (target, platform) of the project, as "server linux/arm64". */
const EACH = TARGETS.flatMap((t) => PLATFORMS.map((p) => `${t} ${p}`)).sort();
/** "example.com/demo/cmd/server linux/amd64", … : the compile actions of a change to one command. */
const compilesOf = (target: string) => PLATFORMS.map((p) => `${MODULE}/cmd/${target} ${p}`).sort();

/** One remote tier both machines point at, and what it holds (to see that nothing was written). */
interface Remote {
  name: string;
  env: Env;
  /** Everything the remote stores, as sorted names: equal lists mean nothing was written. */
  contents(): Promise<string[]>;
  stop(): Promise<void>;
}

async function ociRemote(): Promise<Remote> {
  const reg: RunningRegistry = await startRegistry();
  return {
    name: 'oci (Distribution)',
    env: { NX_FNBUILD_REMOTE_CACHE: `oci://${reg.host}/${CACHE_REPOSITORY}`, NX_FNBUILD_INSECURE_REGISTRIES: reg.host },
    async contents() {
      const r = await fetch(`http://${reg.host}/v2/${CACHE_REPOSITORY}/tags/list`, { signal: AbortSignal.timeout(30_000) });
      const tags = r.status === 404 ? [] : (((await r.json()) as { tags: string[] | null }).tags ?? []);
      const stored = await filesUnder(join(reg.dir, 'data')).catch(() => []);
      return [...tags.map((t) => `tag ${t}`), ...stored.map((f) => `file ${f}`)].sort();
    },
    stop: () => reg.stop(),
  };
}

async function httpRemote(): Promise<Remote> {
  const nginx: RunningNginx = await startNginx();
  return {
    name: 'http (nginx WebDAV)',
    env: { NX_FNBUILD_REMOTE_CACHE: nginx.url },
    contents: async () => nginx.files(),
    stop: () => nginx.stop(),
  };
}

/**
 * $GO of a machine: every `go build` gets -x, its stderr also kept in <dir>/<GOOS>_<GOARCH>.<pid>.log
 * (one file per go command: concurrent builds never interleave), then the logging wrapper runs.
 */
function goX(logging: string, dir: string): string {
  const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/usr/bin/env bash
# e2e: go build with -x, its stderr kept beside the engine's copy, then the logging wrapper.
if [ "\${1:-}" = build ]; then
  shift
  exec ${sq(logging)} build -x "$@" 2> >(exec tee -a ${sq(dir)}/"\${GOOS:-host}_\${GOARCH:-host}.$$.log" >&2)
fi
exec ${sq(logging)} "$@"
`;
}

/** A machine: a workspace of its own (the clone's caches) plus HOME, GOCACHE, $GO with -x and the cache program's counters. */
interface Machine {
  ws: NxWorkspace;
  dir: string;
  xDir: string;
  stats: string;
}

function machineEnv(dir: string): Env {
  return {
    HOME: join(dir, 'home'),
    GOCACHE: join(dir, 'gocache'),
    GO: join(dir, 'go-x'),
    NX_FNBUILD_GOCACHEPROG_STATS: join(dir, 'gocacheprog.jsonl'),
  };
}

async function machine(name: string, make: (env: Env) => Promise<NxWorkspace>): Promise<Machine> {
  const dir = tempDir(`machine-${name}`);
  const m: Machine = { ws: await make(machineEnv(dir)), dir, xDir: join(dir, 'x'), stats: join(dir, 'gocacheprog.jsonl') };
  await fs.mkdir(join(dir, 'home'), { recursive: true });
  await fs.writeFile(join(dir, 'go-x'), goX(m.ws.path('.e2e', 'go'), m.xDir), { mode: 0o755 });
  return m;
}

async function disposeMachine(m: Machine | undefined): Promise<void> {
  if (!m) return;
  await m.ws.dispose();
  removeDir(m.dir);
}

/** Forgets what earlier runs of this machine logged: go calls, -x output, counters. */
async function resetLogs(m: Machine): Promise<void> {
  await m.ws.goLog.reset();
  await fs.rm(m.xDir, { recursive: true, force: true });
  await fs.mkdir(m.xDir, { recursive: true });
  await fs.rm(m.stats, { force: true });
}

/** The packages the go builds since resetLogs really compiled, as sorted "<import path> <goos>/<goarch>". */
async function compileActions(m: Machine): Promise<string[]> {
  const out: string[] = [];
  for (const name of await fs.readdir(m.xDir)) {
    const platform = name.slice(0, name.indexOf('.')).replace('_', '/');
    for (const line of (await fs.readFile(join(m.xDir, name), 'utf8')).split('\n')) {
      if (!/\/pkg\/tool\/[^/\s]+\/compile\s/.test(line)) continue;
      // -trimpath "<dir>=><import path>;$WORK/b001=>": the import path even for package main.
      const pkg = /-trimpath "[^"]*?=>([^;"]+)/.exec(line)?.[1] ?? /\s-p\s(\S+)/.exec(line)?.[1] ?? line;
      out.push(`${pkg} ${platform}`);
    }
  }
  return out.sort();
}

/** Sum of the cache program's counters over the go commands since resetLogs. */
async function goCacheCounters(m: Machine): Promise<{ commands: number; hitsRemote: number; misses: number }> {
  const text = await fs.readFile(m.stats, 'utf8').catch(() => '');
  const lines = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { hitsRemote?: number; misses?: number });
  return {
    commands: lines.length,
    hitsRemote: lines.reduce((n, c) => n + (c.hitsRemote ?? 0), 0),
    misses: lines.reduce((n, c) => n + (c.misses ?? 0), 0),
  };
}

/**
 * Files and their sha256 under the output folders: equal maps mean byte-identical binaries and
 * images. artifacts.json also says whether each binary was built or came from a cache: that
 * field is left out, every other one (path, sha256, size, go version, …) is compared.
 */
async function outputDigests(ws: NxWorkspace): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const dir of OUTPUT_DIRS) {
    for (const f of await filesUnder(ws.path(dir)).catch(() => [])) {
      if (f === 'artifacts.json')
        out[`${dir}/${f} (cached flags left out)`] = JSON.stringify(await readArtifacts(ws.path(dir)).then((l) => l.map(({ cached: _, ...rest }) => rest)));
      else out[`${dir}/${f}`] = await sha256Of(ws.path(dir, f));
    }
  }
  return out;
}

/** "(target, platform)" of the node lines `<state> compile <target> <platform>` in a run's output. */
const compileLines = (out: string, state: 'built' | 'cached' | 'remote') =>
  out
    .split('\n')
    .map((l) => new RegExp(`\\s${state}\\s+compile (\\S+) (\\S+)`).exec(l))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => `${m[1]} ${m[2]}`)
    .sort();
const unique = (xs: string[]) => [...new Set(xs)].sort();

/** The demo module (two commands sharing a package) with both build targets on two platforms, committed and tagged. */
async function populate(ws: NxWorkspace): Promise<void> {
  await fs.rm(ws.path('hello'), { recursive: true, force: true });
  await fs.cp(join(FIXTURES, 'demo'), ws.path(DEMO), { recursive: true });
  const project = {
    name: 'demo',
    projectType: 'application',
    targets: {
      'build-binaries': { executor: 'nx-fnbuild:build-binaries', options: OPTIONS },
      'build-image': { executor: 'nx-fnbuild:build-image', options: { ...OPTIONS, outputPath: 'dist/images' } },
    },
  };
  await ws.write(`${DEMO}/project.json`, JSON.stringify(project, null, 2) + '\n');
  await ws.commitAll('demo');
  await ws.git(['tag', GIT_TAG]);
}

/** A one-line change to one command, committed on a branch of A off the tagged commit; A stays on it. */
async function commitChange(a: Machine, branch: string, target: string, change: (text: string) => string): Promise<void> {
  await a.ws.git(['checkout', '-q', '-B', branch, GIT_TAG]);
  await a.ws.edit(`${DEMO}/cmd/${target}/main.go`, change);
  await a.ws.commitAll(`one line of ${target}`);
}

describe.each([
  ['oci', ociRemote],
  ['http', httpRemote],
])('remote cache over %s', (_scheme, startRemote) => {
  let remote: Remote;
  let a: Machine;
  /** What A built at the tagged commit. */
  let built: Record<string, string>;
  const others: Machine[] = [];
  const clean = async (name: string) => {
    const m = await machine(name, (env) => a.ws.clone({ env }));
    others.push(m);
    return m;
  };

  beforeAll(async () => {
    remote = await startRemote();
    a = await machine('a', (env) => NxWorkspace.create(RELEASE, 'nx-empty', { env }));
    await populate(a.ws);
    await resetLogs(a);
    const first = await a.ws.nxOk(BUILD, remote.env);
    expect(unique(compileLines(first.output, 'built'))).toEqual(EACH);
    expect(await a.ws.goLog.buildSet()).toEqual(EACH.map((e) => `./cmd/${e}`).sort());
    expect((await remote.contents()).length).toBeGreaterThan(0);
    built = await outputDigests(a.ws);
    expect(Object.keys(built).filter((f) => f.endsWith('/index.json'))).toHaveLength(TARGETS.length);
  }, 10 * 60_000);

  afterEach(async () => {
    await a?.ws.git(['checkout', '-q', '-f', 'main']);
    for (const m of others.splice(0)) await disposeMachine(m);
  });

  afterAll(async () => {
    await disposeMachine(a);
    await remote?.stop();
  });

  test('a clean machine replays what A built with no go build: binaries and images byte-identical', async () => {
    const b = await clean('b');
    await resetLogs(b);
    const replay = await b.ws.nxOk(BUILD, remote.env);
    expect(await b.ws.goLog.builds()).toEqual([]);
    expect(await compileActions(b)).toEqual([]);
    expect(compileLines(replay.output, 'built')).toEqual([]);
    // One task fetches each compile from the remote; the other may wait for it and find it local.
    expect(unique([...compileLines(replay.output, 'remote'), ...compileLines(replay.output, 'cached')])).toEqual(EACH);
    expect(compileLines(replay.output, 'remote').length).toBeGreaterThan(0);
    expect(await outputDigests(b.ws)).toEqual(built);
    expect(await runBinary(b.ws.path(DEMO, 'bin', 'linux_amd64', 'server'), ['-version'])).toBe('server 1.2.3\n');
  });

  test('a clean machine building a one-line change compiles that package only, and gets exactly what A gets', async () => {
    await commitChange(a, 'change-server', 'server', (t) => t.replace('fmt.Println("server", version)', 'fmt.Println("server version", version)'));
    // A, warm, builds the change without writing it to the remote: the reference, compiled on its own.
    await resetLogs(a);
    await a.ws.nxOk(BUILD, { ...remote.env, NX_FNBUILD_REMOTE_CACHE_MODE: 'read' });
    expect(await compileActions(a)).toEqual(compilesOf('server'));
    const reference = await outputDigests(a.ws);
    expect(reference[`${DEMO}/bin/linux_amd64/server`]).not.toBe(built[`${DEMO}/bin/linux_amd64/server`]);

    const b = await clean('b-change');
    const before = await remote.contents();
    await resetLogs(b);
    const run = await b.ws.nxOk(BUILD, remote.env);
    // The standard library, the shared package and client's own come from Go's cache on the remote.
    expect(await compileActions(b)).toEqual(compilesOf('server'));
    expect((await goCacheCounters(b)).hitsRemote).toBeGreaterThan(0);
    // {version} is `git describe` (v1.2.3-1-g…): every binary is linked again, so every (target, platform) is a go build.
    expect(unique(compileLines(run.output, 'built'))).toEqual(EACH);
    expect(await outputDigests(b.ws)).toEqual(reference);
    expect(await runBinary(b.ws.path(DEMO, 'bin', 'linux_amd64', 'server'), ['-version'])).toMatch(/^server version 1\.2\.3-1-g[0-9a-f]+\n$/);
    // In read-write mode B shares what it built.
    expect((await remote.contents()).length).toBeGreaterThan(before.length);
  });

  test('a clean machine in read mode builds a change of its own from the remote and writes nothing to it', async () => {
    await commitChange(a, 'change-client', 'client', (t) => t.replace('fmt.Println(greeting.For(*name))', 'fmt.Println(greeting.For(*name) + "!")'));
    const c = await clean('c-read');
    const before = await remote.contents();
    await resetLogs(c);
    await c.ws.nxOk(BUILD, { ...remote.env, NX_FNBUILD_REMOTE_CACHE_MODE: 'read' });
    expect(await compileActions(c)).toEqual(compilesOf('client'));
    expect((await goCacheCounters(c)).hitsRemote).toBeGreaterThan(0);
    expect(await runBinary(c.ws.path(DEMO, 'bin', 'linux_amd64', 'client'), ['-name', 'e2e'])).toBe('Hello, e2e!!\n');
    expect(await remote.contents()).toEqual(before);
  });
});
