import { run } from '../process/run';

/** What the templates {version}, {commit}, {shortCommit} and {date} expand to. */
export interface SourceInfo {
  version: string;
  commit: string;
  shortCommit: string;
  /** RFC 3339, UTC: SOURCE_DATE_EPOCH, else the commit time, else the Unix epoch (never "now": builds stay reproducible). */
  date: string;
  /** The same instant in seconds. */
  epoch: number;
}

async function git(dir: string, args: string[], env: Record<string, string | undefined>): Promise<string | undefined> {
  try {
    const r = await run('git', args, { cwd: dir, env });
    return r.exitCode === 0 ? r.stdout.trim() : undefined;
  } catch {
    return undefined; // no git installed: the same as not a repository
  }
}

/**
 * Reads git lazily and once: a build whose templates need none of these facts never
 * starts git. version: the explicit option, else `git describe --tags` without its
 * leading "v" (as GoReleaser's {{.Version}}), else 0.0.0-dev.
 */
export function sourceInfo(dir: string, env: Record<string, string | undefined>, explicitVersion?: string): () => Promise<SourceInfo> {
  let p: Promise<SourceInfo> | undefined;
  return () =>
    (p ??= (async () => {
      const [commit, commitTime, describe] = await Promise.all([
        git(dir, ['rev-parse', 'HEAD'], env),
        git(dir, ['log', '-1', '--format=%ct'], env),
        explicitVersion ? undefined : git(dir, ['describe', '--tags', '--abbrev=7'], env),
      ]);
      const sde = env.SOURCE_DATE_EPOCH?.trim();
      const epoch = sde && /^\d+$/.test(sde) ? Number(sde) : commitTime && /^\d+$/.test(commitTime) ? Number(commitTime) : 0;
      return {
        version: explicitVersion ?? (describe ? describe.replace(/^v(?=\d)/, '') : '0.0.0-dev'),
        commit: commit ?? 'unknown',
        shortCommit: commit ? commit.slice(0, 7) : 'unknown',
        date: new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z'),
        epoch,
      };
    })());
}
