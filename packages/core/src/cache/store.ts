import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { hexOf, keyOf, sha256File, type Digest } from '../util/hash';
import { readJsonIfExists, tempPathFor, writeFileAtomic } from '../util/fs-atomic';
import { StatMemo } from './stat-memo';

/** A file held by the store, or produced by a node and about to be. */
export interface BlobRef {
  digest: Digest;
  size: number;
  /** Where the bytes are now: a store blob (read-only) or a node's temp output. */
  path: string;
}

/** What an action-cache entry records: a node's JSON result and the blobs it produced. */
export interface ActionEntry<T = unknown> {
  kind: string;
  data: T;
  files: Record<string, { digest: Digest; size: number }>;
}

interface StoredEntry extends ActionEntry {
  v: 1;
  key: string;
  /** keyOf(the rest): a hand-edited or bit-flipped entry reads as a miss. */
  sum: string;
}

/**
 * The core's content-addressed store:
 *   cas/sha256/<hex>   immutable blobs (mode 0444)
 *   ac/<kk>/<key>      action entries: JSON naming blobs by digest
 *   memo/<kk>/<key>    validated memos (package lists), see memo.ts
 *   locks/<kk>/<key>   who is running a key's work right now, see lock.ts (never pruned while live)
 *   tmp/               node outputs in progress (same filesystem, so publishing is a rename)
 *
 * Every write is temp file + rename, and an action entry is written only after all its
 * blobs are in place, so a crash or a second process never sees a half entry. Reads are
 * verified: a blob whose digest does not match (checked through the stat memo) and an
 * entry whose checksum does not match are misses, and are removed.
 */
export class Store {
  readonly statMemo: StatMemo;

  private constructor(
    readonly root: string,
    statMemo: StatMemo,
  ) {
    this.statMemo = statMemo;
  }

  static async open(root: string): Promise<Store> {
    await fs.mkdir(join(root, 'tmp'), { recursive: true });
    return new Store(root, await StatMemo.load(join(root, 'stat-memo.json')));
  }

  blobPath(digest: Digest): string {
    return join(this.root, 'cas', 'sha256', hexOf(digest));
  }

  /** Where the lock of a key's work lives: one per key, shared by every process on this store. */
  lockPath(key: string): string {
    return join(this.root, 'locks', key.slice(0, 2), key);
  }

  private entryPath(area: 'ac' | 'memo', key: string): string {
    return join(this.root, area, key.slice(0, 2), key);
  }

  /** A fresh private directory for a node's outputs; publish what it writes with putFile. */
  async tempDir(label: string): Promise<string> {
    return fs.mkdtemp(join(this.root, 'tmp', `${label.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 40)}-`));
  }

  /** Moves (or copies) a file into the CAS. Returns the stored blob. */
  async putFile(source: string, opts: { move: boolean; known?: { digest: Digest; size: number } }): Promise<BlobRef> {
    const { digest, size } = opts.known ?? (await sha256File(source));
    const target = this.blobPath(digest);
    if (await this.hasBlob(digest)) {
      if (opts.move) await fs.rm(source, { force: true });
      return { digest, size, path: target };
    }
    await fs.mkdir(join(this.root, 'cas', 'sha256'), { recursive: true });
    const tmp = tempPathFor(target);
    try {
      if (opts.move) await fs.rename(source, tmp);
      else await fs.copyFile(source, tmp);
      await fs.chmod(tmp, 0o444);
      await fs.rename(tmp, target);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    this.statMemo.invalidate(target);
    return { digest, size, path: target };
  }

  async putBytes(bytes: Uint8Array, digest: Digest): Promise<BlobRef> {
    const target = this.blobPath(digest);
    if (!(await this.hasBlob(digest))) {
      await writeFileAtomic(target, bytes, 0o444);
      this.statMemo.invalidate(target);
    }
    return { digest, size: bytes.length, path: target };
  }

  /** True when the blob is present and its bytes match its name; a corrupt blob is deleted. */
  async hasBlob(digest: Digest): Promise<boolean> {
    const path = this.blobPath(digest);
    const actual = await this.statMemo.digest(path);
    if (!actual) return false;
    if (actual.digest === digest) return true;
    this.statMemo.invalidate(path);
    await fs.rm(path, { force: true });
    return false;
  }

  /** The entry and its blobs, all verified; undefined on a miss or any corruption. */
  async getAction<T>(key: string): Promise<(ActionEntry<T> & { blobs: Record<string, BlobRef> }) | undefined> {
    const path = this.entryPath('ac', key);
    const stored = await readJsonIfExists<StoredEntry>(path);
    if (!stored) return undefined;
    const { sum, ...rest } = stored;
    if (stored.v !== 1 || stored.key !== key || keyOf(rest) !== sum) {
      await fs.rm(path, { force: true });
      return undefined;
    }
    const blobs: Record<string, BlobRef> = {};
    for (const [name, f] of Object.entries(stored.files)) {
      if (!(await this.hasBlob(f.digest))) return undefined;
      blobs[name] = { ...f, path: this.blobPath(f.digest) };
    }
    await this.touch(path);
    return { kind: stored.kind, data: stored.data as T, files: stored.files, blobs };
  }

  /** Records an action; every blob it names must already be in the store. */
  async putAction(key: string, entry: ActionEntry): Promise<void> {
    const rest = { v: 1 as const, key, kind: entry.kind, data: entry.data, files: entry.files };
    await writeFileAtomic(this.entryPath('ac', key), JSON.stringify({ ...rest, sum: keyOf(rest) }));
  }

  async getMemo<T>(key: string): Promise<T | undefined> {
    return readJsonIfExists<T>(this.entryPath('memo', key));
  }

  async putMemo(key: string, value: unknown): Promise<void> {
    await writeFileAtomic(this.entryPath('memo', key), JSON.stringify(value));
  }

  /** Marks an entry as used (for LRU pruning); at most once an hour, to keep hits cheap. */
  private async touch(path: string): Promise<void> {
    try {
      const st = await fs.stat(path);
      const now = Date.now();
      if (now - st.mtimeMs > 3600_000) await fs.utimes(path, now / 1000, now / 1000);
    } catch {
      /* raced with a prune: harmless */
    }
  }

  async close(): Promise<void> {
    await this.statMemo.save();
  }
}
