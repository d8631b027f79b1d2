import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/fs-atomic';
import type { GoCacheLayout } from './layout';

const DAY_MS = 24 * 3600 * 1000;
/** cmd/go's own disk cache drops what went unused for 5 days; hits touch files at most hourly (layout.ts). */
const UNUSED_MS = 5 * DAY_MS;

async function removeUnused(dir: string, before: number): Promise<number> {
  let removed = 0;
  for (const shard of await fs.readdir(dir).catch(() => [] as string[])) {
    const shardDir = join(dir, shard);
    for (const name of await fs.readdir(shardDir).catch(() => [] as string[])) {
      const path = join(shardDir, name);
      const st = await fs.stat(path).catch(() => undefined);
      if (st?.isFile() && st.mtimeMs < before) {
        await fs.rm(path, { force: true });
        removed++;
      }
    }
  }
  return removed;
}

/**
 * Keeps the go/ folder from growing forever: at most once a day (a stamp file says when),
 * removes entries and outputs unused for 5 days (temp files of crashed writers included).
 * An entry whose output went first is a miss (layout.ts checks), never an error.
 */
export async function trimIfDue(layout: GoCacheLayout, now = Date.now()): Promise<number | undefined> {
  const stamp = join(layout.root, 'trim.txt');
  const st = await fs.stat(stamp).catch(() => undefined);
  if (st && now - st.mtimeMs < DAY_MS) return undefined;
  await writeFileAtomic(stamp, new Date(now).toISOString());
  if (!st) return 0; // a new folder: nothing can be old yet
  return (await removeUnused(join(layout.root, 'a'), now - UNUSED_MS)) + (await removeUnused(join(layout.root, 'o'), now - UNUSED_MS));
}
