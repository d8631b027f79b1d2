/**
 * The project plan is resolved once per process and reused while what it was read from
 * holds: a second plan of an unchanged project starts no go process and is the same
 * value; a change planning reads (a new main package, a commit its ldflags name, other
 * options) plans again.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../src/cache/store';
import { buildRunner } from '../src/graph/runner';
import type { BuildSettings } from '../src/binaries/options';
import { planProject, type ProjectPlan } from '../src/plan/plan';
import { cleanup, copyFixture, tempDir, testEnv } from './fixtures/helpers';
import { goWrapper } from '../../../testkit';

jest.setTimeout(300_000);

let tmp: string;
let project: string;
let go: ReturnType<typeof goWrapper>;
let env: Record<string, string | undefined>;

const gitEnv = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' };
const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd: project, env: gitEnv });

async function plan(settings: BuildSettings = {}): Promise<ProjectPlan> {
  const store = await Store.open(join(tmp, 'cache'));
  try {
    const runner = buildRunner(store, { parallelism: 2, report: () => {} });
    return await planProject({ workspaceRoot: tmp, projectRoot: project, env }, { settings }, { store, runner });
  } finally {
    await store.close();
  }
}

beforeAll(() => {
  tmp = tempDir('plan');
  project = copyFixture('multi', tmp);
  go = goWrapper(join(tmp, 'tools'));
  env = testEnv({ GO: go.command, GOFLAGS: '-mod=mod' });
  git('init', '-q');
  git('add', '.');
  git('commit', '-qm', 'first');
});
afterAll(() => cleanup(tmp));

test('planned once: the second plan of an unchanged project is the same value and starts no go process', async () => {
  const first = await plan();
  expect(first.targets.map((t) => t.pattern)).toEqual(['./cmd/client', './cmd/server']);
  expect((await go.log.newCalls()).length).toBeGreaterThan(0); // go env, go list -m, dist list, go list -find
  const second = await plan();
  expect(second).toBe(first);
  expect(await go.log.newCalls()).toEqual([]);
});

test('other options are another plan', async () => {
  const host = await plan();
  const arm = await plan({ platforms: ['linux/arm64'] });
  expect(arm).not.toBe(host);
  expect(arm.platforms).toEqual([{ os: 'linux', arch: 'arm64' }]);
  expect(await plan({ platforms: ['linux/arm64'] })).toBe(arm);
});

test('a new main package under cmd/ is planned again, and found', async () => {
  const before = await plan();
  mkdirSync(join(project, 'cmd', 'tool'));
  writeFileSync(join(project, 'cmd', 'tool', 'main.go'), 'package main\n\nfunc main() {}\n');
  const after = await plan();
  expect(after).not.toBe(before);
  expect(after.targets.map((t) => t.pattern)).toEqual(['./cmd/client', './cmd/server', './cmd/tool']);
  expect(await plan()).toBe(after);
});

test('a commit is planned again when the ldflags name it, and not otherwise', async () => {
  const settings: BuildSettings = { ldflags: '-X main.commit={shortCommit}' };
  const first = await plan(settings);
  const head = () => execFileSync('git', ['rev-parse', '--short=7', 'HEAD'], { cwd: project, encoding: 'utf8' }).trim();
  expect(first.settings.ldflags).toBe(`-X main.commit=${head()}`);
  const plain = await plan();
  git('commit', '-q', '--allow-empty', '-m', 'second');
  const again = await plan(settings);
  expect(again).not.toBe(first);
  expect(again.settings.ldflags).toBe(`-X main.commit=${head()}`);
  // Without a git placeholder the commit changes nothing planning read.
  expect(await plan()).toBe(plain);
});

test("a git source's plan reads its facts from the checkout: {shortCommit} in the tags is the source's commit, not the project's", async () => {
  // The function lives in another repository; the project folder (in its own repository) only names it.
  const repo = copyFixture('function', tmp, 'fn-repo');
  const inRepo = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd: repo, env: gitEnv, encoding: 'utf8' }).trim();
  inRepo('init', '-q');
  inRepo('add', '.');
  inRepo('commit', '-qm', 'the function');
  const fnCommit = inRepo('rev-parse', 'HEAD');
  const projectCommit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: project, encoding: 'utf8' }).trim();
  const store = await Store.open(join(tmp, 'cache'));
  try {
    const runner = buildRunner(store, { parallelism: 2, report: () => {} });
    const settings: BuildSettings = { functionName: 'Hello', source: { git: `file://${repo}`, revision: fnCommit } };
    const p = await planProject(
      { workspaceRoot: tmp, projectRoot: project, env },
      { settings, image: { ...settings, tags: ['{shortCommit}'] } },
      { store, runner },
    );
    expect(p.source?.commit).toBe(fnCommit);
    expect(p.sourceRoot).not.toBe(project);
    expect(p.image?.tags).toEqual([fnCommit.slice(0, 7)]);
    expect(fnCommit).not.toBe(projectCommit);
  } finally {
    await store.close();
  }
});
