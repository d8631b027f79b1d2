import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { scanModule } from './modules';

let ws: string;
const write = (rel: string, text: string, old = true) => {
  const f = join(ws, rel);
  mkdirSync(dirname(f), { recursive: true });
  writeFileSync(f, text);
  if (old) utimesSync(f, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
};
const noWork = async () => ({ use: [], replace: [] });

beforeEach(() => {
  ws = mkdtempSync(join(tmpdir(), 'nx-fnbuild-modules-'));
});
afterEach(() => rmSync(ws, { recursive: true, force: true }));

test('main packages: the root and cmd/ folders whose package clause says main; tests, ignore-tagged scripts, testdata and nested modules do not count', async () => {
  write('apps/hello/go.mod', 'module example.com/hello // the demo\n\ngo 1.22\n');
  write('apps/hello/doc.go', 'package hello\n');
  write('apps/hello/gen.go', '//go:build ignore\n\npackage main\n');
  write('apps/hello/cmd/server/main.go', '// Command server\npackage main\n');
  write('apps/hello/cmd/server/project.json', '{"name":"hello-api"}');
  write('apps/hello/cmd/client/main_test.go', 'package main\n');
  write('apps/hello/cmd/client/client.go', 'package main\n');
  write('apps/hello/cmd/tools/lib/lib.go', 'package lib\n');
  write('apps/hello/cmd/testdata/x/main.go', 'package main\n');
  write('apps/hello/cmd/nested/go.mod', 'module example.com/nested\n');
  write('apps/hello/cmd/nested/main.go', 'package main\n');
  write('apps/hello/internal/greeting/greeting.go', 'package greeting\n');
  const scan = await scanModule(ws, 'apps/hello/go.mod', { env: {}, readWork: noWork });
  expect(scan.stable).toBe(true);
  expect(await scan.compute()).toEqual({
    dir: 'apps/hello',
    path: 'example.com/hello',
    rootIsMain: false,
    cmdMains: ['apps/hello/cmd/client', 'apps/hello/cmd/server'],
    rootHasGo: true,
    subDirs: ['internal'],
    projectJson: { 'apps/hello/cmd/server': 'hello-api' },
    functions: {},
    replaces: [],
  });
});

test('the fingerprint changes with what the facts depend on, and only then', async () => {
  write('go.mod', 'module example.com/x\n');
  write('main.go', 'package main\n');
  const fp = async () => (await scanModule(ws, 'go.mod', { env: {}, readWork: noWork })).fingerprint;
  const first = await fp();
  expect(await fp()).toBe(first);
  write('README.md', 'docs'); // not Go: no change
  write('internal/x/x.go', 'package x\n'); // a package outside cmd/ (its folder is new, though)
  const withInternal = await fp();
  expect(withInternal).not.toBe(first);
  write('internal/x/x.go', 'package x // edited\n'); // a package outside cmd/: facts cannot change
  expect(await fp()).toBe(withInternal);
  write('main.go', 'package lib\n');
  const edited = await fp();
  expect(edited).not.toBe(withInternal);
  write('project.json', '{"name":"x"}');
  expect(await fp()).not.toBe(edited);
  write('go.work', 'go 1.22\n\nuse .\n');
  const withWork = await fp();
  expect(await scanModule(ws, 'go.mod', { env: { GOWORK: 'off' }, readWork: noWork }).then((s) => s.fingerprint)).not.toBe(withWork);
});

test('a file written just now makes the scan unstable (its stamp could hide another edit in the same tick)', async () => {
  write('go.mod', 'module example.com/x\n');
  write('main.go', 'package main\n', false);
  expect((await scanModule(ws, 'go.mod', { env: {}, readWork: noWork })).stable).toBe(false);
});

test('go.work: the module joins it only when the go.work uses it; its local replacements come along', async () => {
  write('go.work', 'go 1.22\n');
  write('svc/go.mod', 'module example.com/svc\n');
  write('svc/main.go', 'package main\n');
  const readWork = async (file: string) => {
    expect(file).toBe(join(ws, 'go.work'));
    return { use: [join(ws, 'svc')], replace: [join(ws, 'libs/shared'), '/elsewhere/outside'] };
  };
  const facts = await (await scanModule(ws, 'svc/go.mod', { env: {}, readWork })).compute();
  expect(facts).toMatchObject({ workFile: 'go.work', replaces: ['libs/shared'], rootIsMain: true });
  const notUsed = await (await scanModule(ws, 'svc/go.mod', { env: {}, readWork: async () => ({ use: [], replace: [] }) })).compute();
  expect(notUsed.workFile).toBeUndefined();
});

test('functions: each func.yaml folder with the image name it gives (null when malformed), its project.json, and the folders down to it', async () => {
  write('go.mod', 'module example.com/fns\n');
  write('fns.go', 'package fns\n');
  write('lib/lib.go', 'package lib\n');
  write('functions/hello/func.yaml', 'schema_version: 20180708\nname: team/hello\nversion: 0.0.1\n');
  write('functions/hello/handler.go', 'package hello\n');
  write('functions/hello/project.json', '{"name":"hello-fn"}');
  write('functions/broken/func.yaml', 'schema_version: 20180708\nname: Not An Image\n');
  write('functions/shared.go', 'package functions\n');
  const funcYamls = ['functions/broken/func.yaml', 'functions/hello/func.yaml'];
  const facts = await (await scanModule(ws, 'go.mod', { env: {}, readWork: noWork, funcYamls })).compute();
  expect(facts).toMatchObject({
    rootIsMain: false,
    cmdMains: [],
    functions: { 'functions/broken': null, 'functions/hello': 'team/hello' },
    projectJson: { 'functions/hello': 'hello-fn' },
    folders: { '.': { hasGo: true, subDirs: ['functions', 'lib'] }, functions: { hasGo: true, subDirs: ['broken', 'hello'] } },
  });
  // The module's own func.yaml: no folders to list.
  write('svc/go.mod', 'module example.com/svc\n');
  write('svc/func.yaml', 'schema_version: 20180708\nname: svc\n');
  const root = await (await scanModule(ws, 'svc/go.mod', { env: {}, readWork: noWork, funcYamls: ['svc/func.yaml'] })).compute();
  expect(root).toMatchObject({ functions: { svc: 'svc' } });
  expect(root.folders).toBeUndefined();
});

test('the fingerprint follows func.yaml: adding one, and editing it, re-infer', async () => {
  write('go.mod', 'module example.com/x\n');
  write('x.go', 'package x\n');
  const fp = async (funcYamls?: string[]) => (await scanModule(ws, 'go.mod', { env: {}, readWork: noWork, funcYamls })).fingerprint;
  const plain = await fp();
  write('func.yaml', 'schema_version: 20180708\nname: x\n');
  const withFunc = await fp(['func.yaml']);
  expect(withFunc).not.toBe(plain);
  expect(await fp(['func.yaml'])).toBe(withFunc);
  write('func.yaml', 'schema_version: 20180708\nname: y\n');
  expect(await fp(['func.yaml'])).not.toBe(withFunc);
});
