/**
 * Writing images to disk: an OCI image layout directory, the same layout as a tar (oci-archive), and a
 * `docker load` archive.
 *
 * A layout is written into a temp dir beside the target and swapped in at the end, so a failure leaves
 * no partial layout and the previous one intact. Blobs are hard-linked from the store when it is on the
 * same filesystem (they are immutable there), else copied. Before anything is written, the blobs are
 * checked to be complete: every descriptor reachable from each top-level blob must be given, with
 * matching size (and digest, for JSON blobs).
 *
 * Tags go in index.json as `org.opencontainers.image.ref.name: <tag>` only (what the image spec,
 * skopeo and umoci use). `io.containerd.image.name` needs a full repository name, which a layout does
 * not have; the docker archive, which has one, carries both.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, type Stats, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sha256, sha256File, type Digest } from '../util/hash';
import { tempPathFor } from '../util/fs-atomic';
import { OCI_INDEX, isIndex, isManifest } from './media-types';
import { CONTAINERD_NAME, INDEX_FILE, LAYOUT_FILE, LAYOUT_VERSION, REF_NAME, blobRelPath, LayoutError } from './read-layout';
import { checkTag, parseRepoTag } from './reference';
import { tarStream, type TarEntry } from './tar';
import { descriptor, serialize, type Descriptor, type Index, type Manifest, type SerializedBlob } from './types';

/** A blob as a file (a store blob, usually). */
export interface BlobFile {
  digest: Digest;
  size: number;
  path: string;
}

/** A blob handed to the layout writers: bytes in memory, or a file (hard-linked when it can be). */
export type LayoutBlob = SerializedBlob | BlobFile;

export interface LayoutImage {
  /** What the tags name: an index, or a single manifest for a one-platform image. */
  top: SerializedBlob | (BlobFile & { mediaType: string });
  /** Every blob the top needs (the top itself may be listed too). */
  blobs: readonly LayoutBlob[];
  tags: readonly string[];
}

export interface LayoutPlan {
  /** index.json, serialized once. */
  index: SerializedBlob;
  /** Blobs to write, by digest, in a stable order. */
  blobs: Map<Digest, LayoutBlob>;
}

function isSerialized(b: LayoutBlob): b is SerializedBlob {
  return Buffer.isBuffer((b as SerializedBlob).bytes);
}

async function bytesOf(b: LayoutBlob): Promise<Buffer> {
  return isSerialized(b) ? b.bytes : fs.readFile(b.path);
}

function addBlob(blobs: Map<Digest, LayoutBlob>, b: LayoutBlob): void {
  if (isSerialized(b) && (sha256(b.bytes) !== b.digest || b.bytes.length !== b.size)) {
    throw new LayoutError(`blob ${b.digest}: its bytes do not match its digest/size`);
  }
  const known = blobs.get(b.digest);
  if (known && known.size !== b.size) throw new LayoutError(`blob ${b.digest} is given twice with sizes ${known.size} and ${b.size}`);
  if (!known || (isSerialized(b) && !isSerialized(known))) blobs.set(b.digest, b);
}

/** Checks that everything reachable from `top` is among `blobs` with the size its descriptor says. */
async function checkComplete(top: Descriptor, blobs: Map<Digest, LayoutBlob>): Promise<void> {
  const queue: { d: Descriptor; from: string }[] = [{ d: top, from: 'the top-level blob' }];
  const seen = new Set<Digest>();
  while (queue.length > 0) {
    const { d, from } = queue.pop()!;
    if (seen.has(d.digest)) continue;
    seen.add(d.digest);
    const blob = blobs.get(d.digest);
    if (!blob) {
      if (d.urls && d.urls.length > 0) continue; // foreign layer: lives at its URLs
      throw new LayoutError(`blob ${d.digest} (${d.mediaType}), needed by ${from}, was not given`);
    }
    if (blob.size !== d.size) throw new LayoutError(`blob ${d.digest} is ${blob.size} bytes but ${from} says ${d.size}`);
    if (!isIndex(d.mediaType) && !isManifest(d.mediaType)) continue;
    const bytes = await bytesOf(blob);
    if (sha256(bytes) !== d.digest) throw new LayoutError(`blob ${d.digest}: its bytes do not match its digest`);
    const doc = JSON.parse(bytes.toString('utf8')) as Partial<Index & Manifest>;
    const where = `${d.mediaType} ${d.digest}`;
    if (isIndex(d.mediaType)) for (const m of doc.manifests ?? []) queue.push({ d: m, from: where });
    else {
      if (!doc.config) throw new LayoutError(`${where} has no config`);
      queue.push({ d: doc.config, from: where }, ...(doc.layers ?? []).map((l) => ({ d: l, from: where })));
    }
  }
}

/** Validates images and builds index.json; nothing is written. */
export async function planLayout(images: LayoutImage | readonly LayoutImage[]): Promise<LayoutPlan> {
  const list = Array.isArray(images) ? (images as readonly LayoutImage[]) : [images as LayoutImage];
  if (list.length === 0) throw new LayoutError('no images to write');
  const blobs = new Map<Digest, LayoutBlob>();
  const manifests: Descriptor[] = [];
  const tags = new Set<string>();
  for (const image of list) {
    if (!isIndex(image.top.mediaType) && !isManifest(image.top.mediaType)) {
      throw new LayoutError(`top-level blob ${image.top.digest} is ${image.top.mediaType}; it must be an image index or manifest`);
    }
    const own = new Map<Digest, LayoutBlob>();
    for (const b of [image.top, ...image.blobs]) addBlob(own, b);
    const top = descriptor(image.top);
    await checkComplete(top, own);
    for (const b of own.values()) addBlob(blobs, b);
    if (image.tags.length === 0) manifests.push(top);
    for (const tag of image.tags) {
      checkTag(tag);
      if (tags.has(tag)) throw new LayoutError(`tag "${tag}" is given to two images`);
      tags.add(tag);
      manifests.push(descriptor(top, { annotations: { [REF_NAME]: tag } }));
    }
  }
  const index: Index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests };
  return { index: serialize(index, OCI_INDEX), blobs };
}

async function checkFileSize(b: BlobFile): Promise<void> {
  let size: number;
  try {
    size = (await fs.stat(b.path)).size;
  } catch (err) {
    throw new LayoutError(`blob ${b.digest}: cannot read ${b.path}: ${(err as Error).message}`);
  }
  if (size !== b.size) throw new LayoutError(`blob ${b.digest}: ${b.path} has ${size} bytes, expected ${b.size}`);
}

const LINK_FALLBACK = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'EACCES']);

async function placeBlob(b: LayoutBlob, target: string): Promise<'linked' | 'copied' | 'written'> {
  if (isSerialized(b)) {
    await fs.writeFile(target, b.bytes, { mode: 0o444 });
    return 'written';
  }
  await checkFileSize(b);
  try {
    await fs.link(b.path, target);
    return 'linked';
  } catch (err) {
    if (!LINK_FALLBACK.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  }
  await fs.copyFile(b.path, target);
  await fs.chmod(target, 0o444);
  return 'copied';
}

/** The target may be absent, an empty directory, or a previous layout: never someone's other files. */
async function checkReplaceable(target: string): Promise<boolean> {
  let st: Stats;
  try {
    st = await fs.stat(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if (!st.isDirectory()) throw new LayoutError(`${target} exists and is not a directory; choose another output path or remove it`);
  const names = await fs.readdir(target);
  if (names.length > 0 && !names.includes(LAYOUT_FILE)) {
    throw new LayoutError(`${target} is a non-empty directory that is not an OCI layout (no ${LAYOUT_FILE}); not replacing it`);
  }
  return true;
}

export interface WriteLayoutResult {
  dir: string;
  index: SerializedBlob;
  linked: number;
  copied: number;
  /** The layout there already held exactly this: nothing was written. */
  unchanged: boolean;
}

/**
 * True when `dir` already is this layout: the same index.json bytes, and every blob present
 * with the same bytes (the very store file when hard-linked; else compared or re-hashed).
 */
async function upToDate(dir: string, plan: LayoutPlan): Promise<boolean> {
  const index = await fs.readFile(join(dir, INDEX_FILE)).catch(() => undefined);
  if (!index?.equals(plan.index.bytes)) return false;
  for (const [digest, b] of plan.blobs) {
    if (!isSerialized(b)) await checkFileSize(b); // a bad input is an error, written or not
    const path = join(dir, blobRelPath(digest));
    const st = await fs.stat(path).catch(() => undefined);
    if (!st || st.size !== b.size) return false;
    if (isSerialized(b)) {
      if (!(await fs.readFile(path)).equals(b.bytes)) return false;
    } else if (st.ino !== (await fs.stat(b.path)).ino && (await sha256File(path)).digest !== digest) {
      return false;
    }
  }
  return true;
}

/**
 * Writes one or more images as an OCI image layout at `dir`, replacing a previous layout there
 * atomically; a layout that already holds exactly this is left alone (a no-op build writes nothing).
 */
export async function writeLayout(dir: string, images: LayoutImage | readonly LayoutImage[]): Promise<WriteLayoutResult> {
  const plan = await planLayout(images);
  if (await upToDate(dir, plan)) return { dir, index: plan.index, linked: 0, copied: 0, unchanged: true };
  const exists = await checkReplaceable(dir);
  await fs.mkdir(dirname(dir), { recursive: true });
  const tmp = await fs.mkdtemp(join(dirname(dir), `.${basename(dir)}.tmp-`));
  let linked = 0;
  let copied = 0;
  try {
    await fs.chmod(tmp, 0o755);
    await fs.writeFile(join(tmp, LAYOUT_FILE), JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }), { mode: 0o644 });
    await fs.mkdir(join(tmp, 'blobs', 'sha256'), { recursive: true });
    for (const [digest, b] of plan.blobs) {
      const how = await placeBlob(b, join(tmp, blobRelPath(digest)));
      if (how === 'linked') linked++;
      if (how === 'copied') copied++;
    }
    await fs.writeFile(join(tmp, INDEX_FILE), plan.index.bytes, { mode: 0o644 });
    await swapIn(tmp, dir, exists);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return { dir, index: plan.index, linked, copied, unchanged: false };
}

/**
 * Puts `tmp` at `target`. With a previous layout there, it is renamed aside first and put back if the
 * second rename fails; the window between the two renames is the only time `target` is absent.
 */
async function swapIn(tmp: string, target: string, exists: boolean): Promise<void> {
  if (!exists) {
    await fs.rename(tmp, target);
    return;
  }
  const old = join(dirname(target), `.${basename(target)}.old-${randomBytes(4).toString('hex')}`);
  await fs.rename(target, old);
  try {
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rename(old, target);
    throw err;
  }
  await fs.rm(old, { recursive: true, force: true });
}

/** Streams a tar to `file` via a temp file beside it, renamed into place when complete. */
async function writeTarFile(file: string, entries: TarEntry[], mtime: number): Promise<void> {
  await fs.mkdir(dirname(file), { recursive: true });
  const tmp = tempPathFor(file);
  try {
    await pipeline(Readable.from(tarStream(entries, { mtime })), createWriteStream(tmp, { mode: 0o644 }));
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

async function blobEntry(b: LayoutBlob): Promise<TarEntry> {
  const path = blobRelPath(b.digest);
  if (isSerialized(b)) return { path, type: 'file', mode: 0o644, content: b.bytes };
  await checkFileSize(b);
  return { path, type: 'file', mode: 0o644, source: b.path };
}

const layoutMarker = (): TarEntry => ({
  path: LAYOUT_FILE,
  type: 'file',
  mode: 0o644,
  content: Buffer.from(JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION })),
});

/** The OCI layout of `images` as one deterministic tar (what `skopeo copy oci-archive:` reads). */
export async function writeOciArchive(file: string, images: LayoutImage | readonly LayoutImage[], opts: { mtime?: number } = {}): Promise<SerializedBlob> {
  const plan = await planLayout(images);
  const entries: TarEntry[] = [layoutMarker(), { path: INDEX_FILE, type: 'file', mode: 0o644, content: plan.index.bytes }];
  for (const b of plan.blobs.values()) entries.push(await blobEntry(b));
  await writeTarFile(file, entries, opts.mtime ?? 0);
  return plan.index;
}

export interface DockerArchiveImage {
  /** The image manifest (one platform). */
  manifest: SerializedBlob;
  config: SerializedBlob;
  /** Layer blobs, in manifest order (gzip is fine: docker load decompresses). */
  layers: readonly BlobFile[];
  /** "name:tag" references, e.g. "hello:1.0", "registry.example.com/team/hello:latest". */
  repoTags: readonly string[];
  mtime?: number;
}

/**
 * A `docker load` archive of one single-platform image: manifest.json ([{Config, RepoTags, Layers}])
 * pointing into blobs/sha256/, plus oci-layout and index.json as `docker save` writes them since
 * Docker 25, so containerd-based loaders (and skopeo oci-archive:) read it too.
 */
export async function writeDockerArchive(file: string, image: DockerArchiveImage): Promise<void> {
  if (!isManifest(image.manifest.mediaType))
    throw new LayoutError(`docker archive: ${image.manifest.mediaType} is not an image manifest (one platform per archive)`);
  const doc = JSON.parse(image.manifest.bytes.toString('utf8')) as Manifest;
  if (doc.config?.digest !== image.config.digest)
    throw new LayoutError(`docker archive: the manifest's config is ${doc.config?.digest}, not the given ${image.config.digest}`);
  const layerDigests = (doc.layers ?? []).map((l) => l.digest);
  if (layerDigests.join() !== image.layers.map((l) => l.digest).join()) {
    throw new LayoutError("docker archive: the layers given are not the manifest's layers in order");
  }
  const refs = image.repoTags.map(parseRepoTag);
  const manifestJson = [{ Config: blobRelPath(image.config.digest), RepoTags: refs.map((r) => r.familiar), Layers: layerDigests.map(blobRelPath) }];
  const top = descriptor(image.manifest);
  const index: Index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: refs.length === 0 ? [top] : refs.map((r) => descriptor(top, { annotations: { [CONTAINERD_NAME]: r.full, [REF_NAME]: r.tag } })),
  };
  const plan = await planLayout({ top: image.manifest, blobs: [image.config, ...image.layers], tags: [] });
  const entries: TarEntry[] = [
    layoutMarker(),
    { path: INDEX_FILE, type: 'file', mode: 0o644, content: serialize(index, OCI_INDEX).bytes },
    { path: 'manifest.json', type: 'file', mode: 0o644, content: Buffer.from(JSON.stringify(manifestJson)) },
  ];
  for (const b of plan.blobs.values()) entries.push(await blobEntry(b));
  await writeTarFile(file, entries, image.mtime ?? 0);
}
