import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Store } from '../cache/store';
import { sourceInfo, type SourceInfo } from './source-info';

let base: string;
let repo: string;
let env: Record<string, string | undefined>;

beforeEach(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'fnb-srcinfo-')));
  repo = join(base, 'repo');
  mkdirSync(join(repo, 'services', 'api'), { recursive: true });
  // Git must not find a repository above the temp folder, nor read the user's config.
  env = { ...process.env, GIT_CEILING_DIRECTORIES: dirname(base), GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', HOME: base };
  delete env.SOURCE_DATE_EPOCH;
  delete env.GIT_DIR;
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

function git(args: string[], date = '2024-03-04T05:06:07Z'): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'init.defaultBranch=main', ...args], {
    cwd: repo,
    env: { ...env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
    encoding: 'utf8',
  }).trim();
}

function commit(message: string, date?: string): string {
  writeFileSync(join(repo, 'services', 'api', 'main.go'), `package main // ${message}\n`);
  git(['add', '-A']);
  git(['commit', '-q', '-m', message], date);
  return git(['rev-parse', 'HEAD']);
}

/** Each mode is how build-binaries may call it: without a store (always ask git) or with one (memoized by the refs). */
const modes: [string, () => Promise<Store | undefined>][] = [
  ['without a store', async () => undefined],
  ['with a store', () => Store.open(join(base, 'cache'))],
];

async function infoFor(
  openStore: () => Promise<Store | undefined>,
  dir: string,
  extraEnv: Record<string, string> = {},
  explicit?: string,
): Promise<SourceInfo> {
  const store = await openStore();
  try {
    return await sourceInfo(dir, { ...env, ...extraEnv }, explicit, store)();
  } finally {
    await store?.close();
  }
}

describe.each(modes)('sourceInfo %s', (_mode, openStore) => {
  test('a tagged commit: version from the tag without "v", full and short commit, commit time in RFC 3339 UTC', async () => {
    git(['init', '-q']);
    const sha = commit('first');
    git(['tag', 'v1.2.3']);
    expect(await infoFor(openStore, repo)).toEqual({
      version: '1.2.3',
      commit: sha,
      shortCommit: sha.slice(0, 7),
      date: '2024-03-04T05:06:07Z',
      epoch: 1709528767,
    });
  });

  test('from a project folder inside the repository, and an annotated tag', async () => {
    git(['init', '-q']);
    const sha = commit('first');
    git(['tag', '-a', 'v2.0.0', '-m', 'release']);
    expect(await infoFor(openStore, join(repo, 'services', 'api'))).toMatchObject({ version: '2.0.0', commit: sha });
  });

  test("commits after the tag: git describe form, and the newest commit's time", async () => {
    git(['init', '-q']);
    commit('first');
    git(['tag', 'v1.2.3']);
    const sha = commit('second', '2024-05-06T07:08:09+02:00');
    expect(await infoFor(openStore, repo)).toEqual({
      version: `1.2.3-1-g${sha.slice(0, 7)}`,
      commit: sha,
      shortCommit: sha.slice(0, 7),
      date: '2024-05-06T05:08:09Z',
      epoch: Date.UTC(2024, 4, 6, 5, 8, 9) / 1000,
    });
  });

  test('SOURCE_DATE_EPOCH overrides the commit time; a non-numeric one is ignored', async () => {
    git(['init', '-q']);
    commit('first');
    expect(await infoFor(openStore, repo, { SOURCE_DATE_EPOCH: '1700000000' })).toMatchObject({ date: '2023-11-14T22:13:20Z', epoch: 1700000000 });
    expect(await infoFor(openStore, repo, { SOURCE_DATE_EPOCH: 'yesterday' })).toMatchObject({ date: '2024-03-04T05:06:07Z', epoch: 1709528767 });
  });

  test('an explicit version wins over the tag; the commit is still read', async () => {
    git(['init', '-q']);
    const sha = commit('first');
    git(['tag', 'v1.2.3']);
    expect(await infoFor(openStore, repo, {}, '9.9.9')).toMatchObject({ version: '9.9.9', commit: sha });
  });

  test('no tags: 0.0.0-dev with the real commit', async () => {
    git(['init', '-q']);
    const sha = commit('first');
    expect(await infoFor(openStore, repo)).toMatchObject({ version: '0.0.0-dev', commit: sha, shortCommit: sha.slice(0, 7) });
  });

  test('only a leading "v" before a digit is dropped', async () => {
    git(['init', '-q']);
    commit('first');
    git(['tag', 'vnext']);
    expect((await infoFor(openStore, repo)).version).toBe('vnext');
  });

  test('outside git: 0.0.0-dev, unknown commit, the Unix epoch', async () => {
    expect(await infoFor(openStore, repo)).toEqual({ version: '0.0.0-dev', commit: 'unknown', shortCommit: 'unknown', date: '1970-01-01T00:00:00Z', epoch: 0 });
  });

  test('outside git, SOURCE_DATE_EPOCH still sets the date', async () => {
    expect(await infoFor(openStore, repo, { SOURCE_DATE_EPOCH: '86400' })).toMatchObject({ date: '1970-01-02T00:00:00Z', epoch: 86400 });
  });

  test('a new tag and a new commit between builds are seen', async () => {
    git(['init', '-q']);
    commit('first');
    git(['tag', 'v1.0.0']);
    expect((await infoFor(openStore, repo)).version).toBe('1.0.0');
    const sha = commit('second', '2024-06-01T00:00:00Z');
    git(['tag', 'v1.1.0']);
    expect(await infoFor(openStore, repo)).toMatchObject({ version: '1.1.0', commit: sha, epoch: Date.UTC(2024, 5, 1) / 1000 });
    git(['pack-refs', '--all']); // tags move into packed-refs
    const sha3 = commit('third', '2024-06-02T00:00:00Z');
    git(['tag', 'v1.2.0']);
    git(['pack-refs', '--all']);
    expect(await infoFor(openStore, repo)).toMatchObject({ version: '1.2.0', commit: sha3 });
  });
});

describe('sourceInfo', () => {
  test('is lazy and asks once: the same promise for every caller', () => {
    const info = sourceInfo(repo, env);
    expect(info()).toBe(info());
  });

  test('with a store, an unchanged repository is answered without running git', async () => {
    git(['init', '-q']);
    const sha = commit('first');
    git(['tag', 'v3.0.0']);
    const open = () => Store.open(join(base, 'cache'));
    expect(await infoFor(open, repo)).toMatchObject({ version: '3.0.0', commit: sha });
    // No git on PATH now: the facts can only come from the store.
    expect(await infoFor(open, repo, { PATH: join(base, 'no-bin') })).toMatchObject({ version: '3.0.0', commit: sha, epoch: 1709528767 });
  });
});
