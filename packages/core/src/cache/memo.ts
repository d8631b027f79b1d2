import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { StatMemo } from './stat-memo';
import type { Store } from './store';

/**
 * What a folder held: every entry's name, and for regular files their digest. Two equal
 * snapshots mean no file in the folder was added, removed, renamed or edited.
 */
export interface DirSnapshot {
  dir: string;
  entries: [name: string, what: string][];
}

export async function snapshotDir(dir: string, memo: StatMemo): Promise<DirSnapshot> {
  let dirents;
  try {
    dirents = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return { dir, entries: [] };
  }
  const entries = await Promise.all(
    dirents.map(async (d): Promise<[string, string]> => {
      if (d.isDirectory()) return [d.name, 'dir'];
      const f = await memo.digest(join(dir, d.name));
      return [d.name, f ? f.digest : 'other'];
    }),
  );
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { dir, entries };
}

async function unchanged(snapshots: DirSnapshot[], memo: StatMemo): Promise<boolean> {
  const now = await Promise.all(snapshots.map((s) => snapshotDir(s.dir, memo)));
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
  compute: () => Promise<{ value: T; dirs: string[] }>,
): Promise<{ value: T; reused: boolean }> {
  const saved = await store.getMemo<Saved<T>>(key);
  if (saved && Array.isArray(saved.snapshots) && (await unchanged(saved.snapshots, store.statMemo))) {
    return { value: saved.value, reused: true };
  }
  const { value, dirs } = await compute();
  const snapshots = await Promise.all([...new Set(dirs)].sort().map((d) => snapshotDir(d, store.statMemo)));
  await store.putMemo(key, { value, snapshots } satisfies Saved<T>);
  return { value, reused: false };
}
