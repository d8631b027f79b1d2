/**
 * Reading an OCI image layout (image-spec "image-layout"): `oci-layout`, `index.json` and
 * `blobs/<alg>/<hex>`. Tags are the `org.opencontainers.image.ref.name` annotations of index.json's
 * descriptors, as skopeo and umoci read them.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { FnbuildError } from '../util/errors';
import { hexOf, sha256, type Digest } from '../util/hash';
import type { Descriptor, Index } from './types';

export const LAYOUT_FILE = 'oci-layout';
export const LAYOUT_VERSION = '1.0.0';
export const INDEX_FILE = 'index.json';
export const REF_NAME = 'org.opencontainers.image.ref.name';
export const CONTAINERD_NAME = 'io.containerd.image.name';

/** A user-actionable error (shown without a stack, like every FnbuildError). */
export class LayoutError extends FnbuildError {
  override name = 'LayoutError';
}

export interface LayoutContents {
  index: Index;
  /** Descriptors by their ref.name annotation. */
  byTag: Map<string, Descriptor>;
  /** Descriptors without a ref.name. */
  untagged: Descriptor[];
}

/** Relative path of a blob inside a layout. */
export function blobRelPath(digest: Digest): string {
  return `blobs/sha256/${hexOf(digest)}`;
}

export function layoutBlobPath(dir: string, digest: Digest): string {
  return join(dir, blobRelPath(digest));
}

async function readText(dir: string, name: string): Promise<string> {
  try {
    return await fs.readFile(join(dir, name), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new LayoutError(`${dir} is not an OCI image layout: it has no ${name}`);
    throw err;
  }
}

function parseJson<T>(text: string, where: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new LayoutError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
}

export async function readLayout(dir: string): Promise<LayoutContents> {
  const marker = parseJson<{ imageLayoutVersion?: string }>(await readText(dir, LAYOUT_FILE), join(dir, LAYOUT_FILE));
  if (marker.imageLayoutVersion !== LAYOUT_VERSION) {
    throw new LayoutError(`${join(dir, LAYOUT_FILE)}: imageLayoutVersion ${JSON.stringify(marker.imageLayoutVersion)}, expected "${LAYOUT_VERSION}"`);
  }
  const index = parseJson<Index>(await readText(dir, INDEX_FILE), join(dir, INDEX_FILE));
  if (index.schemaVersion !== 2 || !Array.isArray(index.manifests)) {
    throw new LayoutError(`${join(dir, INDEX_FILE)} is not an image index (schemaVersion 2 with manifests)`);
  }
  const byTag = new Map<string, Descriptor>();
  const untagged: Descriptor[] = [];
  for (const d of index.manifests) {
    const tag = d.annotations?.[REF_NAME];
    if (tag === undefined) untagged.push(d);
    else if (byTag.has(tag)) throw new LayoutError(`${join(dir, INDEX_FILE)} names tag "${tag}" twice`);
    else byTag.set(tag, d);
  }
  return { index, byTag, untagged };
}

/** A blob's bytes, checked against its digest (and size, when given). Meant for JSON blobs: it reads the whole file. */
export async function readLayoutBlob(dir: string, d: { digest: Digest; size?: number }): Promise<Buffer> {
  const path = layoutBlobPath(dir, d.digest);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new LayoutError(`blob ${d.digest} is missing from ${dir}`);
    throw err;
  }
  if ((d.size !== undefined && bytes.length !== d.size) || sha256(bytes) !== d.digest) {
    throw new LayoutError(`blob ${path} does not match its descriptor (${d.digest}, ${d.size ?? '?'} bytes); the layout is corrupt`);
  }
  return bytes;
}

export async function readLayoutJson<T>(dir: string, d: { digest: Digest; size?: number }): Promise<T> {
  return parseJson<T>((await readLayoutBlob(dir, d)).toString('utf8'), `blob ${d.digest} in ${dir}`);
}
