/**
 * Fixture "multi": cmd/client and cmd/server share internal/greeting, which embeds
 * greeting.txt. Real go, a private action cache, the host platform plus linux/arm64.
 * A logging wrapper around go (GO=...) shows independently which go builds really ran.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact } from '../src/binaries/build-binaries';
import { goWrapper, removeDir, saveDirs, tempDir, type GoCall, type GoWrapper, type SavedDirs } from '../../../testkit';
import {
  build,
  buildsIn,
  copyFixture,
  downloadsIn,
  EM_AARCH64,
  EM_X86_64,
  elfHeader,
  HOST,
  HOST_FOLDER,
  modeOf,
  run,
  sha256File,
  testEnv,
} from './fixtures/helpers';

jest.setTimeout(300_000);

const PLATFORMS = [HOST, 'linux/arm64'];
const HOST_MACHINE = HOST.endsWith('/arm64') ? EM_AARCH64 : EM_X86_64;

let tmp: string;
let project: string;
let go: GoWrapper;
let env: Record<string, string | undefined>;
/** The first build (cold cache), made once; every test starts from the state it left. */
let first: { result: Awaited<ReturnType<typeof buildMulti>>; calls: GoCall[] };
let firstArtifacts: Artifact[];

const options = (extra: Record<string, unknown> = {}) => ({ platforms: PLATFORMS, cacheDir: join(tmp, 'cache'), ...extra });
const buildMulti = (extra?: Record<string, unknown>) => build({ workspaceRoot: tmp, projectRoot: project, options: options(extra), env });
const bin = (platformFolder: string, name: string) => join(project, 'bin', platformFolder, name);
const summary = (artifacts: Artifact[]) => artifacts.map((a) => `${a.name} ${a.platform} ${a.cached ? 'cached' : 'built'}`);
/** The go build calls of this test so far, as their package patterns, sorted. */
const newBuilds = async () => buildsIn(await go.log.newCalls()).sort();
let saved: SavedDirs;

beforeAll(async () => {
  tmp = tempDir('multi');
  project = copyFixture('multi', tmp);
  go = goWrapper(join(tmp, 'tools'));
  env = testEnv({ GO: go.command });
  first = { result: await buildMulti(), calls: await go.log.newCalls() };
  firstArtifacts = first.result.artifacts;
  // What a test may change: the sources and their outputs, the cache, another output folder.
  saved = saveDirs([project, join(tmp, 'cache'), join(tmp, 'out')], join(tmp, 'after-first-build'));
});
beforeEach(async () => {
  saved.restore();
  await go.log.reset();
});
afterAll(() => removeDir(tmp));

test('first build: both cmd/ targets for both platforms, real ELF binaries for the right machines', () => {
  const r = first.result;
  expect(r.outputPath).toBe(join(project, 'bin'));
  expect(summary(r.artifacts)).toEqual([`client ${HOST} built`, 'client linux/arm64 built', `server ${HOST} built`, 'server linux/arm64 built']);
  expect([r.built, r.cached]).toEqual([4, 0]);
  expect(r.artifacts.map((a) => [a.target, a.importPath, a.path])).toEqual([
    ['./cmd/client', 'example.com/multi/cmd/client', `${HOST_FOLDER}/client`],
    ['./cmd/client', 'example.com/multi/cmd/client', 'linux_arm64/client'],
    ['./cmd/server', 'example.com/multi/cmd/server', `${HOST_FOLDER}/server`],
    ['./cmd/server', 'example.com/multi/cmd/server', 'linux_arm64/server'],
  ]);

  for (const a of r.artifacts) {
    const file = join(r.outputPath, a.path);
    const st = statSync(file);
    expect({ path: a.path, sha: sha256File(file), size: st.size, mode: modeOf(file) }).toEqual({ path: a.path, sha: a.sha256, size: a.size, mode: 0o755 });
    expect(a.goVersion).toMatch(/^go1\.\d+/);
    const elf = elfHeader(file);
    expect({ path: a.path, ...elf }).toEqual({ path: a.path, magic: '7f454c46', class: 2, machine: a.platform === 'linux/arm64' ? EM_AARCH64 : HOST_MACHINE });
  }
  expect(elfHeader(bin('linux_arm64', 'server')).machine).toBe(0xb7);
  expect(elfHeader(bin(HOST_FOLDER, 'server')).machine).toBe(HOST_MACHINE);

  // artifacts.json is the same list.
  expect(JSON.parse(readFileSync(join(r.outputPath, 'artifacts.json'), 'utf8'))).toEqual(r.artifacts);
  // The embed made it into the binaries.
  expect(run(bin(HOST_FOLDER, 'client'))).toBe('client: hello');
  expect(run(bin(HOST_FOLDER, 'server'))).toBe('server: hello');

  // Independently: go build ran once per target and platform.
  const calls = first.calls;
  expect(buildsIn(calls).sort()).toEqual(['./cmd/client', './cmd/client', './cmd/server', './cmd/server']);
  expect(downloadsIn(calls)).toHaveLength(1);
  const events = r.events.filter((e) => e.kind === 'compile').map((e) => [e.label, e.state, e.state === 'done' && e.cached]);
  expect(events.sort()).toEqual([
    [`compile client ${HOST}`, 'done', false],
    ['compile client linux/arm64', 'done', false],
    [`compile server ${HOST}`, 'done', false],
    ['compile server linux/arm64', 'done', false],
  ]);
});

test('second build, nothing changed: everything cached, no go build runs, outputs untouched', async () => {
  const mtimes = firstArtifacts.map((a) => statSync(join(project, 'bin', a.path)).mtimeMs);
  const r = await buildMulti();
  expect([r.built, r.cached]).toEqual([0, 4]);
  expect(r.artifacts.every((a) => a.cached)).toBe(true);
  expect(r.artifacts.map(({ cached: _c, ...a }) => a)).toEqual(firstArtifacts.map(({ cached: _c, ...a }) => a));
  const calls = await go.log.newCalls();
  expect(buildsIn(calls)).toEqual([]);
  expect(downloadsIn(calls)).toEqual([]);
  expect(r.events.filter((e) => e.kind === 'compile' || e.kind === 'modules').every((e) => e.state === 'done' && e.cached)).toBe(true);
  expect(firstArtifacts.map((a) => statSync(join(project, 'bin', a.path)).mtimeMs)).toEqual(mtimes);
});

test('editing cmd/client rebuilds only client (both platforms)', async () => {
  const main = join(project, 'cmd', 'client', 'main.go');
  writeFileSync(main, readFileSync(main, 'utf8').replace('"client:"', '"client v2:"'));
  const r = await buildMulti();
  expect(summary(r.artifacts)).toEqual([`client ${HOST} built`, 'client linux/arm64 built', `server ${HOST} cached`, 'server linux/arm64 cached']);
  expect(await newBuilds()).toEqual(['./cmd/client', './cmd/client']);
  expect(run(bin(HOST_FOLDER, 'client'))).toBe('client v2: hello');
  expect(r.artifacts.find((a) => a.name === 'server' && a.platform === HOST)?.sha256).toBe(
    firstArtifacts.find((a) => a.name === 'server' && a.platform === HOST)?.sha256,
  );
});

test('editing the embedded file rebuilds both', async () => {
  writeFileSync(join(project, 'internal', 'greeting', 'greeting.txt'), 'bonjour\n');
  const r = await buildMulti();
  expect(summary(r.artifacts)).toEqual([`client ${HOST} built`, 'client linux/arm64 built', `server ${HOST} built`, 'server linux/arm64 built']);
  expect(await newBuilds()).toEqual(['./cmd/client', './cmd/client', './cmd/server', './cmd/server']);
  expect(run(bin(HOST_FOLDER, 'client'))).toBe('client: bonjour');
  expect(run(bin(HOST_FOLDER, 'server'))).toBe('server: bonjour');
});

test('adding a .go file to internal/ rebuilds both', async () => {
  writeFileSync(join(project, 'internal', 'greeting', 'extra.go'), 'package greeting\n\n// Extra is new.\nfunc Extra() string { return "extra" }\n');
  const r = await buildMulti();
  expect(summary(r.artifacts)).toEqual([`client ${HOST} built`, 'client linux/arm64 built', `server ${HOST} built`, 'server linux/arm64 built']);
  expect(await newBuilds()).toEqual(['./cmd/client', './cmd/client', './cmd/server', './cmd/server']);
});

test('after an edit is built, the next build is a no-op again', async () => {
  writeFileSync(join(project, 'internal', 'greeting', 'extra.go'), 'package greeting\n\n// Extra is new.\nfunc Extra() string { return "extra" }\n');
  expect((await buildMulti()).built).toBe(4);
  await go.log.reset();
  const r = await buildMulti();
  expect([r.built, r.cached]).toEqual([0, 4]);
  expect(await newBuilds()).toEqual([]);
});

test('a removed output binary is restored from the cache without a go build', async () => {
  const client = bin('linux_arm64', 'client');
  const before = sha256File(client);
  writeFileSync(client, 'clobbered');
  const r = await buildMulti();
  expect([r.built, r.cached]).toEqual([0, 4]);
  expect(await newBuilds()).toEqual([]);
  expect(sha256File(client)).toBe(before);
  expect(modeOf(client)).toBe(0o755);
});

test('the targets option picks one target; it is named after its folder', async () => {
  const r = await buildMulti({ targets: ['./cmd/server'], outputPath: 'out' });
  expect(r.outputPath).toBe(join(tmp, 'out'));
  expect(summary(r.artifacts)).toEqual([`server ${HOST} cached`, 'server linux/arm64 cached']);
  expect(existsSync(join(tmp, 'out', 'linux_arm64', 'server'))).toBe(true);
  expect(existsSync(join(tmp, 'out', 'linux_arm64', 'client'))).toBe(false);
  expect(await newBuilds()).toEqual([]);
});
