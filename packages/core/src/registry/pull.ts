import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../cache/store';
import { isIndex, isManifest } from '../oci/media-types';
import { formatReference, formatRepository, toRef, withDigest, type ImageRef, type RepoRef } from '../oci/reference';
import type { Descriptor, ImageConfig, Index, Manifest } from '../oci/types';
import { formatPlatform, parsePlatform, samePlatform, type Platform } from '../platform/platform';
import { FnbuildError } from '../util/errors';
import { keyOf, type Digest } from '../util/hash';
import type { ManifestBytes, RegistryClient } from './client';
import { manifestMediaType } from './manifest';

export interface ResolveOptions {
  /** Manifests, configs and layers are kept here by digest. */
  store: Store;
  /** Ask no registry: use what the store has (a tag must have been resolved online before). */
  offline?: boolean;
}

export interface ResolvedImage {
  /** The reference as asked for. */
  ref: ImageRef;
  /** The index (manifest list) the image was picked from, when the reference named one. */
  indexDigest?: Digest;
  manifest: { bytes: Buffer; digest: Digest; mediaType: string; parsed: Manifest };
  config: { bytes: Buffer; digest: Digest; parsed: ImageConfig };
  /** The platform of the picked image (may be a compatible one: linux/amd64 for linux/amd64/v3). */
  platform: Platform;
  /** Every platform the reference offers (attestations left out). */
  availablePlatforms: Platform[];
  /** The layer's blob in the store, downloaded on first use. */
  ensureLayer(digest: Digest): Promise<string>;
}

const manifestMemoKey = (digest: Digest) => keyOf({ kind: 'registry.manifest', v: 1, digest });
const tagMemoKey = (ref: ImageRef) => keyOf({ kind: 'registry.tag', v: 1, ref: formatReference({ ...ref, digest: undefined }) });

/** The platform an index entry declares; undefined for attestations and entries without one. */
export function descriptorPlatform(d: Descriptor): Platform | undefined {
  const p = d.platform;
  if (!p?.os || !p.architecture || p.os === 'unknown' || p.architecture === 'unknown') return undefined;
  if (d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') return undefined;
  const spec = [p.os, p.architecture, p.variant].filter(Boolean).join('/');
  try {
    return parsePlatform(spec);
  } catch {
    // A platform our builds do not know (an odd variant) still lists; it just never matches.
    return { os: p.os.toLowerCase(), arch: p.architecture.toLowerCase(), ...(p.variant ? { variant: p.variant.toLowerCase() } : {}) };
  }
}

/** How capable a variant is, for picking a compatible image: amd64 v1 < v3, arm v6 < v7, arm64 v8.0 < v8.2. */
function variantRank(p: Platform): number | undefined {
  if (p.variant === undefined) return p.arch === 'arm64' ? 8 : p.arch === 'amd64' ? 1 : 0;
  const m = /^v(\d+(?:\.\d+)?)$/.exec(p.variant);
  return m ? Number(m[1]) : undefined;
}

/**
 * The entry for the platform: an exact match, else the most capable compatible one (an
 * amd64/v3 build runs on an amd64 base, an arm/v7 build on arm/v6).
 */
export function selectPlatform(entries: readonly { platform: Platform; descriptor: Descriptor }[], want: Platform) {
  const exact = entries.find((e) => samePlatform(e.platform, want));
  if (exact) return exact;
  const wantRank = variantRank(want);
  if (wantRank === undefined) return undefined;
  let best: (typeof entries)[number] | undefined;
  let bestRank = -1;
  for (const e of entries) {
    if (e.platform.os !== want.os || e.platform.arch !== want.arch) continue;
    const r = variantRank(e.platform);
    if (r !== undefined && r <= wantRank && r > bestRank) {
      best = e;
      bestRank = r;
    }
  }
  return best;
}

function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch {
    throw new FnbuildError(`${what} is not valid JSON`);
  }
}

async function cachedManifest(store: Store, digest: Digest): Promise<ManifestBytes | undefined> {
  if (!(await store.hasBlob(digest))) return undefined;
  const bytes = await fs.readFile(store.blobPath(digest));
  const memo = await store.getMemo<{ mediaType: string }>(manifestMemoKey(digest));
  return { bytes, digest, mediaType: memo?.mediaType ?? manifestMediaType(bytes, undefined, `cached manifest ${digest}`) };
}

/** A manifest by digest: from the store, else from the registry (then stored). Never asks when cached. */
async function manifestByDigest(client: RegistryClient, opts: ResolveOptions, ref: ImageRef, digest: Digest): Promise<ManifestBytes> {
  const cached = await cachedManifest(opts.store, digest);
  if (cached) return cached;
  if (opts.offline) throw offlineMiss(`manifest ${formatRepository(ref)}@${digest}`);
  const m = await client.getManifest(withDigest(ref, digest));
  await opts.store.putBytes(m.bytes, m.digest);
  await opts.store.putMemo(manifestMemoKey(m.digest), { mediaType: m.mediaType });
  return m;
}

function offlineMiss(what: string): FnbuildError {
  return new FnbuildError(`offline, and the cache has no ${what}`, 'Run once with network access so the base image is cached.');
}

/** The reference's top manifest: by digest straight from the store; by tag, a HEAD tells its digest (offline: the last one seen). */
async function topManifest(client: RegistryClient, opts: ResolveOptions, ref: ImageRef): Promise<ManifestBytes> {
  if (ref.digest) return manifestByDigest(client, opts, ref, ref.digest);
  const tagKey = tagMemoKey(ref);
  if (opts.offline) {
    const seen = await opts.store.getMemo<{ digest: Digest }>(tagKey);
    if (!seen) throw offlineMiss(`digest for ${formatReference(ref)}`);
    return manifestByDigest(client, opts, ref, seen.digest);
  }
  const head = await client.headManifest(ref);
  // No manifest: the GET reports why (unknown repository or tag, denied...).
  const m = head ? await manifestByDigest(client, opts, ref, head.digest) : await client.getManifest(ref);
  if (!head) {
    await opts.store.putBytes(m.bytes, m.digest);
    await opts.store.putMemo(manifestMemoKey(m.digest), { mediaType: m.mediaType });
  }
  await opts.store.putMemo(tagKey, { digest: m.digest });
  return m;
}

async function configBlob(client: RegistryClient, opts: ResolveOptions, repo: RepoRef, d: Descriptor): Promise<Buffer> {
  if (await opts.store.hasBlob(d.digest)) return fs.readFile(opts.store.blobPath(d.digest));
  if (opts.offline) throw offlineMiss(`config ${d.digest} of ${formatRepository(repo)}`);
  const bytes = await client.getBlobBytes(repo, d.digest);
  await opts.store.putBytes(bytes, d.digest);
  return bytes;
}

const inflight = new Map<string, Promise<string>>();

/** A layer blob in the store (its path), downloaded once even when asked for concurrently. */
export async function ensureLayer(
  client: RegistryClient,
  store: Store,
  repo: RepoRef,
  digest: Digest,
  opts: { size?: number; offline?: boolean } = {},
): Promise<string> {
  if (await store.hasBlob(digest)) return store.blobPath(digest);
  if (opts.offline) throw offlineMiss(`layer ${digest} of ${formatRepository(repo)}`);
  const key = `${store.root}\0${digest}`;
  let p = inflight.get(key);
  if (!p) {
    p = (async () => {
      const dir = await store.tempDir('layer');
      try {
        const got = await client.getBlob(repo, digest, join(dir, 'blob'), opts.size !== undefined ? { size: opts.size } : {});
        return (await store.putFile(join(dir, 'blob'), { move: true, known: got })).path;
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    })().finally(() => inflight.delete(key));
    inflight.set(key, p);
  }
  return p;
}

/**
 * Resolves a base image for one platform: the reference's manifest (an index is narrowed to
 * the platform's entry), its config, and on-demand access to its layers. Manifests and configs
 * are cached by digest; a tag is re-checked with one HEAD unless offline.
 */
export async function resolveImage(
  client: RegistryClient,
  refArg: ImageRef | string,
  platformArg: Platform | string,
  opts: ResolveOptions,
): Promise<ResolvedImage> {
  const ref = toRef(refArg);
  const want = typeof platformArg === 'string' ? parsePlatform(platformArg) : parsePlatform(formatPlatform(platformArg));
  const name = formatReference(ref);
  const top = await topManifest(client, opts, ref);

  let indexDigest: Digest | undefined;
  let image: ManifestBytes;
  let platform: Platform;
  let availablePlatforms: Platform[];
  if (isIndex(top.mediaType)) {
    indexDigest = top.digest;
    const index = parseJson<Index>(top.bytes, `the index of ${name}`);
    const entries = (Array.isArray(index.manifests) ? index.manifests : []).flatMap((descriptor) => {
      const p = descriptorPlatform(descriptor);
      return p && (isManifest(descriptor.mediaType) || isIndex(descriptor.mediaType)) ? [{ platform: p, descriptor }] : [];
    });
    availablePlatforms = uniquePlatforms(entries.map((e) => e.platform));
    const picked = selectPlatform(entries, want);
    if (!picked) throw missingPlatform(name, want, availablePlatforms);
    if (!isManifest(picked.descriptor.mediaType)) {
      throw new FnbuildError(
        `base image ${name}: the entry for ${formatPlatform(want)} is itself an index (${picked.descriptor.mediaType}); nested indexes are not supported`,
      );
    }
    image = await manifestByDigest(client, opts, ref, picked.descriptor.digest);
    platform = picked.platform;
  } else {
    image = top;
    availablePlatforms = [];
    platform = want;
  }

  const manifest = parseJson<Manifest>(image.bytes, `the manifest of ${name}`);
  if (!manifest.config?.digest || !Array.isArray(manifest.layers))
    throw new FnbuildError(`base image ${name}: the manifest ${image.digest} has no config or layers`);
  const configBytes = await configBlob(client, opts, ref, manifest.config);
  const config = parseJson<ImageConfig>(configBytes, `the config of ${name}`);

  if (!indexDigest) {
    // A single-platform image: its config says what it is.
    const own = descriptorPlatform({
      ...manifest.config,
      platform: { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) },
    });
    availablePlatforms = own ? [own] : [];
    const picked = own ? selectPlatform([{ platform: own, descriptor: manifest.config }], want) : undefined;
    if (!picked) throw missingPlatform(name, want, availablePlatforms);
    platform = picked.platform;
  }
  const diffIds = config.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length) {
    throw new FnbuildError(
      `base image ${name}: its config lists ${Array.isArray(diffIds) ? diffIds.length : 'no'} diff_ids for ${manifest.layers.length} layers`,
    );
  }

  const sizes = new Map(manifest.layers.map((l) => [l.digest, l.size]));
  return {
    ref,
    ...(indexDigest ? { indexDigest } : {}),
    manifest: { bytes: image.bytes, digest: image.digest, mediaType: image.mediaType, parsed: manifest },
    config: { bytes: configBytes, digest: manifest.config.digest, parsed: config },
    platform,
    availablePlatforms,
    ensureLayer: (digest: Digest) => {
      if (!sizes.has(digest)) return Promise.reject(new FnbuildError(`base image ${name}: ${digest} is not one of its layers`));
      const size = sizes.get(digest);
      return ensureLayer(client, opts.store, ref, digest, { ...(typeof size === 'number' ? { size } : {}), ...(opts.offline ? { offline: true } : {}) });
    },
  };
}

function uniquePlatforms(ps: Platform[]): Platform[] {
  const seen = new Map<string, Platform>();
  for (const p of ps) if (!seen.has(formatPlatform(p))) seen.set(formatPlatform(p), p);
  return [...seen.values()];
}

function missingPlatform(name: string, want: Platform, available: Platform[]): FnbuildError {
  const list = available.map(formatPlatform).join(', ') || 'none';
  return new FnbuildError(
    `base image ${name} has no ${formatPlatform(want)} image; it has: ${list}`,
    'Build only for platforms the base image offers, or choose a base image that has this one.',
  );
}
