/**
 * Whole builds sharing a remote cache, through the built CLI (`node dist/cli.js
 * build-binaries`), so Go's cache program is the real dist/gocache/main.js. A "machine" is
 * folders: its own HOME, GOCACHE, store, copy of examples/hello and logging go wrapper
 * (testkit's GoLog counts the `go build` calls). The remotes are real: Debian's nginx with
 * WebDAV PUT (a Bazel HTTP cache, behind Basic auth whose password must never leak) and CNCF
 * Distribution on loopback. linux/amd64 only: one cold standard-library compile per file.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { baseEnv, exec, execOk, freePort, goWrapper, realGo, removeDir, tempDir, type ExecResult, type GoWrapper } from '../../../testkit';
import { quoteForGo } from '../src/gocache/env';
import { sumCounters, type GoCacheCounters } from '../src/gocache/counters';
import { startNginx, type RunningNginx } from './remote-harness';
import { startRegistry, type RunningRegistry } from '../../../testkit';

const REPO = resolve(__dirname, '../../..');
const CLI = join(REPO, 'packages', 'core', 'dist', 'cli.js');
const USER = 'ci';
const PASSWORD = 'pa55-w0rd-never-shown';
const GREETING = join('internal', 'greeting', 'greeting.go');

jest.setTimeout(15 * 60_000);

let work: string;
let nginx: RunningNginx;
let reg: RunningRegistry;

beforeAll(async () => {
  work = tempDir('remote-build');
  [nginx, reg] = await Promise.all([startNginx({ basic: { user: USER, password: PASSWORD } }), startRegistry()]);
  await seedGoCache();
});

/**
 * The standard library for linux/amd64 in a store's Go cache (the cache program's own folder,
 * no remote): machines that are not about a cold Go cache start from a copy of it, so this
 * file pays for one cold standard-library compile besides machine A's.
 */
const seed = () => join(work, 'seed-store');
async function seedGoCache(): Promise<void> {
  const env = {
    ...baseEnv(),
    GOOS: 'linux',
    GOARCH: 'amd64',
    CGO_ENABLED: '0',
    GOFLAGS: '',
    GOTOOLCHAIN: 'local',
    GOCACHE: join(work, 'seed-gocache'),
    GOCACHEPROG: quoteForGo([process.execPath, join(REPO, 'packages', 'core', 'dist', 'gocache', 'main.js')]),
    NX_FNBUILD_CACHE_DIR: seed(),
  };
  await execOk(realGo(), ['build', '-trimpath', 'std'], { cwd: work, env });
}
afterAll(async () => {
  await Promise.all([nginx?.stop(), reg?.stop()]);
  if (work) removeDir(work);
});

interface Machine {
  name: string;
  root: string;
  src: string;
  store: string;
  go: GoWrapper;
  env: Record<string, string | undefined>;
}

/** A machine: HOME, GOCACHE, store, project copy and go wrapper of its own; `remote` as NX_FNBUILD_REMOTE_CACHE. */
function machine(name: string, remote: Record<string, string>, opts: { seeded?: boolean } = {}): Machine {
  const root = join(work, name);
  const src = join(root, 'ws', 'hello');
  cpSync(join(REPO, 'examples', 'hello'), src, { recursive: true, filter: (p) => !p.includes('/bin') });
  for (const d of ['home', 'gocache']) mkdirSync(join(root, d), { recursive: true });
  const go = goWrapper(join(root, 'gobin'));
  const store = join(root, 'store');
  if (opts.seeded) cpSync(join(seed(), 'go'), join(store, 'go'), { recursive: true });
  const env = {
    ...baseEnv(),
    HOME: join(root, 'home'),
    XDG_CONFIG_HOME: join(root, 'home', '.config'),
    GOCACHE: join(root, 'gocache'),
    GOPATH: join(root, 'home', 'go'),
    GOFLAGS: '',
    GOPROXY: 'off',
    GOTOOLCHAIN: 'local',
    GO: go.command,
    NX_FNBUILD_CACHE_DIR: store,
    NX_FNBUILD_GOCACHEPROG_STATS: join(root, 'gocacheprog.jsonl'),
    ...remote,
  };
  return { name, root, src, store, go, env };
}

interface Built {
  r: ExecResult;
  /** sha256 of each binary, by file name. */
  binaries: Record<string, string>;
  goBuilds: string[];
  /** The cache program's counters, summed over this build's go commands. */
  goCache: GoCacheCounters;
}

async function build(m: Machine): Promise<Built> {
  await m.go.log.reset();
  writeFileSync(m.env.NX_FNBUILD_GOCACHEPROG_STATS!, '');
  const out = join(m.root, 'bin');
  const r = await exec(
    process.execPath,
    [CLI, 'build-binaries', '--project', m.src, '--workspace-root', join(m.root, 'ws'), '--platforms', 'linux/amd64', '--output-path', out],
    {
      cwd: m.root,
      env: m.env,
    },
  );
  if (r.exitCode !== 0) throw new Error(`${m.name}: build failed (exit ${r.exitCode}):\n${r.output}`);
  const binaries = Object.fromEntries(
    readdirSync(out, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && !e.name.endsWith('.json'))
      .map((e) => [
        e.name,
        createHash('sha256')
          .update(readFileSync(join(e.parentPath, e.name)))
          .digest('hex'),
      ]),
  );
  const goCache = sumCounters(readFileSync(m.env.NX_FNBUILD_GOCACHEPROG_STATS!, 'utf8'));
  return { r, binaries, goBuilds: await m.go.log.buildSet(), goCache };
}

function changeGreeting(m: Machine, word: string): void {
  const file = join(m.src, GREETING);
  const text = readFileSync(file, 'utf8');
  const changed = text.replace(/(func \w+\([^)]*\)[^{]*\{)/, `$1\n\t_ = "${word}"`);
  expect(changed).not.toBe(text);
  writeFileSync(file, changed);
}

/** Every file under dir, for the credential check. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

function expectNoPassword(m: Machine, outputs: string[]): void {
  for (const o of outputs) expect(o).not.toContain(PASSWORD);
  const leaking = filesUnder(m.store).filter((f) => statSync(f).size > 0 && readFileSync(f).includes(PASSWORD));
  expect(leaking).toEqual([]);
}

describe('two machines sharing nginx (Bazel HTTP cache)', () => {
  test('B replays A with zero go builds and identical binaries; a one-line change compiles only what changed; nothing leaks the password', async () => {
    const url = nginx.url.replace('://', `://${USER}:${PASSWORD}@`);
    const a = machine('nginx-a', { NX_FNBUILD_REMOTE_CACHE: url });
    const b = machine('nginx-b', { NX_FNBUILD_REMOTE_CACHE: url });

    const first = await build(a);
    expect(first.goBuilds.length).toBeGreaterThan(0);
    expect(first.r.stderr).toMatch(/remote cache http:\/\/\*\*\*@127\.0\.0\.1:\d+\/cache\/?: 0 fetched \([^)]*\), [1-9]\d* uploaded/);
    expect(first.goCache.uploads).toBeGreaterThan(0);
    expect(nginx.files().some((f) => f.startsWith('ac/'))).toBe(true);

    const replay = await build(b);
    expect(replay.goBuilds).toEqual([]);
    expect(replay.binaries).toEqual(first.binaries);
    expect(Object.keys(replay.binaries).length).toBeGreaterThan(0);
    expect(replay.r.stderr).toMatch(/remote cache http:\/\/\*\*\*@127\.0\.0\.1:\d+\/cache\/?: [1-9]\d* fetched/);

    // A one-line change on B (its GOCACHE still empty): Go's own cache comes from A through the cache program.
    changeGreeting(b, 'b-change');
    const changed = await build(b);
    expect(changed.goBuilds.length).toBeGreaterThan(0);
    expect(changed.goCache.hitsRemote).toBeGreaterThan(0);
    // What A's cold build had to produce, against what B's change had to: the standard library came from the remote.
    expect(first.goCache.misses).toBeGreaterThan(50);
    expect(changed.goCache.misses).toBeGreaterThan(0);
    expect(changed.goCache.misses).toBeLessThan(first.goCache.misses / 10);

    for (const m of [a, b]) expectNoPassword(m, [first.r.output, replay.r.output, changed.r.output]);
  });

  test('read mode writes nothing to the remote, and builds correctly', async () => {
    const url = nginx.url.replace('://', `://${USER}:${PASSWORD}@`);
    const c = machine('nginx-read', { NX_FNBUILD_REMOTE_CACHE: url, NX_FNBUILD_REMOTE_CACHE_MODE: 'read' }, { seeded: true });
    changeGreeting(c, 'read-only-change');
    const before = nginx.files();
    const built = await build(c);
    expect(built.goBuilds.length).toBeGreaterThan(0);
    expect(built.r.stderr).toMatch(/: \d+ fetched \([^)]*\), 0 uploaded/);
    expect(built.goCache.uploads).toBe(0);
    expect(nginx.files()).toEqual(before);
    expectNoPassword(c, [built.r.output]);
  });

  test('a remote that is down: one warning from the build, and a correct build', async () => {
    const port = await freePort(); // nothing listens there
    const down = machine('down', { NX_FNBUILD_REMOTE_CACHE: `http://${USER}:${PASSWORD}@127.0.0.1:${port}/cache/` }, { seeded: true });
    const got = await build(down);
    const warnings = got.r.output.split('\n').filter((l) => /^warning: .*127\.0\.0\.1:\d+/.test(l));
    expect(warnings).toHaveLength(1);
    expect(got.r.stderr).toContain('turned off after an error');
    expect(Object.keys(got.binaries).sort()).toEqual(['client', 'server']);
    for (const bin of ['client', 'server']) {
      const info = await execOk(realGo(), ['version', '-m', join(down.root, 'bin', 'linux_amd64', bin)], { cwd: down.root, env: baseEnv() });
      expect(info.stdout).toContain(`path\texample.com/hello/cmd/${bin}`);
    }
    // The same machine without a remote: what the down build stored is an ordinary local hit.
    const again = await build({ ...down, env: { ...down.env, NX_FNBUILD_REMOTE_CACHE: '' } });
    expect(again.goBuilds).toEqual([]);
    expect(again.binaries).toEqual(got.binaries);
    expectNoPassword(down, [got.r.output, again.r.output]);
  });
});

describe('two machines sharing a Distribution registry (oci://)', () => {
  test('B replays A with zero go builds and identical binaries', async () => {
    const remote = { NX_FNBUILD_REMOTE_CACHE: `oci://${reg.host}/fnbuild/cache`, NX_FNBUILD_INSECURE_REGISTRIES: reg.host };
    const a = machine('oci-a', remote, { seeded: true });
    const b = machine('oci-b', remote);
    changeGreeting(a, 'oci');
    changeGreeting(b, 'oci');
    const first = await build(a);
    expect(first.goBuilds.length).toBeGreaterThan(0);
    expect(first.r.stderr).toMatch(/remote cache oci:\/\/127\.0\.0\.1:\d+\/fnbuild\/cache: 0 fetched \([^)]*\), [1-9]\d* uploaded/);
    const replay = await build(b);
    expect(replay.goBuilds).toEqual([]);
    expect(replay.binaries).toEqual(first.binaries);
  });
});
