import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { pureMemo } from '../cache/pure-memo';
import type { Store } from '../cache/store';
import type { StatMemo } from '../cache/stat-memo';
import { run } from '../process/run';
import { keyOf } from '../util/hash';

/** What the templates {version}, {commit}, {shortCommit} and {date} expand to. */
export interface SourceInfo {
  version: string;
  commit: string;
  shortCommit: string;
  /** RFC 3339, UTC: SOURCE_DATE_EPOCH, else the commit time, else the Unix epoch (never "now": builds stay reproducible). */
  date: string;
  /** The same instant in seconds. */
  epoch: number;
  /** The origin remote as a web URL, credentials removed (the image's source annotation). */
  source?: string;
}

/**
 * "https://user:token@host/org/repo.git" → "https://host/org/repo"; "git@host:org/repo.git"
 * → "https://host/org/repo". Credentials never travel into an image.
 */
export function publicSourceUrl(remote: string | undefined | null): string | undefined {
  if (!remote) return undefined;
  const scp = /^[\w.-]+@([\w.-]+):(?!\/\/)(.+)$/.exec(remote);
  let url: URL;
  try {
    url = new URL(scp ? `https://${scp[1]}/${scp[2]}` : remote);
  } catch {
    return undefined;
  }
  if (!['http:', 'https:', 'ssh:', 'git:'].includes(url.protocol)) return undefined;
  return `https://${url.host}${url.pathname.replace(/\.git$/, '').replace(/\/$/, '')}`;
}

async function git(dir: string, args: string[], env: Record<string, string | undefined>): Promise<string | undefined> {
  try {
    const r = await run('git', args, { cwd: dir, env });
    return r.exitCode === 0 ? r.stdout.trim() : undefined;
  } catch {
    return undefined; // no git installed: the same as not a repository
  }
}

async function refsSnapshot(dir: string, memo: StatMemo): Promise<[string, string | null][]> {
  const out: [string, string | null][] = [];
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await refsSnapshot(p, memo)));
    else out.push([p, (await memo.digest(p))?.digest ?? null]);
  }
  return out.sort(([a], [b]) => (a < b ? -1 : 1));
}

type GitState = { kind: 'none' } | { kind: 'opaque' } | { kind: 'repo'; signature: unknown };

/**
 * Where the git facts come from. 'repo': a .git folder whose HEAD, packed-refs and
 * branch/tag refs (commits are immutable) decide every answer, so the answers can be
 * memoized by them. 'opaque': .git is a file (worktree, submodule), ask git every time.
 * 'none': not in a repository, nothing to ask.
 */
async function gitState(dir: string, memo: StatMemo): Promise<GitState> {
  for (let d = dir; ; d = dirname(d)) {
    const st = await fs.stat(join(d, '.git')).catch(() => undefined);
    if (st?.isDirectory()) {
      const git = join(d, '.git');
      const digest = async (f: string) => (await memo.digest(join(git, f)))?.digest ?? null;
      return {
        kind: 'repo',
        signature: {
          git,
          head: await digest('HEAD'),
          config: await digest('config'),
          packed: await digest('packed-refs'),
          refs: await refsSnapshot(join(git, 'refs'), memo),
        },
      };
    }
    if (st) return { kind: 'opaque' };
    if (dirname(d) === d) return { kind: 'none' };
  }
}

/**
 * Reads git lazily and once: a build whose templates need none of these facts never
 * starts git. version: the explicit option, else `git describe --tags` without its
 * leading "v" (as GoReleaser's {{.Version}}), else 0.0.0-dev.
 */
export function sourceInfo(dir: string, env: Record<string, string | undefined>, explicitVersion?: string, store?: Store): () => Promise<SourceInfo> {
  let p: Promise<SourceInfo> | undefined;
  const readGit = () =>
    Promise.all([
      git(dir, ['rev-parse', 'HEAD'], env),
      git(dir, ['log', '-1', '--format=%ct'], env),
      explicitVersion ? undefined : git(dir, ['describe', '--tags', '--abbrev=7'], env),
      git(dir, ['config', '--get', 'remote.origin.url'], env).then(publicSourceUrl),
    ]);
  const gitFacts = async (): Promise<(string | undefined | null)[]> => {
    if (!store) return readGit();
    const state = await gitState(dir, store.statMemo);
    if (state.kind === 'none') return [];
    if (state.kind === 'opaque') return readGit();
    return pureMemo(store, keyOf({ kind: 'git-facts', v: 2, dir, state: state.signature, explicit: !!explicitVersion }), readGit);
  };
  return () =>
    (p ??= (async () => {
      const [commit, commitTime, describe, source] = await gitFacts();
      const sde = env.SOURCE_DATE_EPOCH?.trim();
      const epoch = sde && /^\d+$/.test(sde) ? Number(sde) : commitTime && /^\d+$/.test(commitTime) ? Number(commitTime) : 0;
      return {
        version: explicitVersion ?? (describe ? describe.replace(/^v(?=\d)/, '') : '0.0.0-dev'),
        commit: commit ?? 'unknown',
        shortCommit: commit ? commit.slice(0, 7) : 'unknown',
        date: new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z'),
        epoch,
        source: source ?? undefined,
      };
    })());
}
