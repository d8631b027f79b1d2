import { promises as fsp, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { CreateNodesContextV2 } from '@nx/devkit';
import { createNodesV2 } from './create-nodes';

// Go file heads are read (by the core's scan) only to compute facts: count those reads.
const heads = { count: 0 };
const readFile = fsp.readFile.bind(fsp);
beforeAll(() => {
  jest.spyOn(fsp, 'readFile').mockImplementation(((path: Parameters<typeof fsp.readFile>[0], options?: Parameters<typeof fsp.readFile>[1]) => {
    if (String(path).endsWith('.go')) heads.count++;
    return readFile(path, options);
  }) as typeof fsp.readFile);
});
afterAll(() => jest.restoreAllMocks());

let ws: string;
const write = (rel: string, text: string) => {
  const f = join(ws, rel);
  mkdirSync(dirname(f), { recursive: true });
  writeFileSync(f, text);
  utimesSync(f, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
};
const context = (): CreateNodesContextV2 => ({ workspaceRoot: ws, nxJsonConfiguration: {} });

beforeEach(() => {
  ws = mkdtempSync(join(tmpdir(), 'nx-fnbuild-nodes-'));
  process.env.NX_WORKSPACE_DATA_DIRECTORY = join(ws, '.nx', 'workspace-data');
  process.env.GOWORK = 'off';
  write('apps/hello/go.mod', 'module example.com/demo\n\ngo 1.22\n');
  write('apps/hello/cmd/server/main.go', 'package main\n');
  write('apps/hello/cmd/client/main.go', 'package main\n');
  write('apps/hello/internal/greeting/greeting.go', 'package greeting\n');
  write('libs/util/go.mod', 'module example.com/util\n');
  write('libs/util/util.go', 'package util\n');
  write('libs/util/testdata/fixture/go.mod', 'module fixture\n');
});
afterEach(() => {
  rmSync(ws, { recursive: true, force: true });
  delete process.env.NX_WORKSPACE_DATA_DIRECTORY;
  delete process.env.GOWORK;
});

const infer = (files: string[], options = {}) => createNodesV2[1](files, options, context());

test('the glob and the projects of each go.mod', async () => {
  expect(createNodesV2[0]).toBe('**/{go.mod,func.yaml}');
  const results = await infer(['apps/hello/go.mod', 'libs/util/go.mod', 'libs/util/testdata/fixture/go.mod']);
  const projects = Object.fromEntries(
    results.map(([file, r]) => [
      file,
      Object.fromEntries(Object.entries(r.projects ?? {}).map(([root, p]) => [root, [p.name, p.projectType, Object.keys(p.targets ?? {})]])),
    ]),
  );
  expect(projects).toEqual({
    'apps/hello/go.mod': {
      'apps/hello': ['hello', 'library', ['test']],
      'apps/hello/cmd/client': ['client', 'application', ['build-binaries', 'build-image', 'push', 'test']],
      'apps/hello/cmd/server': ['server', 'application', ['build-binaries', 'build-image', 'push', 'test']],
    },
    'libs/util/go.mod': { 'libs/util': ['util', 'library', ['test']] },
  });
});

test('memoized by fingerprint: a second run reads no Go file head; an edit recomputes that module only', async () => {
  await infer(['apps/hello/go.mod', 'libs/util/go.mod']);
  const memo = JSON.parse(readFileSync(join(ws, '.nx/workspace-data/nx-fnbuild/modules.json'), 'utf8'));
  expect(Object.keys(memo.data.modules).sort()).toEqual(['apps/hello/go.mod', 'libs/util/go.mod']);
  heads.count = 0;
  const again = await infer(['apps/hello/go.mod', 'libs/util/go.mod']);
  expect(heads.count).toBe(0);
  expect(again.map(([f]) => f)).toEqual(['apps/hello/go.mod', 'libs/util/go.mod']);

  write('apps/hello/cmd/client/main.go', 'package client\n');
  const edited = await infer(['apps/hello/go.mod', 'libs/util/go.mod']);
  expect(heads.count).toBe(2); // the two command folders of apps/hello; libs/util came from the memo
  // Now one main package: the module is the application.
  expect(Object.keys(edited[0][1].projects ?? {})).toEqual(['apps/hello']);
  expect(edited[0][1].projects?.['apps/hello'].projectType).toBe('application');
});

test('options shape the targets; bad options fail with the option named', async () => {
  const [[, r]] = await infer(['libs/util/go.mod'], { testTargetName: 'go-test' });
  expect(Object.keys(r.projects?.['libs/util'].targets ?? {})).toEqual(['go-test']);
  await expect(infer(['libs/util/go.mod'], { platforms: 'linux' })).rejects.toThrow('option "platforms" (got "linux")');
});

test('a go.mod that cannot be read is reported for that file; the others still come through', async () => {
  await expect(infer(['apps/hello/go.mod', 'gone/go.mod'])).rejects.toMatchObject({
    name: 'AggregateCreateNodesError',
    errors: [['gone/go.mod', expect.objectContaining({ message: expect.stringContaining('ENOENT') })]],
    partialResults: [['apps/hello/go.mod', expect.anything()]],
  });
});

test("a func.yaml folder without a main package is an application (a module, or a package inside one); its image follows func.yaml's name", async () => {
  const summary = (results: Awaited<ReturnType<typeof infer>>) =>
    Object.fromEntries(
      results.flatMap(([, r]) => Object.entries(r.projects ?? {}).map(([root, p]) => [root, [p.name, p.projectType, Object.keys(p.targets ?? {})]])),
    );
  write('fns/greeter/go.mod', 'module example.com/greeter\n');
  write('fns/greeter/hello.go', 'package greeter\n');
  const files = ['apps/hello/go.mod', 'fns/greeter/go.mod', 'libs/util/go.mod'];
  // Before func.yaml: a library, like libs/util (memoized).
  expect(summary(await infer(files))['fns/greeter']).toEqual(['greeter', 'library', ['test']]);

  write('fns/greeter/func.yaml', 'schema_version: 20180708\nname: team/hello\nversion: 0.0.1\n');
  write('apps/hello/internal/greet/func.yaml', 'schema_version: 20180708\nname: [not, a, name]\n');
  write('apps/hello/testdata/fn/func.yaml', 'schema_version: 20180708\nname: fixture\n');
  write('elsewhere/func.yaml', 'schema_version: 20180708\nname: nomodule\n');
  const app = ['build-binaries', 'build-image', 'push', 'test'];
  const results = await infer([
    ...files,
    'fns/greeter/func.yaml',
    'apps/hello/internal/greet/func.yaml',
    'apps/hello/testdata/fn/func.yaml',
    'elsewhere/func.yaml',
  ]);
  expect(summary(results)).toEqual({
    'apps/hello': ['hello', 'library', ['test']],
    'apps/hello/cmd/client': ['client', 'application', app],
    'apps/hello/cmd/server': ['server', 'application', app],
    'apps/hello/internal/greet': ['greet', 'application', app],
    'fns/greeter': ['greeter', 'application', app],
    'libs/util': ['util', 'library', ['test']],
  });
  expect(results.map(([f]) => f)).toEqual(files);
  const projects = Object.assign({}, ...results.map(([, r]) => r.projects));
  const fn = projects['fns/greeter'];
  expect(fn.metadata.description).toBe('Go function example.com/greeter');
  expect(fn.targets['build-image'].outputs).toEqual(['{workspaceRoot}/dist/images/team/hello', '{workspaceRoot}/dist/images/team/hello.spdx.json']);
  expect(fn.targets['build-binaries'].inputs).toContainEqual({ env: 'FUNC_NAME' });
  expect(fn.targets['build-image'].inputs).toContainEqual({ env: 'FUNC_NAME' });
  // A malformed func.yaml still makes a function; its image falls back to the project name (the build reports the error).
  const greet = projects['apps/hello/internal/greet'];
  expect(greet.metadata.description).toBe('Go function example.com/demo/internal/greet');
  expect(greet.targets['build-image'].outputs).toEqual(['{workspaceRoot}/dist/images/greet', '{workspaceRoot}/dist/images/greet.spdx.json']);
  // The module's test leaves the function to its own project.
  expect(projects['apps/hello'].targets.test.options.command).toBe('go test ./internal/greeting/...');
});
