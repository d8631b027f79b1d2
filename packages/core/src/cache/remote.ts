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
  putEntry(area: RemoteArea, key: string, bytes: Uint8Array): Promise<void>;
  hasBlob(digest: Digest): Promise<boolean>;
  /** Downloads a blob to `dest`, verified; false on a miss or a digest mismatch. */
  getBlob(digest: Digest, dest: string): Promise<boolean>;
  putBlob(digest: Digest, size: number, path: string): Promise<void>;
  /** Bytes moved and time spent so far, for the summary line. */
  stats(): RemoteStats;
  close?(): Promise<void>;
}

/** Two entry namespaces: nx-fnbuild's node entries and Go's action → output ids. */
export type RemoteArea = 'ac' | 'go';

export interface RemoteStats {
  hits: number;
  misses: number;
  bytesDown: number;
  bytesUp: number;
  ms: number;
  errors: number;
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
