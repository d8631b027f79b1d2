import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export type Digest = `sha256:${string}`;

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256(data: string | Uint8Array): Digest {
  return `sha256:${sha256Hex(data)}`;
}

/** A sha256 computed as bytes go by (a download, a layer being written): the bytes fed so far, and their count. */
export class Sha256Hasher {
  private readonly hash = createHash('sha256');
  size = 0;

  update(chunk: Uint8Array): this {
    this.hash.update(chunk);
    this.size += chunk.length;
    return this;
  }

  /** The digest of everything fed; the hasher is finished after it. */
  digest(): Digest {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

/** Feeds the file into `into` (a fresh hasher by default), streamed 1 MiB at a time, so a large file never sits in memory whole. */
export async function hashFile(path: string, into: Sha256Hasher = new Sha256Hasher()): Promise<Sha256Hasher> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) into.update(chunk as Buffer);
  return into;
}

/** The file's digest and size, streamed. */
export async function sha256File(path: string): Promise<{ digest: Digest; size: number }> {
  const hash = await hashFile(path);
  return { digest: hash.digest(), size: hash.size };
}

/**
 * JSON with object keys sorted at every level: the one serialization every cache key
 * is hashed from, so property order in code never changes a key.
 */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

/** The cache key of anything: the digest of its stable JSON. */
export function keyOf(value: unknown): string {
  return sha256Hex(stableJson(value));
}

export function hexOf(digest: Digest | string): string {
  const hex = digest.startsWith('sha256:') ? digest.slice(7) : digest;
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`not a sha256 digest: ${digest}`);
  return hex;
}
