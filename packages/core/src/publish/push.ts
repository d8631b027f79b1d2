import { promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import type { Runner } from '../graph/node';
import { isIndex } from '../oci/media-types';
import { layoutBlobPath, readLayout, readLayoutBlob } from '../oci/read-layout';
import { serialize, type Descriptor, type Index, type Manifest } from '../oci/types';
import { fileBlob, type RegistryClient, type UploadOutcome } from '../registry/client';
import { formatRepository, normalizeRegistry, parseReference, type RepoRef } from '../oci/reference';
import { FnbuildError } from '../util/errors';
import { sha256, type Digest } from '../util/hash';

export interface PushDestination {
  repository: RepoRef;
  tags: string[];
}

export interface PushedRef {
  repository: string;
  tag: string;
  digest: Digest;
}

export interface PushOutcome {
  refs: PushedRef[];
  /** Blobs by what it took to make them present. */
  blobs: Record<UploadOutcome, number>;
  /** Repositories where every tag already named this digest: one HEAD per tag, nothing else. */
  unchanged: string[];
  /** The SBOM beside the image, in each destination. */
  sboms: PushedRef[];
  /** Time spent talking to registries (the build or lookup of the image excluded). */
  ms: number;
}

const SBOM_TYPE = 'text/spdx+json';
const EMPTY_TYPE = 'application/vnd.oci.empty.v1+json';
const BASE_NAME = 'org.opencontainers.image.base.name';

/** Everything a top-level descriptor needs in the registry, children first: blobs, then manifests. */
async function contents(layout: string, top: Descriptor): Promise<{ blobs: Descriptor[]; manifests: Descriptor[]; baseName?: string }> {
  const manifests: Descriptor[] = isIndex(top.mediaType) ? (JSON.parse((await readLayoutBlob(layout, top)).toString('utf8')) as Index).manifests : [top];
  const blobs = new Map<string, Descriptor>();
  let baseName: string | undefined;
  for (const m of manifests) {
    const doc = JSON.parse((await readLayoutBlob(layout, m)).toString('utf8')) as Manifest;
    baseName ??= doc.annotations?.[BASE_NAME];
    for (const d of [doc.config, ...doc.layers]) blobs.set(d.digest, d);
  }
  return { blobs: [...blobs.values()], manifests: isIndex(top.mediaType) ? manifests : [], baseName };
}

/**
 * Publishes one image of an OCI layout to each destination, in the only safe order:
 * blobs (HEAD first, a cross-repository mount when another repository of the registry
 * has them, else a streamed upload), then manifests by digest, then the index, and the
 * tags last, so a tag never names something half uploaded. A destination whose tags all
 * name the digest already costs one HEAD per tag.
 */
export async function pushImage(o: {
  client: RegistryClient;
  layout: string;
  /** The tag in the layout that names the image. */
  layoutTag: string;
  destinations: PushDestination[];
  sbomFile?: string;
  /** Repositories (of any registry) that earlier pushes filled: blobs are mounted from one on the same registry. */
  knownRepositories?: RepoRef[];
  /** Runs the blob uploads: bounded, reported. */
  runner: Runner;
}): Promise<PushOutcome> {
  const started = performance.now();
  const top = (await readLayout(o.layout)).byTag.get(o.layoutTag);
  if (!top) throw new FnbuildError(`${o.layout} has no image tagged "${o.layoutTag}"`, 'Run build-image first (push depends on it).');
  const topBytes = await readLayoutBlob(o.layout, top);
  const outcome: PushOutcome = { refs: [], blobs: { exists: 0, mounted: 0, uploaded: 0 }, unchanged: [], sboms: [], ms: 0 };
  let what: Awaited<ReturnType<typeof contents>> | undefined;
  const pushedTo: RepoRef[] = [];

  for (const dest of o.destinations) {
    const repo = formatRepository(dest.repository);
    const current = await Promise.all(dest.tags.map((t) => o.client.headManifest({ ...dest.repository, tag: t })));
    if (current.every((d) => d?.digest === top.digest)) {
      outcome.unchanged.push(repo);
      outcome.refs.push(...dest.tags.map((tag) => ({ repository: repo, tag, digest: top.digest })));
      continue;
    }
    what ??= await contents(o.layout, top);
    // Mount from a repository of the same registry that has the blobs: one we pushed to, or the base's.
    const sameRegistry = (r: RepoRef) => normalizeRegistry(r.registry) === normalizeRegistry(dest.repository.registry);
    const base = what.baseName ? safeRepo(what.baseName) : undefined;
    const differs = (r: RepoRef) => sameRegistry(r) && r.repository !== dest.repository.repository;
    const mountFrom = pushedTo.find(differs) ?? (o.knownRepositories ?? []).find(differs) ?? (base && differs(base) ? base : undefined);
    const results = await Promise.all(
      what.blobs.map((d) =>
        o.runner.run({
          kind: 'push',
          id: `blob ${repo} ${d.digest}`,
          label: `blob ${d.digest.slice(7, 19)} → ${repo}`,
          run: async () => ({ data: await o.client.uploadBlob(dest.repository, fileBlob(layoutBlobPath(o.layout, d.digest), d), { mountFrom }) }),
        }),
      ),
    );
    for (const r of results) outcome.blobs[r.data]++;
    for (const m of what.manifests) await o.client.putManifest(dest.repository, m.digest, await readLayoutBlob(o.layout, m), m.mediaType);
    await o.client.putManifest(dest.repository, top.digest, topBytes, top.mediaType);
    for (const tag of dest.tags) {
      await o.client.putManifest(dest.repository, tag, topBytes, top.mediaType);
      outcome.refs.push({ repository: repo, tag, digest: top.digest });
    }
    pushedTo.push(dest.repository);
  }

  if (o.sbomFile) {
    const spdx = await fs.readFile(o.sbomFile);
    const candidates = [...o.destinations.map((d) => d.repository), ...(o.knownRepositories ?? [])];
    for (const dest of o.destinations) {
      const mountFrom = candidates.find(
        (r) => normalizeRegistry(r.registry) === normalizeRegistry(dest.repository.registry) && r.repository !== dest.repository.repository,
      );
      outcome.sboms.push(await pushSbom(o.client, dest.repository, top.digest, spdx, mountFrom));
    }
  }
  outcome.ms = performance.now() - started;
  return outcome;
}

function safeRepo(name: string): RepoRef | undefined {
  try {
    const r = parseReference(name);
    return { registry: r.registry, repository: r.repository };
  } catch {
    return undefined;
  }
}

/**
 * The SBOM beside the image, where cosign and ko put it: an OCI artifact (empty config,
 * one `text/spdx+json` layer) tagged `sha256-<digest>.sbom`. Unchanged: one HEAD.
 */
export async function pushSbom(client: RegistryClient, repository: RepoRef, subject: Digest, spdx: Buffer, mountFrom?: RepoRef): Promise<PushedRef> {
  const empty = Buffer.from('{}');
  const layer = { mediaType: SBOM_TYPE, digest: sha256(spdx), size: spdx.length };
  const config = { mediaType: EMPTY_TYPE, digest: sha256(empty), size: empty.length };
  const m = serialize(
    { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] } as Manifest,
    'application/vnd.oci.image.manifest.v1+json',
  );
  const tag = `sha256-${subject.slice(7)}.sbom`;
  const repo = formatRepository(repository);
  if ((await client.headManifest({ ...repository, tag }))?.digest === m.digest) return { repository: repo, tag, digest: m.digest };
  for (const [d, bytes] of [
    [config, empty],
    [layer, spdx],
  ] as const) {
    await client.uploadBlob(repository, { digest: d.digest, size: d.size, open: () => Readable.from([bytes]) }, { mountFrom });
  }
  await client.putManifest(repository, tag, m.bytes, m.mediaType);
  return { repository: repo, tag, digest: m.digest };
}
