/**
 * A function's sources from a git repository (like OpenFunction's `srcRepo`): the revision
 * is resolved to a full commit, checked out once into the cache, and reused from there.
 */
import { existsSync, promises as fs } from 'node:fs';
import { isAbsolute, join, relative, resolve, win32 } from 'node:path';
import { run, type RunResult } from '../process/run';
import { FnbuildError } from '../util/errors';
import { tempPathFor } from '../util/fs-atomic';
import { sha256Hex } from '../util/hash';
import { redactCredentials, Redactor, withoutCredentials } from '../util/redact';

export interface GitSource {
  /** The repository URL (https://, ssh://, file://, scp-like or a path). */
  git: string;
  /** A branch, a tag, a full ref name or a full 40-hex commit; default: the remote HEAD. */
  revision?: string;
  /** The project's folder inside the repository; default: the repository root. */
  subPath?: string;
}

/** What a git source resolved to, as a build's result tells it. */
export interface ResolvedSource {
  /** The URL as it may be shown: credentials replaced by ***. */
  url: string;
  /** The revision as given (absent: the remote HEAD). */
  revision?: string;
  /**
   * The ref it resolved through: `HEAD`, `refs/heads/<branch>`, `refs/tags/<tag>`, any full
   * ref name; absent for a full commit SHA. See isMovableRef.
   */
  ref?: string;
  /** The full 40-hex commit the revision resolved to. */
  commit: string;
}

export interface CheckedOutSource {
  source: ResolvedSource;
  /** The checkout root (in the cache). */
  checkout: string;
  /** checkout + subPath: where the project is. */
  root: string;
}

export interface GitSourceOptions {
  cacheDir: string;
  env: Record<string, string | undefined>;
}

/** Written inside .git as the last step, so a folder holding it is a whole checkout. */
const MARKER = 'fnbuild-complete';
const FULL_SHA = /^[0-9a-f]{40}$/i;

/** The URL with any user:password@ replaced by ***@ (for messages): the shared redactor's rule. */
export { redactCredentials as redactUrl } from '../util/redact';

/** Checks the revision out (or reuses the cached checkout) and returns where it is. */
export async function checkoutGitSource(src: GitSource, opts: GitSourceOptions): Promise<CheckedOutSource> {
  const url = src.git?.trim() ?? '';
  const shown = redactCredentials(url);
  if (!url || url.startsWith('-')) {
    throw new FnbuildError(`invalid git source URL "${shown}"`, 'Give the repository URL, e.g. https://github.com/org/repo.git.');
  }
  const subPath = checkSubPath(src.subPath ?? '');
  const git = new Git(url, opts.env);
  const sourcesDir = join(opts.cacheDir, 'sources', sha256Hex(withoutCredentials(url)).slice(0, 16));
  await fs.mkdir(sourcesDir, { recursive: true });

  const { commit, ref } = await resolveRevision(git, src.revision, sourcesDir);
  const checkout = join(sourcesDir, commit);
  if (!isComplete(checkout)) await buildCheckout(git, commit, checkout);
  else await touch(join(checkout, '.git', MARKER)); // in use: the prune keeps checkouts used in the last 30 days
  const source: ResolvedSource = { url: shown, ...(src.revision ? { revision: src.revision } : {}), ...(ref ? { ref } : {}), commit };
  return { source, checkout, root: await subPathRoot(checkout, subPath, src.subPath ?? '', shown, commit) };
}

/**
 * A ref the remote can move without anyone editing the project: HEAD, a branch, or another
 * non-tag ref. A cache keyed on the options alone can then replay an older build.
 */
export function isMovableRef(ref: string | undefined): boolean {
  return !!ref && !ref.startsWith('refs/tags/');
}

/** `source <url> <revision> → <commit>`: the line that says which commit a build came from. */
export function describeSource(s: ResolvedSource): string {
  return `source ${s.url} ${s.revision ?? 'HEAD'} → ${s.commit}`;
}

/** Runs git with the caller's env (minus variables that would point it at another repository), never prompting. */
class Git {
  readonly shown: string;
  private readonly env: Record<string, string | undefined>;
  private readonly redactor: Redactor;

  constructor(
    readonly url: string,
    env: Record<string, string | undefined>,
  ) {
    this.shown = redactCredentials(url);
    this.redactor = new Redactor().addUrl(url);
    this.env = {
      ...env,
      GIT_DIR: undefined,
      GIT_WORK_TREE: undefined,
      GIT_INDEX_FILE: undefined,
      GIT_COMMON_DIR: undefined,
      GIT_TERMINAL_PROMPT: '0',
      GIT_CONFIG_NOSYSTEM: '1',
    };
  }

  run(args: readonly string[], cwd: string): Promise<RunResult> {
    return run('git', args, { cwd, env: this.env });
  }

  /** Runs and returns stdout; a failure becomes an error with the credentials redacted. */
  async ok(args: readonly string[], cwd: string, what: string): Promise<string> {
    const r = await this.run(args, cwd);
    if (r.exitCode !== 0) throw this.failure(what, r);
    return r.stdout;
  }

  failure(what: string, r: RunResult): FnbuildError {
    return new FnbuildError(
      `${what} (git exit ${r.exitCode}):\n${this.redact(r.stderr.trim() || r.stdout.trim())}`,
      `Check the URL ${this.shown} and that you can access it (credentials in the URL or a git credential helper; git never prompts here).`,
    );
  }

  /** Removes the URL's credentials from git's output, in URLs and wherever the password shows up on its own. */
  redact(text: string): string {
    return this.redactor.redact(text);
  }
}

/** absent → remote HEAD; full SHA → as is; else a branch, a tag (peeled) or a full ref name from ls-remote. */
async function resolveRevision(git: Git, revision: string | undefined, cwd: string): Promise<{ commit: string; ref?: string }> {
  const rev = revision?.trim();
  if (rev && FULL_SHA.test(rev)) return { commit: rev.toLowerCase() };

  const refs = new Map<string, string>();
  for (const line of (await git.ok(['ls-remote', git.url], cwd, `cannot list the refs of ${git.shown}`)).split('\n')) {
    const [sha, ref] = line.trim().split(/\s+/);
    if (sha && ref) refs.set(ref, sha.toLowerCase());
  }
  const pick = (ref: string) => {
    const commit = refs.get(`${ref}^{}`) ?? refs.get(ref);
    return commit ? { commit, ref } : undefined;
  };
  if (!rev) {
    const head = pick('HEAD');
    if (!head) throw new FnbuildError(`${git.shown} has no HEAD (an empty repository?)`, 'Push a commit, or set a revision: a branch, a tag or a full commit.');
    return head;
  }
  const found = pick(`refs/heads/${rev}`) ?? pick(`refs/tags/${rev}`) ?? (rev.startsWith('refs/') ? pick(rev) : undefined);
  if (found) return found;

  if (/^[0-9a-f]{4,39}$/i.test(rev)) {
    throw new FnbuildError(
      `revision "${rev}" looks like an abbreviated commit, which cannot be resolved in ${git.shown} without cloning it`,
      'Give the full 40-character SHA (git rev-parse <commit>), or a branch or a tag.',
    );
  }
  const names = (prefix: string) => [...refs.keys()].filter((r) => r.startsWith(prefix) && !r.endsWith('^{}')).map((r) => r.slice(prefix.length));
  const few = (list: string[]) => (list.length ? list.slice(0, 5).join(', ') + (list.length > 5 ? ', …' : '') : '(none)');
  throw revisionNotFound(rev, git.shown, `Branches: ${few(names('refs/heads/'))}; tags: ${few(names('refs/tags/'))}.`);
}

function revisionNotFound(rev: string, shown: string, more: string): FnbuildError {
  return new FnbuildError(`revision "${rev}" not found in ${shown}`, `A branch, a tag or a full commit is accepted. ${more}`);
}

async function touch(path: string): Promise<void> {
  const now = new Date();
  await fs.utimes(path, now, now).catch(() => undefined);
}

function isComplete(checkout: string): boolean {
  return existsSync(join(checkout, '.git', MARKER));
}

/** Fetches just that commit into a temp folder beside the target, then renames it into place. */
async function buildCheckout(git: Git, commit: string, checkout: string): Promise<void> {
  const tmp = tempPathFor(checkout);
  try {
    await fs.mkdir(tmp);
    await git.ok(['init', '-q'], tmp, `cannot create a git repository in ${tmp}`);
    await fetchCommit(git, commit, tmp);
    // core.autocrlf=false: the files are the commit's bytes whatever the user's global config says.
    await git.ok(
      ['-c', 'advice.detachedHead=false', '-c', 'core.autocrlf=false', 'checkout', '-q', '--detach', commit],
      tmp,
      `cannot check out ${commit} of ${git.shown}`,
    );
    const head = (await git.ok(['rev-parse', 'HEAD'], tmp, `cannot read HEAD in ${tmp}`)).trim();
    if (head !== commit) throw new FnbuildError(`checking out ${commit} of ${git.shown} gave ${head}`, 'Remove the cache folder and try again.');
    await fs.writeFile(join(tmp, '.git', MARKER), `${commit}\n`);
    await renameIntoPlace(tmp, checkout);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** Another process may have got there first: then use theirs. A folder without the marker is debris (never ours): replace it. */
async function renameIntoPlace(tmp: string, checkout: string): Promise<void> {
  try {
    await fs.rename(tmp, checkout);
  } catch (err) {
    if (isComplete(checkout)) return;
    if (!existsSync(checkout)) throw err;
    await fs.rm(checkout, { recursive: true, force: true });
    await fs.rename(tmp, checkout).catch((again: unknown) => {
      if (!isComplete(checkout)) throw again;
    });
  }
}

/** git's words for a repository it could not reach or read at all: no second try helps then. */
const UNREACHABLE =
  /unable to access|could not resolve host|could not read from remote repository|does not appear to be a git repository|authentication failed|repository '[^']*' not found|connection (refused|timed out)|permission denied/i;

/**
 * `git fetch --depth 1 <url> <sha>` works for any reachable commit where the server allows it
 * (protocol v2 does, also over file://); otherwise fetch all branches and tags and look there.
 * A repository that cannot be reached is reported at once, not tried a second time.
 */
async function fetchCommit(git: Git, commit: string, cwd: string): Promise<void> {
  const shallow = await git.run(['fetch', '-q', '--no-tags', '--depth', '1', git.url, commit], cwd);
  if (shallow.exitCode === 0) return;
  if (UNREACHABLE.test(shallow.stderr)) throw git.failure(`cannot fetch ${commit} from ${git.shown}`, shallow);
  const full = await git.run(['fetch', '-q', '--no-tags', git.url, '+refs/heads/*:refs/fnbuild/heads/*', '+refs/tags/*:refs/fnbuild/tags/*'], cwd);
  if (full.exitCode !== 0) throw git.failure(`cannot fetch ${commit} from ${git.shown}`, full);
  const has = await git.run(['cat-file', '-e', `${commit}^{commit}`], cwd);
  if (has.exitCode !== 0) throw revisionNotFound(commit, git.shown, 'Check that the commit was pushed to that repository.');
}

const escapes = (rel: string) => rel === '..' || rel.startsWith('../') || rel.startsWith('..\\');

/** subPath must stay inside the checkout: relative, without `..` escaping it. Returns it normalized. */
function checkSubPath(subPath: string): string {
  const rel = relative('/r', resolve('/r', subPath));
  if (isAbsolute(subPath) || win32.isAbsolute(subPath) || escapes(rel) || isAbsolute(rel)) {
    throw new FnbuildError(
      `subPath "${subPath}" must be a relative path inside the repository`,
      'Give the project folder relative to the repository root, e.g. "functions/hello".',
    );
  }
  return rel;
}

/** checkout + subPath, which must be an existing folder that (after symlinks) is still inside the checkout. */
async function subPathRoot(checkout: string, rel: string, given: string, shown: string, commit: string): Promise<string> {
  const root = rel ? join(checkout, rel) : checkout;
  const isDir = await fs.stat(root).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) throw new FnbuildError(`subPath "${given}" is not a folder in ${shown} at ${commit}`, 'Give the project folder relative to the repository root.');
  const inside = relative(await fs.realpath(checkout), await fs.realpath(root));
  if (escapes(inside) || isAbsolute(inside)) {
    throw new FnbuildError(`subPath "${given}" leads outside the repository (through a symlink)`, 'Give a real folder inside the repository.');
  }
  return root;
}
