import { type BigIntStats, promises as fs } from 'node:fs';
import { sha256File, type Digest } from '../util/hash';
import { readJsonIfExists, writeFileAtomic } from '../util/fs-atomic';

interface Entry {
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  ino: number;
  digest: Digest;
  hashedAtMs: number;
}

export interface FileDigest {
  digest: Digest;
  size: number;
}

/**
 * Remembers (size, mtime, ctime, inode) → digest so a no-op build re-reads nothing.
 *
 * Like git's index, it guards against "racily clean" files: a file whose mtime was
 * within RACY_MS of the moment it was hashed could have changed again inside the same
 * timestamp tick, so it is re-hashed until it has been quiet for that long.
 */
const RACY_MS = 2000;
const FORGET_AFTER_MS = 30 * 24 * 3600 * 1000;

export class StatMemo {
  private dirty = false;
  private readonly inflight = new Map<string, Promise<FileDigest | undefined>>();

  private constructor(
    private readonly file: string | undefined,
    private readonly entries: Map<string, Entry>,
  ) {}

  static async load(file: string): Promise<StatMemo> {
    const saved = await readJsonIfExists<Record<string, Entry>>(file);
    return new StatMemo(file, new Map(Object.entries(saved ?? {})));
  }

  /** A memo that lives only as long as the process. */
  static inMemory(): StatMemo {
    return new StatMemo(undefined, new Map());
  }

  /** The digest of a regular file, or undefined when it does not exist. */
  digest(path: string): Promise<FileDigest | undefined> {
    let p = this.inflight.get(path);
    if (!p) {
      p = this.compute(path);
      this.inflight.set(path, p);
    }
    return p;
  }

  /** Forget a path (after this process rewrote it, say). */
  invalidate(path: string): void {
    this.inflight.delete(path);
    if (this.entries.delete(path)) this.dirty = true;
  }

  private async compute(path: string): Promise<FileDigest | undefined> {
    let st: BigIntStats;
    try {
      st = await fs.stat(path, { bigint: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw err;
    }
    if (!st.isFile()) return undefined;
    const mtimeNs = st.mtimeNs.toString();
    const ctimeNs = st.ctimeNs.toString();
    const ino = Number(st.ino);
    const size = Number(st.size);
    const e = this.entries.get(path);
    const mtimeMs = Number(st.mtimeNs / 1_000_000n);
    const ctimeMs = Number(st.ctimeNs / 1_000_000n);
    if (e && e.size === size && e.mtimeNs === mtimeNs && e.ctimeNs === ctimeNs && e.ino === ino && Math.max(mtimeMs, ctimeMs) + RACY_MS < e.hashedAtMs) {
      return { digest: e.digest, size };
    }
    const hashedAtMs = Date.now();
    const { digest, size: hashedSize } = await sha256File(path);
    if (hashedSize === size) {
      this.entries.set(path, { size, mtimeNs, ctimeNs, ino, digest, hashedAtMs });
      this.dirty = true;
    }
    return { digest, size: hashedSize };
  }

  async save(): Promise<void> {
    if (!this.file || !this.dirty) return;
    const cutoff = Date.now() - FORGET_AFTER_MS;
    const kept = [...this.entries].filter(([, e]) => e.hashedAtMs > cutoff);
    await writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(kept)));
    this.dirty = false;
  }
}
