/**
 * Fixture "root-main": the project folder is itself package main. Also the ldflags
 * templates, end to end: the value must reach the binary.
 */
import { join } from 'node:path';
import { goWrapper, removeDir, tempDir, type GoWrapper } from '../../../testkit';
import { build, buildsIn, copyFixture, elfHeader, HOST, HOST_FOLDER, run, testEnv } from './fixtures/helpers';

jest.setTimeout(300_000);

let tmp: string;
let project: string;
let go: GoWrapper;
let env: Record<string, string | undefined>;

const NAME = 'rootmain-tool';
const buildRoot = (extra: Record<string, unknown> = {}, extraEnv: Record<string, string> = {}) =>
  build({ workspaceRoot: tmp, projectRoot: project, options: { cacheDir: join(tmp, 'cache'), ...extra }, env: { ...env, ...extraEnv } });
const binary = () => join(project, 'bin', HOST_FOLDER, NAME);

beforeAll(() => {
  tmp = tempDir('rootmain');
  project = copyFixture('root-main', tmp, NAME);
  go = goWrapper(join(tmp, 'tools'));
  env = testEnv({ GO: go.command });
});
afterAll(() => removeDir(tmp));
// Each test reads only the go calls it made; each builds with options no other test uses, so none depends on another's cache entries.
beforeEach(() => go.log.reset());

test('the project root is the one target, named after the folder, built for the host by default', async () => {
  const r = await buildRoot();
  expect(r.artifacts.map((a) => [a.target, a.name, a.importPath, a.platform, a.path, a.cached])).toEqual([
    ['.', NAME, 'example.com/roottool', HOST, `${HOST_FOLDER}/${NAME}`, false],
  ]);
  expect(elfHeader(binary()).magic).toBe('7f454c46');
  expect(run(binary())).toBe('dev none');
  expect(buildsIn(await go.log.newCalls())).toEqual(['.']);
});

test('ldflags "-X main.version={version}" with the version option: the binary prints it', async () => {
  const r = await buildRoot({ ldflags: '-X main.version={version}', version: '9.9.9' });
  expect(r.artifacts[0].cached).toBe(false);
  expect(run(binary())).toBe('9.9.9 none');
  const [call] = (await go.log.newCalls()).filter((c) => c.argv[0] === 'build');
  expect(call?.argv).toContain('-ldflags=-X main.version=9.9.9');
});

test('same template, same version: cached; another version: rebuilt', async () => {
  expect((await buildRoot({ ldflags: '-X main.version={version}', version: '9.9.8' })).artifacts[0].cached).toBe(false);
  await go.log.reset();
  expect((await buildRoot({ ldflags: '-X main.version={version}', version: '9.9.8' })).artifacts[0].cached).toBe(true);
  expect(buildsIn(await go.log.newCalls())).toEqual([]);
  const r = await buildRoot({ ldflags: ['-X main.version={version}'], version: '9.9.10' });
  expect(r.artifacts[0].cached).toBe(false);
  expect(run(binary())).toBe('9.9.10 none');
});

test('{env.NAME} comes from the environment, and a changed value rebuilds', async () => {
  const opts = { ldflags: ['-s', '-w', '-X main.version={version}', '-X main.channel={env.CHANNEL}'], version: '1.0.0' };
  await buildRoot(opts, { CHANNEL: 'beta' });
  expect(run(binary())).toBe('1.0.0 beta');
  const r = await buildRoot(opts, { CHANNEL: 'stable' });
  expect(r.artifacts[0].cached).toBe(false);
  expect(run(binary())).toBe('1.0.0 stable');
});

test('an unset {env.NAME} fails the build before any go build, naming the variable', async () => {
  await expect(buildRoot({ ldflags: '-X main.channel={env.NOT_SET_ANYWHERE}' })).rejects.toThrow(
    'ldflags uses {env.NOT_SET_ANYWHERE} but NOT_SET_ANYWHERE is not set',
  );
  expect(buildsIn(await go.log.newCalls())).toEqual([]);
});
