/**
 * Sources from a git repository, with real git against a local bare repository over file://.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkoutGitSource, isMovableRef, redactUrl, type GitSource } from '../src/functions/git-source';
import { FnbuildError } from '../src/util/errors';

jest.setTimeout(60_000);

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
};

let tmp: string;
let bare: string;
let url: string;
/** Commits by name: c1 (old, not a ref tip), c2 (lightweight tag v1), c3 (annotated tag v2, main's tip), dev (branch dev's tip). */
const sha: Record<string, string> = {};

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8' }).trim();
}

async function commit(work: string, content: string, message: string): Promise<string> {
  await fs.writeFile(join(work, 'fn', 'version.txt'), content);
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', message);
  return git(work, 'rev-parse', 'HEAD');
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(join(tmpdir(), 'fnb-git-source-'));
  bare = join(tmp, 'repo.git');
  url = `file://${bare}`;
  const work = join(tmp, 'work');
  git(tmp, 'init', '-q', '--bare', bare);
  git(tmp, 'init', '-q', work);
  git(work, 'checkout', '-q', '-b', 'main');
  await fs.mkdir(join(work, 'fn'));
  await fs.writeFile(join(work, 'README.md'), 'hello\n');
  sha.c1 = await commit(work, 'one\n', 'one');
  sha.c2 = await commit(work, 'two\n', 'two');
  git(work, 'tag', 'v1');
  sha.c3 = await commit(work, 'three\n', 'three');
  git(work, 'tag', '-a', 'v2', '-m', 'release two');
  git(work, 'checkout', '-q', '-b', 'dev');
  sha.dev = await commit(work, 'dev\n', 'dev');
  git(work, 'checkout', '-q', 'main');
  git(work, 'push', '-q', bare, 'main', 'dev', 'v1', 'v2');
  git(bare, 'symbolic-ref', 'HEAD', 'refs/heads/main');
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

let cacheDir: string;
beforeEach(async () => {
  cacheDir = await fs.mkdtemp(join(tmp, 'cache-'));
});

const checkout = (src: Partial<GitSource>) => checkoutGitSource({ git: url, ...src }, { cacheDir, env: process.env });
const versionAt = (root: string) => readFileSync(join(root, 'version.txt'), 'utf8');

async function failureOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}

/** Everything under <cacheDir>/sources/<url hash>/: checkouts and (leftover) temp folders. */
function cacheEntries(): string[] {
  const sources = join(cacheDir, 'sources');
  if (!existsSync(sources)) return [];
  return readdirSync(sources).flatMap((h) => readdirSync(join(sources, h)).map((e) => `${h}/${e}`));
}

describe('checkoutGitSource', () => {
  it('checks out a lightweight tag: its commit and its files, under sources/<url hash>/<commit>, with a shallow .git', async () => {
    const out = await checkout({ revision: 'v1', subPath: 'fn' });
    expect(out.source).toEqual({ url, revision: 'v1', ref: 'refs/tags/v1', commit: sha.c2 });
    expect(isMovableRef(out.source.ref)).toBe(false);
    expect(out.checkout).toMatch(new RegExp(`${join(cacheDir, 'sources')}/[0-9a-f]{16}/${sha.c2}$`));
    expect(out.root).toBe(join(out.checkout, 'fn'));
    expect(versionAt(out.root)).toBe('two\n');
    expect(git(out.checkout, 'rev-parse', '--is-shallow-repository')).toBe('true');
    expect(sha.c2.startsWith(git(out.checkout, 'describe', '--always'))).toBe(true);
    expect(git(out.checkout, 'status', '--porcelain')).toBe('');
  });

  it('checks out an annotated tag at the tagged commit (the peeled ^{}), not the tag object', async () => {
    const out = await checkout({ revision: 'v2', subPath: 'fn' });
    expect(out.source.commit).toBe(sha.c3);
    expect(out.source.ref).toBe('refs/tags/v2');
    expect(versionAt(out.root)).toBe('three\n');
  });

  it('checks out a full commit that is no ref tip (an older commit)', async () => {
    const out = await checkout({ revision: sha.c1, subPath: 'fn/' });
    expect(out.source.commit).toBe(sha.c1);
    expect(out.source.ref).toBeUndefined();
    expect(isMovableRef(out.source.ref)).toBe(false);
    expect(versionAt(out.root)).toBe('one\n');
    expect(git(out.checkout, 'rev-parse', 'HEAD')).toBe(sha.c1);
  });

  it('falls back to fetching all refs where the server refuses a non-tip commit (protocol v0)', async () => {
    const v0 = { ...process.env, GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'protocol.version', GIT_CONFIG_VALUE_0: '0' };
    const out = await checkoutGitSource({ git: url, revision: sha.c1, subPath: 'fn' }, { cacheDir, env: v0 });
    expect(versionAt(out.root)).toBe('one\n');
    expect(git(out.checkout, 'rev-parse', 'HEAD')).toBe(sha.c1);
    const unknown = 'deadbeef'.repeat(5);
    const err = await failureOf(checkoutGitSource({ git: url, revision: unknown }, { cacheDir, env: v0 }));
    expect(err.message).toContain(`revision "${unknown}" not found in ${url}`);
    expect(cacheEntries()).toHaveLength(1);
  });

  it('checks out a branch, and a full ref name', async () => {
    const out = await checkout({ revision: 'dev', subPath: 'fn' });
    expect(out.source.commit).toBe(sha.dev);
    expect(out.source.ref).toBe('refs/heads/dev');
    expect(isMovableRef(out.source.ref)).toBe(true);
    expect(versionAt(out.root)).toBe('dev\n');
    const byRef = await checkout({ revision: 'refs/tags/v2' });
    expect([byRef.source.commit, byRef.source.ref]).toEqual([sha.c3, 'refs/tags/v2']);
  });

  it('defaults to the remote HEAD, with the repository root as root', async () => {
    const out = await checkout({});
    expect(out.source.commit).toBe(sha.c3);
    expect(out.source.ref).toBe('HEAD');
    expect(isMovableRef(out.source.ref)).toBe(true);
    expect(out.root).toBe(out.checkout);
    expect(readFileSync(join(out.root, 'README.md'), 'utf8')).toBe('hello\n');
  });

  it('reuses the cached checkout for the same commit without fetching (the repository is gone the second time)', async () => {
    const first = await checkout({ revision: sha.c1 });
    const moved = `${bare}.moved`;
    await fs.rename(bare, moved);
    try {
      const second = await checkout({ revision: sha.c1, subPath: 'fn' });
      expect(second.checkout).toBe(first.checkout);
      expect(versionAt(second.root)).toBe('one\n');
      // A branch still needs the (now missing) remote to resolve: that proves the first call did go to it.
      expect((await failureOf(checkout({ revision: 'main' }))).message).toContain('cannot list the refs of');
    } finally {
      await fs.rename(moved, bare);
    }
    expect(cacheEntries()).toHaveLength(1);
  });

  it("concurrent checkouts of one commit: one folder, the losers use the winner's, no temp folders left", async () => {
    const outs = await Promise.all([1, 2, 3].map(() => checkout({ revision: sha.c1 })));
    expect(new Set(outs.map((o) => o.checkout)).size).toBe(1);
    expect(cacheEntries()).toEqual([expect.stringMatching(new RegExp(`/${sha.c1}$`))]);
    expect(versionAt(join(outs[0].root, 'fn'))).toBe('one\n');
  });

  it('a branch or tag seen again resolves with ls-remote and reuses the folder', async () => {
    const first = await checkout({ revision: 'v2' });
    await fs.writeFile(join(first.checkout, 'marker-of-first-call'), '');
    const second = await checkout({ revision: 'main' });
    expect(second.checkout).toBe(first.checkout);
    expect(existsSync(join(second.checkout, 'marker-of-first-call'))).toBe(true);
  });

  it('an unknown branch or tag: the error names it and the URL, says what is accepted and lists what exists', async () => {
    const err = await failureOf(checkout({ revision: 'no-such-branch' }));
    expect(err).toBeInstanceOf(FnbuildError);
    expect(err.message).toContain('revision "no-such-branch" not found in ' + url);
    expect(err.message).toContain('branch, a tag or a full commit');
    expect(err.message).toContain('Branches: dev, main; tags: v1, v2.');
    expect(cacheEntries()).toEqual([]);
  });

  it('an abbreviated SHA asks for the full one', async () => {
    const err = await failureOf(checkout({ revision: sha.c1.slice(0, 7) }));
    expect(err).toBeInstanceOf(FnbuildError);
    expect(err.message).toContain(`"${sha.c1.slice(0, 7)}" looks like an abbreviated commit`);
    expect(err.message).toContain('full 40-character SHA');
  });

  it('an unknown full SHA: "not found", and no half checkout or temp folder left in the cache', async () => {
    const unknown = 'deadbeef'.repeat(5);
    const err = await failureOf(checkout({ revision: unknown }));
    expect(err).toBeInstanceOf(FnbuildError);
    expect(err.message).toContain(`revision "${unknown}" not found in ${url}`);
    expect(err.message).toContain('branch, a tag or a full commit');
    expect(cacheEntries()).toEqual([]);
  });

  it('a bad subPath: missing, escaping with .., or absolute', async () => {
    const missing = await failureOf(checkout({ revision: 'v1', subPath: 'nope' }));
    expect(missing).toBeInstanceOf(FnbuildError);
    expect(missing.message).toContain(`subPath "nope" is not a folder in ${url} at ${sha.c2}`);
    const file = await failureOf(checkout({ revision: 'v1', subPath: 'README.md' }));
    expect(file.message).toContain('subPath "README.md" is not a folder');
    for (const bad of ['../x', 'fn/../../x', '/etc']) {
      const err = await failureOf(checkout({ revision: 'v1', subPath: bad }));
      expect(err).toBeInstanceOf(FnbuildError);
      expect(err.message).toContain(`subPath "${bad}" must be a relative path inside the repository`);
    }
    expect((await checkout({ revision: 'v1', subPath: 'fn/../fn' })).root).toMatch(/\/fn$/);
  });

  it("a commit from a repository that cannot be reached: one fetch, git's reason in the error, nothing left in the cache", async () => {
    const trace = join(tmp, `trace-${Date.now()}.json`);
    const env = { ...process.env, GIT_TRACE2_EVENT: trace };
    const missing = `file://${join(tmp, 'no-such-repo.git')}`;
    const err = await failureOf(checkoutGitSource({ git: missing, revision: sha.c1 }, { cacheDir, env }));
    expect(err).toBeInstanceOf(FnbuildError);
    expect(err.message).toContain(`cannot fetch ${sha.c1} from ${missing}`);
    expect(err.message).toContain('does not appear to be a git repository');
    const fetches = readFileSync(trace, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { event: string; argv?: string[] })
      .filter((e) => e.event === 'start' && e.argv?.[1] === 'fetch');
    expect(fetches).toHaveLength(1);
    expect(fetches[0].argv).toContain('--depth');
    expect(cacheEntries()).toEqual([]);
  });

  it('credentials in the URL never show in errors or the cache path', async () => {
    const secretUrl = 'https://user:secret@127.0.0.1:9/x.git';
    for (const revision of [undefined, 'main', 'a'.repeat(40)]) {
      const err = await failureOf(checkoutGitSource({ git: secretUrl, revision }, { cacheDir, env: process.env }));
      expect(err).toBeInstanceOf(FnbuildError);
      expect(err.message).toContain('https://***@127.0.0.1:9/x.git');
      expect(err.message).not.toContain('secret');
      expect(err.stack ?? '').not.toContain('secret');
    }
    expect(cacheEntries()).toEqual([]);
    expect(readdirSync(join(cacheDir, 'sources')).join('\n')).not.toContain('secret');
  });
});

describe('redactUrl', () => {
  it('replaces user:password@ (and a bare token@) with ***@, and leaves other URLs alone', () => {
    expect(redactUrl('https://user:tok%40en@github.com/o/r.git')).toBe('https://***@github.com/o/r.git');
    expect(redactUrl('https://ghp_abc@github.com/o/r.git')).toBe('https://***@github.com/o/r.git');
    expect(redactUrl('https://github.com/o/r.git')).toBe('https://github.com/o/r.git');
    expect(redactUrl('git@github.com:o/r.git')).toBe('git@github.com:o/r.git');
    expect(redactUrl('fatal: unable to access https://u:p@h/x/')).toBe('fatal: unable to access https://***@h/x/');
  });
});
