import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_ENV as CORE_BUILD_ENV } from '@nx-fnbuild/core/workspace';
import type { ModuleFacts } from './modules';
import { normalizeOptions } from './options';
import type { PlannedProject } from './projects';
import { buildListInputs, goInputs, goTargets, GIT_RUNTIME, testPatterns } from './targets';

const facts = (over: Partial<ModuleFacts>): ModuleFacts => ({
  dir: '.',
  path: 'example.com/x',
  rootIsMain: false,
  cmdMains: [],
  rootHasGo: false,
  subDirs: [],
  projectJson: {},
  functions: {},
  replaces: [],
  ...over,
});
const project = (root: string, name: string, module: ModuleFacts, projectType: PlannedProject['projectType'] = 'application'): PlannedProject => ({
  root,
  name,
  namedByProjectJson: false,
  projectType,
  goMod: `${module.dir}/go.mod`,
  module,
});
const ctx = { depsInput: '^default', exec: 'npx' };

const hello = facts({ dir: 'apps/hello', path: 'example.com/demo', cmdMains: ['apps/hello/cmd/client', 'apps/hello/cmd/server'], subDirs: ['internal'] });
const api = facts({
  dir: 'platform/services/api',
  path: 'example.com/api',
  rootIsMain: true,
  rootHasGo: true,
  workFile: 'platform/go.work',
  replaces: ['platform/libs/shared'],
});

const BUILD_ENV = [{ env: 'GOFLAGS' }, { env: 'GOEXPERIMENT' }, { env: 'GOFIPS140' }, { env: 'GOTOOLCHAIN' }, { env: 'GOWORK' }];

test('a command of a module: its sources, its dependencies, the module go.mod/go.sum, the toolchain, the build env', () => {
  expect(goInputs(project('apps/hello/cmd/server', 'server', hello), '^default', undefined, false)).toEqual([
    '{projectRoot}/**/*',
    '!{projectRoot}/bin/**/*',
    '!{projectRoot}/**/*_test.go',
    '^default',
    '{workspaceRoot}/apps/hello/go.mod',
    '{workspaceRoot}/apps/hello/go.sum',
    { runtime: 'go version' },
    ...BUILD_ENV,
  ]);
});

test('a module of a go.work: the go.work, its sum and every go.mod/go.sum it joins (they all take part in version selection)', () => {
  expect(buildListInputs(project('platform/services/api', 'api', api))).toEqual([
    '{workspaceRoot}/platform/go.work',
    '{workspaceRoot}/platform/go.work.sum',
    '{workspaceRoot}/platform/**/go.mod',
    '{workspaceRoot}/platform/**/go.sum',
  ]);
  // A local replacement outside the go.work's folder is listed on its own; the module's own go.mod is a project file.
  const replaced = facts({ dir: 'svc', rootIsMain: true, replaces: ['libs/shared'] });
  expect(buildListInputs(project('svc', 'svc', replaced))).toEqual(['{workspaceRoot}/libs/shared/go.mod']);
  expect(buildListInputs(project('.', 'x', facts({ rootIsMain: true, workFile: 'go.work' })))).toEqual([
    '{workspaceRoot}/go.work',
    '{workspaceRoot}/go.work.sum',
    '{workspaceRoot}/**/go.mod',
    '{workspaceRoot}/**/go.sum',
  ]);
});

test('images record the commit and SOURCE_DATE_EPOCH; binaries do only when their ldflags use git or env templates', () => {
  const p = project('apps/hello/cmd/server', 'server', hello);
  const tail = (inputs: unknown[]) => inputs.slice(inputs.findIndex((i) => JSON.stringify(i) === '{"runtime":"go version"}'));
  expect(tail(goInputs(p, '^default', undefined, true))).toEqual([
    { runtime: 'go version' },
    ...BUILD_ENV,
    { env: 'SOURCE_DATE_EPOCH' },
    { runtime: GIT_RUNTIME },
  ]);
  expect(tail(goInputs(p, '^default', '-s -w', false))).toEqual([{ runtime: 'go version' }, ...BUILD_ENV]);
  expect(tail(goInputs(p, '^default', '-X main.version={version} -X main.key={env.KEY}', false))).toEqual([
    { runtime: 'go version' },
    ...BUILD_ENV,
    { env: 'KEY' },
    { runtime: GIT_RUNTIME },
  ]);
  expect(tail(goInputs(p, '^default', '-X main.date={date}', false))).toEqual([
    { runtime: 'go version' },
    ...BUILD_ENV,
    { env: 'SOURCE_DATE_EPOCH' },
    { runtime: GIT_RUNTIME },
  ]);
});

test('an application: build-binaries, build-image, push (not cached, after build-image) and test, each described', () => {
  const t = goTargets(
    project('apps/hello/cmd/server', 'server', hello),
    normalizeOptions({ platforms: ['linux/amd64', 'linux/arm64'], registry: 'ghcr.io/acme', baseImage: 'alpine:3' }),
    ctx,
  );
  expect(Object.keys(t)).toEqual(['build-binaries', 'build-image', 'push', 'test']);
  expect(t['build-binaries']).toMatchObject({
    executor: 'nx-fnbuild:build-binaries',
    cache: true,
    outputs: ['{projectRoot}/bin'],
    options: { platforms: ['linux/amd64', 'linux/arm64'] },
  });
  // FUNC_NAME turns any application into a function build.
  expect(t['build-binaries'].inputs?.at(-1)).toEqual({ env: 'FUNC_NAME' });
  expect(t['build-image'].inputs?.at(-1)).toEqual({ env: 'FUNC_NAME' });
  expect(t.test.inputs).not.toContainEqual({ env: 'FUNC_NAME' });
  expect(t['build-image']).toMatchObject({
    executor: 'nx-fnbuild:build-image',
    cache: true,
    outputs: ['{workspaceRoot}/dist/images/server', '{workspaceRoot}/dist/images/server.spdx.json'],
    options: { platforms: ['linux/amd64', 'linux/arm64'], baseImage: 'alpine:3' },
  });
  expect(t.push).toEqual(
    expect.objectContaining({ executor: 'nx-fnbuild:push', cache: false, dependsOn: ['build-image'], options: { repository: 'ghcr.io/acme/server' } }),
  );
  expect(t.push.inputs).toBeUndefined();
  expect(t.test).toMatchObject({ executor: 'nx:run-commands', cache: true, options: { command: 'go test ./...', cwd: '{projectRoot}' } });
  for (const [name, target] of Object.entries(t)) {
    expect([name, (target.metadata?.description ?? '').length > 20, target.metadata?.technologies]).toEqual([name, true, ['go']]);
    expect([name, typeof target.metadata?.help?.command]).toEqual([name, 'string']);
  }
  expect(t['build-binaries'].metadata?.help?.command).toBe('npx nx run server:build-binaries --help');
});

test('renamed targets: push depends on the renamed image target and names it as its build target', () => {
  const t = goTargets(
    project('svc', 'svc', facts({ dir: 'svc', rootIsMain: true })),
    normalizeOptions({ buildImageTargetName: 'image', pushTargetName: 'publish', testTargetName: 'go-test' }),
    ctx,
  );
  expect(Object.keys(t)).toEqual(['build-binaries', 'image', 'publish', 'go-test']);
  expect(t.publish).toMatchObject({ dependsOn: ['image'], options: { buildTarget: 'image' } });
});

test('a library has only test; a module whose commands are projects tests only its own packages', () => {
  expect(Object.keys(goTargets(project('apps/hello', 'hello', hello, 'library'), normalizeOptions({}), ctx))).toEqual(['test']);
  expect(testPatterns(project('apps/hello', 'hello', hello, 'library'))).toEqual(['./internal/...']);
  expect(testPatterns(project('apps/hello', 'hello', { ...hello, rootHasGo: true }, 'library'))).toEqual(['.', './internal/...']);
  expect(testPatterns(project('platform/services/api', 'api', api))).toEqual(['./...']);
  const test = goTargets(project('apps/hello', 'hello', hello, 'library'), normalizeOptions({}), ctx).test;
  expect(test.inputs).not.toContain('!{projectRoot}/**/*_test.go');
  expect(test.inputs).toEqual(expect.arrayContaining([{ env: 'CGO_ENABLED' }, { env: 'GOOS' }, { env: 'GOARCH' }]));
});

test("a function: the image follows func.yaml's name (slashes kept), else the project name; described as a function", () => {
  const fns = facts({ dir: 'fns', functions: { 'fns/functions/hello': 'team/hello', 'fns/functions/broken': null } });
  const t = goTargets(project('fns/functions/hello', 'hello', fns), normalizeOptions({ registry: 'ghcr.io/acme' }), ctx);
  expect(Object.keys(t)).toEqual(['build-binaries', 'build-image', 'push', 'test']);
  expect(t['build-image'].outputs).toEqual(['{workspaceRoot}/dist/images/team/hello', '{workspaceRoot}/dist/images/team/hello.spdx.json']);
  expect(t['build-image'].metadata?.description).toBe(
    'Build the OCI image team/hello (linux/amd64) of the Go function fns/functions/hello (served by a generated main package) without a container daemon into dist/images/team/hello, with an SPDX SBOM beside it',
  );
  expect(t['build-binaries'].metadata?.description).toMatch(/^Cross-compile the Go function fns\/functions\/hello /);
  expect(t.push.options).toEqual({ repository: 'ghcr.io/acme/team/hello' });
  expect(t['build-image'].inputs).toEqual(expect.arrayContaining(['{workspaceRoot}/fns/go.mod', { env: 'FUNC_NAME' }]));
  const broken = goTargets(project('fns/functions/broken', 'broken', fns), normalizeOptions({}), ctx);
  expect(broken['build-image'].outputs).toEqual(['{workspaceRoot}/dist/images/broken', '{workspaceRoot}/dist/images/broken.spdx.json']);
});

test("a module's go test leaves out its function folders (projects of their own), and its commands when they are projects", () => {
  const fns = facts({
    dir: 'fns',
    rootHasGo: true,
    subDirs: ['functions', 'lib'],
    cmdMains: ['fns/cmd/a', 'fns/cmd/b'],
    functions: { 'fns/functions/hello': 'hello' },
    folders: { fns: { hasGo: true, subDirs: ['cmd', 'functions', 'lib'] }, 'fns/functions': { hasGo: false, subDirs: ['hello', 'other'] } },
  });
  expect(testPatterns(project('fns', 'fns', fns, 'library'))).toEqual(['.', './functions/other/...', './lib/...']);
  // One command: the module builds it, so its test covers cmd/ too.
  expect(testPatterns(project('fns', 'fns', { ...fns, cmdMains: ['fns/cmd/a'] }))).toEqual(['.', './cmd/...', './functions/other/...', './lib/...']);
  expect(testPatterns(project('fns/functions/hello', 'hello', fns))).toEqual(['./...']);
  // The module folder is the function: its test is the module's.
  expect(testPatterns(project('.', 'x', facts({ functions: { '.': 'x' } })))).toEqual(['./...']);
});

test('the env inputs are the core\'s one list; this repository\'s own "go" named input (nx.json) lists the same, and SOURCE_DATE_EPOCH', () => {
  expect(BUILD_ENV).toEqual(CORE_BUILD_ENV.map((env) => ({ env })));
  const nxJson = JSON.parse(readFileSync(join(__dirname, '../../../../nx.json'), 'utf8')) as { namedInputs: Record<string, unknown[]> };
  const envs = nxJson.namedInputs.go.filter((i): i is { env: string } => typeof i === 'object' && i !== null && 'env' in i).map((i) => i.env);
  expect(envs).toEqual([...CORE_BUILD_ENV, 'SOURCE_DATE_EPOCH']);
});
