import type { StatMemo } from '../cache/stat-memo';
import type { BlobRef } from '../cache/store';
import type { Node } from '../graph/node';
import { copyFileAtomic } from '../util/fs-atomic';

/**
 * export(T, P): puts a stored binary at its place in the output folder, mode 0755,
 * atomically. A file already there with the same bytes is left alone (its mtime too),
 * so a no-op build writes nothing.
 */
export function exportNode(blob: BlobRef, dest: string, label: string, memo: StatMemo): Node<{ written: boolean }> {
  return {
    kind: 'export',
    id: `export ${dest}`,
    label: `export ${label}`,
    async run() {
      const existing = await memo.digest(dest);
      if (existing?.digest === blob.digest) return { data: { written: false } };
      await copyFileAtomic(blob.path, dest, 0o755);
      memo.invalidate(dest);
      return { data: { written: true } };
    },
  };
}
