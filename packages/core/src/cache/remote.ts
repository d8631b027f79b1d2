import type { Digest } from '../util/hash';

/**
 * A remote tier under the local store: a content-addressed blob area (cas) and a small
 * key → bytes area (ac), the two halves of Bazel's HTTP cache protocol. The action cache
 * (node entries) and Go's own cache (GOCACHEPROG) both keep their entries here.
 *
 * Contract for every implementation:
 * - Every call has a deadline; a remote that is down, slow or wrong rejects with a
 *   RemoteCacheError (never hangs, never throws anything else for network faults).
 * - getBlob verifies the bytes against the digest before the file appears at `dest`
 *   (temp file + rename); a mismatch is a miss (false), never a corrupt file.
 * - Writes are idempotent; `put*` on a read-only remote is a programming error (the
 *   tiered runner never calls it then).
 * - `name` is safe to print: no credentials.
 */
export interface RemoteCache {
  readonly name: string;
  /** The bytes stored under an ac key (64 hex chars), or undefined on a miss. */
  getEntry(area: RemoteArea, key: string): Promise<Uint8Array | undefined>;
  /**
   * `blobs`: the blobs the entry names (optional), each put with putBlob before. A registry-backed
   * remote makes the entry's manifest reference them, so its garbage collector keeps them as
   * long as the entry (and refuses the entry if one is missing).
   */
  putEntry(area: RemoteArea, key: string, bytes: Uint8Array, blobs?: readonly RemoteBlob[]): Promise<void>;
  hasBlob(digest: Digest): Promise<boolean>;
  /** Downloads a blob to `dest`, verified; false on a miss or a digest mismatch. */
  getBlob(digest: Digest, dest: string): Promise<boolean>;
  /** Uploads the file at `path` unless the remote has the blob already (then it is cheap: a HEAD). */
  putBlob(digest: Digest, size: number, path: string): Promise<void>;
  /** Bytes moved and time spent so far, for the summary line. */
  stats(): RemoteStats;
  close?(): Promise<void>;
}

export interface RemoteBlob {
  digest: Digest;
  size: number;
}

/** Two entry namespaces: nx-fnbuild's node entries and Go's action → output ids. */
export type RemoteArea = 'ac' | 'go';

export interface RemoteStats {
  /** getEntry calls that found an entry, and that found none. */
  hits: number;
  misses: number;
  bytesDown: number;
  bytesUp: number;
  /** Wall time during which at least one call to the remote was in flight. */
  ms: number;
  /** Calls that failed (down, slow, refused, unexpected answer). */
  errors: number;
}

/**
 * Deadlines of one call. Connect: TCP connection set up. First byte: from the request sent
 * to the answer's headers. Idle: no bytes either way. Entry / blob: the whole call, start to end.
 */
export interface RemoteTimeouts {
  connectMs: number;
  firstByteMs: number;
  idleMs: number;
  entryMs: number;
  blobMs: number;
}

/** A cache that takes longer than this to answer is slower than building: give up on it. */
export const DEFAULT_REMOTE_TIMEOUTS: RemoteTimeouts = { connectMs: 3_000, firstByteMs: 10_000, idleMs: 10_000, entryMs: 20_000, blobMs: 600_000 };

const KEY = /^[0-9a-f]{64}$/;

/** Keys are digests (64 lowercase hex chars): anything else is a caller's bug, not a remote fault. */
export function checkRemoteKey(key: string): string {
  if (!KEY.test(key)) throw new Error(`a remote cache key is 64 lowercase hex characters, got ${JSON.stringify(key.slice(0, 80))}`);
  return key;
}

/** Counts bytes, hits and errors, and the wall time with a call in flight, for stats(). */
export class RemoteMeter {
  private readonly s: RemoteStats = { hits: 0, misses: 0, bytesDown: 0, bytesUp: 0, ms: 0, errors: 0 };
  private active = 0;
  private since = 0;

  async time<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active++ === 0) this.since = performance.now();
    try {
      return await fn();
    } catch (err) {
      this.s.errors++;
      throw err;
    } finally {
      if (--this.active === 0) this.s.ms += performance.now() - this.since;
    }
  }

  found(hit: boolean): void {
    if (hit) this.s.hits++;
    else this.s.misses++;
  }

  down(bytes: number): void {
    this.s.bytesDown += bytes;
  }

  up(bytes: number): void {
    this.s.bytesUp += bytes;
  }

  stats(): RemoteStats {
    return { ...this.s, ms: this.s.ms + (this.active > 0 ? performance.now() - this.since : 0) };
  }
}

export type RemoteCacheMode = 'read' | 'read-write';

export class RemoteCacheError extends Error {
  override name = 'RemoteCacheError';
  constructor(
    readonly remote: string,
    message: string,
  ) {
    super(`remote cache ${remote}: ${message}`);
  }
}
