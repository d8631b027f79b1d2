import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { FnbuildError } from '../util/errors';
import { writeFileAtomic } from '../util/fs-atomic';
import { removeIfDead } from './lock';

export interface PruneResult {
  entriesRemoved: number;
  blobsRemoved: number;
  bytesBefore: number;
  bytesAfter: number;
}

/** Blobs younger than this are kept even when unreferenced: another process may be about to record them. */
const GRACE_MS = 10 * 60 * 1000;
const DAY_MS = 24 * 3600 * 1000;

export const DEFAULT_MAX_CACHE_BYTES = 5 * 1024 ** 3;

/** "5GiB", "500MB", "1e9" → bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*(b|kb|kib|mb|mib|gb|gib|tb|tib)?\s*$/i.exec(text);
  if (!m) throw new FnbuildError(`cache size "${text}" is not a size`, 'Write it like 5GiB, 500MB or 1000000000.');
  const units: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3, tb: 1e12, tib: 1024 ** 4 };
  return Math.floor(Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()]);
}

async function walk(dir: string): Promise<{ path: string; size: number; mtimeMs: number }[]> {
  const out: { path: string; size: number; mtimeMs: number }[] = [];
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    const st = await fs.stat(path).catch(() => undefined);
    if (!st) continue;
    if (st.isDirectory()) out.push(...(await walk(path)));
    else out.push({ path, size: st.size, mtimeMs: st.mtimeMs });
  }
  return out;
}

/** A folder whose stamp file was last touched more than this ago is unused: git checkouts, function entrypoints. */
const UNUSED_MS = 30 * DAY_MS;

/** Folders kept outside the CAS, each with a stamp that every use touches: removed whole once unused for 30 days. */
async function pruneUnused(root: string, now: number): Promise<void> {
  const children = async (dir: string) => (await fs.readdir(dir).catch(() => [] as string[])).map((n) => join(dir, n));
  const dropIfStale = async (dir: string, stamp: string) => {
    const st = await fs.stat(join(dir, stamp)).catch(() => undefined);
    if (st && now - st.mtimeMs > UNUSED_MS) await fs.rm(dir, { recursive: true, force: true });
  };
  for (const repo of await children(join(root, 'sources')))
    for (const checkout of await children(repo)) await dropIfStale(checkout, join('.git', 'fnbuild-complete'));
  for (const entry of await children(join(root, 'entrypoints'))) await dropIfStale(entry, 'overlay.json');
}

/**
 * Locks are not cache: a live one is never removed (its owner is working on that key right
 * now). A dead owner's lock goes (a waiter would take it over anyway), and another host's
 * after a day without a heartbeat; temp files of interrupted lock creations after a day.
 */
async function pruneLocks(root: string, now: number): Promise<void> {
  for (const f of await walk(join(root, 'locks'))) {
    if (f.path.endsWith('.tmp')) {
      if (now - f.mtimeMs > DAY_MS) await fs.rm(f.path, { force: true });
      continue;
    }
    await removeIfDead(f.path, { foreignMaxAgeMs: DAY_MS }).catch(() => false);
  }
}

/**
 * Least-recently-used pruning down to maxBytes (to 80% of it, so a full cache is not
 * pruned on every build): entries are dropped oldest-use first, then blobs no remaining
 * entry names. Stale temp files, old memos and dead locks go too.
 */
export async function pruneStore(root: string, maxBytes: number): Promise<PruneResult> {
  const now = Date.now();
  for (const f of await walk(join(root, 'tmp'))) if (now - f.mtimeMs > DAY_MS) await fs.rm(f.path, { force: true });
  for (const f of await walk(join(root, 'memo'))) if (now - f.mtimeMs > 30 * DAY_MS) await fs.rm(f.path, { force: true });
  await pruneUnused(root, now);
  await pruneLocks(root, now);

  const blobs = await walk(join(root, 'cas', 'sha256'));
  const blobSize = new Map(blobs.map((b) => [b.path.slice(-64), b.size]));
  const bytesBefore = blobs.reduce((n, b) => n + b.size, 0);
  if (bytesBefore <= maxBytes) return { entriesRemoved: 0, blobsRemoved: 0, bytesBefore, bytesAfter: bytesBefore };

  const entries = (await walk(join(root, 'ac'))).sort((a, b) => b.mtimeMs - a.mtimeMs);
  const live = new Set<string>();
  let liveBytes = 0;
  let entriesRemoved = 0;
  for (const e of entries) {
    let hexes: string[] | undefined; // undefined: unreadable, dropped; [] (a modules entry): kept by recency
    try {
      const parsed = JSON.parse(await fs.readFile(e.path, 'utf8')) as { files?: Record<string, { digest: string }> };
      hexes = Object.values(parsed.files ?? {}).map((f) => f.digest.slice(7));
    } catch {
      /* unreadable: drop it */
    }
    const added = (hexes ?? []).filter((h) => !live.has(h)).reduce((n, h) => n + (blobSize.get(h) ?? 0), 0);
    if (hexes && liveBytes + added <= maxBytes * 0.8) {
      hexes.forEach((h) => live.add(h));
      liveBytes += added;
    } else {
      await fs.rm(e.path, { force: true });
      entriesRemoved++;
    }
  }
  let blobsRemoved = 0;
  let bytesAfter = 0;
  for (const b of blobs) {
    if (live.has(b.path.slice(-64)) || now - b.mtimeMs < GRACE_MS) {
      bytesAfter += b.size;
      continue;
    }
    await fs.rm(b.path, { force: true });
    blobsRemoved++;
  }
  return { entriesRemoved, blobsRemoved, bytesBefore, bytesAfter };
}

/** Prunes at most once an hour per store: cheap enough to call after every build. */
export async function pruneIfDue(root: string, maxBytes: number): Promise<PruneResult | undefined> {
  const marker = join(root, 'last-prune');
  const st = await fs.stat(marker).catch(() => undefined);
  if (st && Date.now() - st.mtimeMs < 3600_000) return undefined;
  await writeFileAtomic(marker, new Date().toISOString());
  return pruneStore(root, maxBytes);
}
