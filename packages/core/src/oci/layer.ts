/**
 * Layers: a deterministic tar, hashed (diff_id), gzip-compressed, hashed again (digest) and written to
 * the store, all in one streaming pass, so memory stays bounded whatever the layer's size.
 *
 * gzip framing is written here around zlib's raw deflate rather than by zlib's gzip wrapper, whose
 * header carries the OS byte zlib was compiled for (3 on Linux, 19 on macOS, 10 on Windows): the same
 * layer would get a different digest on a developer's Mac than in Linux CI. Our header is fixed: no
 * name, mtime 0, OS 255 ("unknown", as Go's compress/gzip writes). The deflate stream itself can still
 * differ between zlib builds, which is why a layer's digest is recorded once, never re-derived.
 *
 * Level 1 (ko's and go-containerregistry's choice): on a 15 MB Go binary, level 1 gives 43.3 % in
 * 0.28 s, level 6 39.9 % in 0.66 s, level 9 39.8 % in 2.2 s. A binary's layer is rebuilt on every
 * edit of the inner loop and pushed far less often, so the 8 % of bytes level 6 saves are not worth
 * more than twice the time on every rebuild.
 */
import { createWriteStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as zc, crc32, createDeflateRaw } from 'node:zlib';
import type { Store } from '../cache/store';
import { Sha256Hasher, type Digest } from '../util/hash';
import { OCI_LAYER_GZIP, isGzipLayer, type LayerMediaType } from './media-types';
import { tarStream, type TarEntry } from './tar';
import { descriptor, type Descriptor } from './types';

export const GZIP_LEVEL = 1;

/** A layer blob in the store. */
export interface Layer {
  /** sha256 of the blob as stored (the gzip bytes for a compressed layer). */
  digest: Digest;
  size: number;
  /** sha256 of the uncompressed tar. */
  diffId: Digest;
  mediaType: LayerMediaType;
  /** The blob in the store. */
  path: string;
}

export interface BuildLayerOptions {
  store: Store;
  /** Seconds since the epoch for every entry's mtime; default 0. */
  mtime?: number;
  /** Default OCI tar+gzip; an uncompressed type stores the tar itself. */
  mediaType?: LayerMediaType;
  /** gzip level; default GZIP_LEVEL. */
  level?: number;
}

/** Counts and hashes what flows through. */
class Tap extends Transform {
  private readonly hash = new Sha256Hasher();
  crc = 0;

  constructor(private readonly withCrc: boolean) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    if (this.withCrc) this.crc = crc32(chunk, this.crc);
    done(null, chunk);
  }

  get size(): number {
    return this.hash.size;
  }

  digest(): Digest {
    return this.hash.digest();
  }
}

/** XFL as zlib and Go set it: 2 = slowest/best, 4 = fastest. */
function extraFlags(level: number): number {
  if (level === 9) return 2;
  return level === 1 ? 4 : 0;
}

/** Wraps raw deflate output in a gzip member: fixed 10-byte header, CRC32 and ISIZE trailer. */
class GzipFrame extends Transform {
  private started = false;

  constructor(
    private readonly level: number,
    private readonly source: Tap,
  ) {
    super();
  }

  private header(): Buffer {
    return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, extraFlags(this.level), 0xff]);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (!this.started) {
      this.started = true;
      this.push(this.header());
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (!this.started) this.push(this.header());
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.source.crc >>> 0, 0);
    trailer.writeUInt32LE(this.source.size % 2 ** 32, 4);
    done(null, trailer);
  }
}

/** Builds a layer from tar entries and puts its blob in the store. */
export async function buildLayer(entries: readonly TarEntry[], opts: BuildLayerOptions): Promise<Layer> {
  const mediaType = opts.mediaType ?? OCI_LAYER_GZIP;
  const level = opts.level ?? GZIP_LEVEL;
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new Error(`gzip level ${level} must be 1..9`);
  const compressed = isGzipLayer(mediaType);
  const dir = await opts.store.tempDir('layer');
  try {
    const tmp = join(dir, compressed ? 'layer.tar.gz' : 'layer.tar');
    const tar = new Tap(compressed);
    const stored = new Tap(false);
    const stages: NodeJS.ReadWriteStream[] = compressed
      ? [tar, createDeflateRaw({ level, windowBits: 15, memLevel: 8, strategy: zc.Z_DEFAULT_STRATEGY }), new GzipFrame(level, tar), stored]
      : [tar, stored];
    await pipeline([Readable.from(tarStream(entries, { mtime: opts.mtime ?? 0 })), ...stages, createWriteStream(tmp, { mode: 0o644 })]);
    const diffId = tar.digest();
    const digest = compressed ? stored.digest() : diffId;
    const size = stored.size;
    const blob = await opts.store.putFile(tmp, { move: true, known: { digest, size } });
    return { digest, size, diffId, mediaType, path: blob.path };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The manifest's descriptor of a layer. */
export function layerDescriptor(layer: Pick<Layer, 'mediaType' | 'digest' | 'size'>): Descriptor {
  return descriptor(layer);
}
