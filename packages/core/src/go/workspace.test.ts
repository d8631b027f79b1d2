/** The Go facts of a workspace: real folders in a temp dir, the real go command where the core runs one. */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runOk } from '../process/run';
import { BUILD_ENV_VARS as TOOLCHAIN_BUILD_ENV_VARS } from './toolchain';
import {
  BUILD_ENV,
  BUILD_ENV_VARS,
  findGoWork,
  goBinaryStamp,
  goImportGraph,
  goImportGraphs,
  isIgnoredGoMod,
  LIST_ENV,
  listingRoots,
  localGoVersion,
  nearestFolder,
  readGoWork,
  relDir,
  scanGoModule,
  type ListingReaders,
} from './workspace';

jest.setTimeout(60_000);

let ws: string;
/** Writes a file; `old` back-dates it, so its stamp can be trusted (see RACY_MS). */
const write = (rel: string, text: string, old = true) => {
  const f = join(ws, rel);
  mkdirSync(dirname(f), { recursive: true });
  writeFileSync(f, text);
  if (old) utimesSync(f, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
};
const env = (): Record<string, string | undefined> => {
  const e: Record<string, string | undefined> = { ...process.env, GOTOOLCHAIN: 'local', GOPROXY: 'off', GOFLAGS: '' };
  for (const k of ['GO', 'GOWORK', 'GOOS', 'GOARCH']) delete e[k];
  return e;
};

beforeEach(() => {
  ws = realpathSync(mkdtempSync(join(tmpdir(), 'fnbuild-workspace-')));
});
afterEach(() => rmSync(ws, { recursive: true, force: true }));

test('a module: main packages at the root and under cmd/ by their package clause; tests, ignore-tagged scripts, testdata and nested modules do not count', async () => {
  write('apps/hello/go.mod', 'module example.com/hello // the demo\n\ngo 1.22\n');
  write('apps/hello/doc.go', 'package hello\n');
  write('apps/hello/gen.go', '//go:build ignore\n\npackage main\n');
  write('apps/hello/cmd/server/main.go', '// Command server\npackage main\n');
  write('apps/hello/cmd/client/main_test.go', 'package main\n');
  write('apps/hello/cmd/client/client.go', 'package main\n');
  write('apps/hello/cmd/tools/lib/lib.go', 'package lib\n');
  write('apps/hello/cmd/testdata/x/main.go', 'package main\n');
  write('apps/hello/cmd/nested/go.mod', 'module example.com/nested\n');
  write('apps/hello/cmd/nested/main.go', 'package main\n');
  write('apps/hello/internal/greeting/greeting.go', 'package greeting\n');
  write('apps/hello/bin/linux_amd64/.keep', '');
  const scan = await scanGoModule(ws, 'apps/hello/go.mod', { env: env() });
  expect(scan.stable).toBe(true);
  expect(scan.commands.map((c) => relDir(ws, c.dir))).toEqual(['apps/hello/cmd/client', 'apps/hello/cmd/server', 'apps/hello/cmd/tools/lib']);
  expect(await scan.facts()).toEqual({
    dir: 'apps/hello',
    path: 'example.com/hello',
    rootIsMain: false,
    cmdMains: ['apps/hello/cmd/client', 'apps/hello/cmd/server'],
    rootHasGo: true,
    subDirs: ['internal'],
    replaces: [],
  });
});

test('the inputs change with what the facts depend on, and only then; a file written just now is not stable', async () => {
  write('go.mod', 'module example.com/x\n');
  write('main.go', 'package main\n');
  const inputs = async () => JSON.stringify((await scanGoModule(ws, 'go.mod', { env: env() })).inputs);
  const first = await inputs();
  write('README.md', 'docs'); // not Go
  expect(await inputs()).toBe(first);
  write('internal/x/x.go', 'package x\n'); // a new package folder
  const withInternal = await inputs();
  expect(withInternal).not.toBe(first);
  write('internal/x/x.go', 'package x // edited\n'); // outside cmd/: no fact can change
  expect(await inputs()).toBe(withInternal);
  write('main.go', 'package lib\n');
  expect(await inputs()).not.toBe(withInternal);
  write('main.go', 'package main\n', false);
  expect((await scanGoModule(ws, 'go.mod', { env: env() })).stable).toBe(false);
});

test('go.work and replace directives, read by the go command: the module joins the go.work only when it is used; local replacements inside the workspace come along', async () => {
  write('go.work', 'go 1.22\n\nuse ./svc\n\nreplace example.com/shared => ./libs/shared\n');
  write('svc/go.mod', 'module example.com/svc\n\ngo 1.22\n\nreplace example.com/tools => ../tools\n\nreplace example.com/far => ../../far\n');
  write('svc/main.go', 'package main\n');
  write('libs/shared/go.mod', 'module example.com/shared\n\ngo 1.22\n');
  write('other/go.mod', 'module example.com/other\n\ngo 1.22\n');
  const svc = await (await scanGoModule(ws, 'svc/go.mod', { env: env() })).facts();
  expect(svc).toMatchObject({ workFile: 'go.work', replaces: ['libs/shared', 'tools'], rootIsMain: true });
  const other = await (await scanGoModule(ws, 'other/go.mod', { env: env() })).facts();
  expect(other.workFile).toBeUndefined();
  expect(other.replaces).toEqual([]);
  const off = await (await scanGoModule(ws, 'svc/go.mod', { env: { ...env(), GOWORK: 'off' } })).facts();
  expect(off).toMatchObject({ replaces: ['tools'] });
  expect(off.workFile).toBeUndefined();
});

test('findGoWork: $GOWORK off or a file, else the nearest go.work up to the workspace root; ignored go.mod folders; nearest folders', async () => {
  write('a/go.work', 'go 1.22\n');
  mkdirSync(join(ws, 'a/b/c'), { recursive: true });
  expect(await findGoWork(ws, join(ws, 'a/b/c'), {})).toBe(join(ws, 'a/go.work'));
  expect(await findGoWork(ws, join(ws, 'a/b/c'), { GOWORK: 'off' })).toBeUndefined();
  expect(await findGoWork(ws, join(ws, 'a/b/c'), { GOWORK: 'x/go.work' })).toBe(join(ws, 'x/go.work'));
  expect(await findGoWork(ws, ws, {})).toBeUndefined();
  expect(['go.mod', 'a/go.mod', 'a/testdata/go.mod', 'vendor/x/go.mod', 'a/_old/go.mod', '.hidden/go.mod'].map(isIgnoredGoMod)).toEqual([
    false,
    false,
    true,
    true,
    true,
    true,
  ]);
  const dirs = new Set(['.', 'apps/hello']);
  expect([nearestFolder(dirs, 'apps/hello/cmd/x'), nearestFolder(dirs, 'apps/other'), nearestFolder(new Set(['libs']), 'apps')]).toEqual([
    'apps/hello',
    '.',
    undefined,
  ]);
});

test('listing roots: a go.work with the modules it uses; a module under it that it does not use lists with GOWORK=off; a module outside on its own', async () => {
  write('platform/go.work', 'go 1.22\n\nuse (\n\t./a\n\t./b\n)\n');
  for (const m of ['platform/a', 'platform/b', 'platform/c', 'tools']) write(`${m}/go.mod`, `module example.com/${m.split('/').pop()}\n\ngo 1.22\n`);
  const read: ListingReaders = {
    work: async (file) => {
      const w = await readGoWork(file, env());
      return { use: w.use.map((d) => relDir(ws, d)), replace: w.replace.map((d) => relDir(ws, d)) };
    },
    replaces: async () => [],
  };
  const roots = await listingRoots(ws, ['platform/a', 'platform/b', 'platform/c', 'tools'], { env: env(), read });
  expect(roots.map((r) => [r.id, relDir(ws, r.cwd), r.members, r.env])).toEqual([
    ['work:platform/go.work', 'platform', ['platform/a', 'platform/b'], {}],
    ['module:platform/c', 'platform/c', ['platform/c'], { GOWORK: 'off' }],
    ['module:tools', 'tools', ['tools'], {}],
  ]);
});

test('goImportGraphs: each listing as goImportGraph lists it alone, whatever the concurrency', async () => {
  write('a/go.mod', 'module example.com/a\n\ngo 1.22\n');
  write('a/main.go', 'package main\n\nimport "example.com/a/lib"\n\nfunc main() { lib.X() }\n');
  write('a/lib/lib.go', 'package lib\n\nfunc X() {}\n');
  write('b/go.mod', 'module example.com/b\n\ngo 1.22\n');
  write('b/b.go', 'package b\n\nimport "example.com/b/inner"\n\nvar _ = inner.Y\n');
  write('b/inner/inner.go', 'package inner\n\nconst Y = 1\n');
  const reqs = ['a', 'b'].map((m) => ({ cwd: join(ws, m), patterns: ['./...'], env: env() }));
  const one = await goImportGraphs(reqs, { concurrency: 1 });
  expect(one.map((g) => g.files)).toEqual([
    [{ file: join(ws, 'a/main.go'), imports: [join(ws, 'a/lib')] }],
    [{ file: join(ws, 'b/b.go'), imports: [join(ws, 'b/inner')] }],
  ]);
  expect(await goImportGraphs(reqs, { concurrency: 2 })).toEqual(one);
  expect(await Promise.all(reqs.map(goImportGraph))).toEqual(one);
  expect(await goImportGraphs([], { concurrency: 2 })).toEqual([]);
});

test('the go binary by path and stat, and its version, without a go on PATH: none', async () => {
  const stamp = await goBinaryStamp(env());
  expect(stamp).toEqual([expect.stringMatching(/\/go$/), expect.any(Number), expect.any(Number)]);
  expect(await goBinaryStamp({ PATH: ws })).toBeNull();
  const version = (await runOk(stamp![0], ['version'], { cwd: ws, env: env() })).split(' ')[2]; // "go version go1.26.8 linux/amd64"
  expect(await localGoVersion(env())).toEqual(version.slice(2).split('.').slice(0, 2).map(Number));
  expect(await localGoVersion({ PATH: ws })).toBeUndefined();
});

test('one list of the environment that changes a build: the compile key, Nx inputs and go list memo keys read it', () => {
  expect(TOOLCHAIN_BUILD_ENV_VARS).toBe(BUILD_ENV_VARS);
  expect(BUILD_ENV).toEqual(['GOFLAGS', 'GOEXPERIMENT', 'GOFIPS140', 'GOTOOLCHAIN', 'GOWORK']);
  expect(BUILD_ENV_VARS).toEqual(['GOFLAGS', 'GOEXPERIMENT', 'GOFIPS140', 'GOROOT']);
  for (const name of BUILD_ENV) expect(LIST_ENV).toContain(name);
  expect(LIST_ENV).toEqual(expect.arrayContaining(['GOOS', 'GOARCH', 'CGO_ENABLED', 'GOPATH']));
});
