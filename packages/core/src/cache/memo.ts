import { type Dirent, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { StatMemo } from './stat-memo';
import type { Store } from './store';

/**
 * What a folder held: every entry's name, and for regular files their digest. Two equal
 * snapshots mean no file in the folder was added, removed, renamed or edited.
 */
export interface DirSnapshot {
  dir: string;
  /** Only the folder's files count: sub-folders (a bin/ appearing in a package folder) do not. */
  filesOnly?: boolean;
  entries: [name: string, what: string][];
}

/** A folder to watch: all its entries, or only its files. */
export type WatchedDir = string | { dir: string; filesOnly: true };

export async function snapshotDir(dir: string, memo: StatMemo, filesOnly = false): Promise<DirSnapshot> {
  let dirents: Dirent[];
  try {
    dirents = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return { dir, entries: [] };
  }
  const entries = await Promise.all(
    dirents
      .filter((d) => !(filesOnly && d.isDirectory()))
      .map(async (d): Promise<[string, string]> => {
        if (d.isDirectory()) return [d.name, 'dir'];
        const f = await memo.digest(join(dir, d.name));
        return [d.name, f ? f.digest : 'other'];
      }),
  );
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return filesOnly ? { dir, filesOnly, entries } : { dir, entries };
}

async function unchanged(snapshots: DirSnapshot[], memo: StatMemo): Promise<boolean> {
  const now = await Promise.all(snapshots.map((s) => snapshotDir(s.dir, memo, s.filesOnly)));
  return now.every((s, i) => JSON.stringify(s.entries) === JSON.stringify(snapshots[i].entries));
}

interface Saved<T> {
  value: T;
  snapshots: DirSnapshot[];
}

/**
 * A result that depends on the contents of some folders (which packages `go list` finds,
 * which files they read): reused while every one of those folders is unchanged,
 * recomputed otherwise. The key holds everything else the result depends on.
 */
export async function validatedMemo<T>(
  store: Store,
  key: string,
  compute: () => Promise<{ value: T; dirs: WatchedDir[] }>,
): Promise<{ value: T; reused: boolean }> {
  const saved = await store.getMemo<Saved<T>>(key);
  if (saved && Array.isArray(saved.snapshots) && (await unchanged(saved.snapshots, store.statMemo))) {
    return { value: saved.value, reused: true };
  }
  const { value, dirs } = await compute();
  // A folder watched both ways is watched whole.
  const whole = new Set(dirs.filter((d): d is string => typeof d === 'string'));
  const filesOnly = new Set(dirs.flatMap((d) => (typeof d === 'string' || whole.has(d.dir) ? [] : [d.dir])));
  const watched = [...[...whole].map((d) => [d, false] as const), ...[...filesOnly].map((d) => [d, true] as const)].sort(([a], [b]) => (a < b ? -1 : 1));
  const snapshots = await Promise.all(watched.map(([d, only]) => snapshotDir(d, store.statMemo, only)));
  await store.putMemo(key, { value, snapshots } satisfies Saved<T>);
  return { value, reused: false };
}
