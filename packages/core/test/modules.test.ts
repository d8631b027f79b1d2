/**
 * Fixture "deps": a module requiring example.com/greet v1.0.0, served by a file:// module
 * proxy the test lays out itself, into a private GOMODCACHE so the download really happens.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { goWrapper, removeDir, saveDirs, tempDir, type GoCall, type GoWrapper, type SavedDirs } from '../../../testkit';
import { build, buildsIn, copyFixture, downloadsIn, FIXTURES, HOST_FOLDER, makeProxy, run, testEnv } from './fixtures/helpers';

jest.setTimeout(300_000);

let tmp: string;
let project: string;
let modcache: string;
let go: GoWrapper;
let env: Record<string, string | undefined>;
/** The first build (empty module cache), made once; every test starts from the state it left. */
let first: { modcacheBefore: boolean; result: Awaited<ReturnType<typeof buildDeps>>; calls: GoCall[] };
let saved: SavedDirs;

const buildDeps = () => build({ workspaceRoot: tmp, projectRoot: project, options: { cacheDir: join(tmp, 'cache') }, env });
const modulesEvents = (events: { kind: string; state: string }[]) =>
  events.filter((e) => e.kind === 'modules').map((e) => [e.state, 'cached' in e ? e.cached : undefined]);

beforeAll(async () => {
  tmp = tempDir('deps');
  project = copyFixture('deps', tmp);
  modcache = join(tmp, 'gomodcache');
  go = goWrapper(join(tmp, 'tools'));
  const proxy = makeProxy(join(tmp, 'proxy'), [{ path: 'example.com/greet', version: 'v1.0.0' }]);
  env = testEnv({ GO: go.command, GOPROXY: proxy, GONOSUMDB: '*', GOFLAGS: '-mod=mod', GOMODCACHE: modcache });
  const modcacheBefore = existsSync(modcache);
  first = { modcacheBefore, result: await buildDeps(), calls: await go.log.newCalls() };
  saved = saveDirs([project, join(tmp, 'cache'), modcache], join(tmp, 'after-first-build'));
});
beforeEach(async () => {
  saved.restore();
  await go.log.reset();
});
afterAll(() => removeDir(tmp));

test('first build downloads the dependency from the local proxy once and links it in', () => {
  expect(first.modcacheBefore).toBe(false);
  const r = first.result;
  expect(r.artifacts.map((a) => [a.name, a.cached])).toEqual([['deps', false]]);
  expect(modulesEvents(r.events)).toEqual([['done', false]]);
  const calls = first.calls;
  expect(downloadsIn(calls).map((c) => c.argv.slice(0, 3))).toEqual([['mod', 'download', '-json']]);
  expect(buildsIn(calls)).toEqual(['.']);
  // The download really happened, into the private module cache.
  expect(readFileSync(join(modcache, 'example.com', 'greet@v1.0.0', 'greet.go'), 'utf8')).toContain('func Hello');
  expect(existsSync(join(modcache, 'cache', 'download', 'example.com', 'greet', '@v', 'v1.0.0.zip'))).toBe(true);
  expect(run(join(project, 'bin', HOST_FOLDER, 'deps'))).toBe('hello, deps');
  // The build did not rewrite go.sum (that would invalidate the modules key every time).
  expect(readFileSync(join(project, 'go.sum'), 'utf8')).toBe(readFileSync(join(FIXTURES, 'deps', 'go.sum'), 'utf8'));
});

test('second build: the modules node is a cache hit and go mod download does not run', async () => {
  const r = await buildDeps();
  expect(modulesEvents(r.events)).toEqual([['done', true]]);
  expect(r.artifacts.map((a) => [a.name, a.cached])).toEqual([['deps', true]]);
  const calls = await go.log.newCalls();
  expect(downloadsIn(calls)).toEqual([]);
  expect(buildsIn(calls)).toEqual([]);
});

test('changing go.sum runs the modules node again (once), then it is cached again', async () => {
  // A line for a module outside the build list: valid for go, but the bytes changed.
  appendFileSync(join(project, 'go.sum'), 'example.com/unused v0.1.0/go.mod h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n');
  const r = await buildDeps();
  expect(modulesEvents(r.events)).toEqual([['done', false]]);
  expect(downloadsIn(await go.log.newCalls())).toHaveLength(1);
  expect(run(join(project, 'bin', HOST_FOLDER, 'deps'))).toBe('hello, deps');

  const again = await buildDeps();
  expect(modulesEvents(again.events)).toEqual([['done', true]]);
  expect(again.artifacts.map((a) => [a.name, a.cached])).toEqual([['deps', true]]);
  expect(downloadsIn(await go.log.newCalls())).toEqual([]);
});

test('a requirement the proxy does not have fails with the module and the proxy settings named', async () => {
  const gomod = join(project, 'go.mod');
  appendFileSync(gomod, '\nrequire example.com/missing v1.0.0\n');
  const err = await buildDeps().then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err?.name).toBe('BuildFailedError');
  expect(err?.message).toContain('1 of 1 builds failed:\n  ✖ downloading the modules of example.com/deps failed:\n');
  expect(err?.message).toContain('example.com/missing@v1.0.0');
  expect(err?.message).toContain('module proxy settings (GOPROXY, GOPRIVATE, GONOSUMDB)');
  expect(buildsIn(await go.log.newCalls())).toEqual([]); // nothing compiled against a broken build list
});
