import { promises as fs } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseOptions } from '../binaries/options';
import { settleAll, throwFailures, withBuild, type Build, type BuildRequest, type WithRemoteCache } from '../binaries/build';
import type { BlobRef } from '../cache/store';
import type { Node, Outcome } from '../graph/node';
import { imageAnnotations, isoTime } from '../oci/image';
import { writeDockerArchive, writeLayout, writeOciArchive, type LayoutBlob } from '../oci/layout';
import { checkTag } from '../oci/reference';
import { layerTypeFor, type LayerMediaType } from '../oci/media-types';
import { blobOf, type Descriptor } from '../oci/types';
import type { Target } from '../go/targets';
import type { PlanInput } from '../plan/plan';
import { formatPlatform, platformFolder, samePlatform, type Platform } from '../platform/platform';
import type { FuncYamlPins } from '../functions/func-yaml';
import type { ResolvedSource } from '../functions/git-source';
import { pinFunction } from '../functions/function';
import { FnbuildError } from '../util/errors';
import { writeFileAtomic } from '../util/fs-atomic';
import { imageNode, indexNode, platformLabel } from './assemble';
import { scratch, type Base, type PlatformBase } from './base';
import { binaryLayerNode, filesLayerNode, type LayerData } from './layers';
import { buildImageOptionsSchema, type BuildImageOptions } from './options';
import { registryBase } from './registry-base';
import { buildInfoNode, spdxDocument } from './sbom';

export interface BuildImageRequest extends BuildRequest {
  /** The Nx project's name: the default image name. Default: the project folder's name. */
  projectName?: string;
}

export interface BuiltImage {
  name: string;
  target: string;
  /** What the tags point at: the index, or the manifest of a single-platform image. */
  digest: string;
  mediaType: string;
  tags: string[];
  platforms: { platform: string; digest: string; config: string }[];
  format: string;
  output: string[];
  sbom?: string;
  base?: { name: string; digest?: string };
}

export interface BuildImageResult {
  images: BuiltImage[];
  /** Platforms asked for that the base does not offer (skipped, like ko). */
  warnings: string[];
  /** Set when the sources come from git. */
  source?: ResolvedSource;
  /** Set when this build wrote missing pins into func.yaml. */
  pinned?: FuncYamlPins;
}

/** Only the platforms the base offers are built (the base already refused when it has none of them). */
function choosePlatforms(asked: Platform[], base: Base): { platforms: Platform[]; skipped: Platform[] } {
  if (!base.platforms) return { platforms: asked, skipped: [] };
  const platforms = asked.filter((p) => base.platforms!.some((b) => samePlatform(b, p)));
  return { platforms, skipped: asked.filter((p) => !platforms.includes(p)) };
}

function outputsFor(o: {
  format: string;
  ws: string;
  optionPath?: string;
  name: string;
  targetName: string;
  several: boolean;
  platforms: Platform[];
}): string[] {
  const ext = o.format === 'oci-layout' ? '' : '.tar';
  const path = o.optionPath ? resolve(o.ws, o.several ? join(o.optionPath, o.targetName + ext) : o.optionPath) : resolve(o.ws, 'dist', 'images', o.name + ext);
  if (o.format !== 'docker-archive' || o.platforms.length === 1) return [path];
  // docker load takes one platform per archive: one archive per platform.
  const stem = path.endsWith('.tar') ? path.slice(0, -4) : path;
  return o.platforms.map((p) => `${stem}-${platformFolder(p)}.tar`);
}

async function writeOutput(what: () => Promise<unknown>, path: string): Promise<void> {
  try {
    await fs.mkdir(dirname(path), { recursive: true });
    await what();
  } catch (err) {
    if (err instanceof FnbuildError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new FnbuildError(
      `cannot write the image to ${path}: ${e.code ?? ''} ${e.message}`.trim(),
      'Check that the output path is writable (outputPath option).',
    );
  }
}

/** build-image's options as a plan's: the go command's env is buildEnv (env is the image's). */
export function imagePlanInput(opts: BuildImageOptions): PlanInput {
  const { env: _imageEnv, buildEnv, ...settings } = opts;
  return { settings: { ...settings, ...(buildEnv ? { env: buildEnv } : {}) }, image: opts };
}

/**
 * build-image: for each target, binaries (the compile graph of build-binaries) → a layer
 * per binary (cached by its digest) → image per platform over the base → index → output
 * (OCI layout by default), plus an SPDX SBOM beside it. No daemon anywhere.
 */
export async function buildImage(req: BuildImageRequest): Promise<WithRemoteCache<BuildImageResult>> {
  const opts = parseOptions(buildImageOptionsSchema, req.options, 'build-image');
  await removeImageId(req.workspaceRoot, opts);
  return withBuild(req, imagePlanInput(opts), (b) => imagesOf(b, opts));
}

/** Before anything can fail: a failed build leaves no stale image ID behind. */
export async function removeImageId(workspaceRoot: string, opts: BuildImageOptions): Promise<void> {
  if (opts.iidFile) await fs.rm(resolve(workspaceRoot, opts.iidFile), { force: true });
}

/** What every image of one build shares. */
interface ImageJob {
  b: Build;
  opts: BuildImageOptions;
  image: NonNullable<Build['plan']['image']>;
  base: Base;
  platforms: Platform[];
  mtime: number;
  created: string;
  annotations: Record<string, string>;
  filesLayer: (mediaType: LayerMediaType) => Promise<Outcome<LayerData>>;
  several: boolean;
  format: string;
}

/** The images of a build planned with imagePlanInput (push builds them inside its own build); removeImageId comes first. */
export async function imagesOf(b: Build, opts: BuildImageOptions): Promise<BuildImageResult> {
  const image = b.plan.image;
  if (!image) throw new Error('imagesOf needs a build planned with imagePlanInput');
  const ws = b.plan.workspaceRoot;
  const info = await b.info();
  const mtime = info.epoch;
  const created = isoTime(mtime);
  const base: Base = image.base
    ? await registryBase(image.base, { env: b.plan.env, store: b.store, platforms: b.plan.platforms }, opts, ws)
    : scratch(b.runner, b.store, mtime);
  try {
    const { platforms, skipped } = choosePlatforms(b.plan.platforms, base);
    const warnings = skipped.length ? [`base image ${image.base} has no ${skipped.map(formatPlatform).join(', ')}: not built`] : [];
    image.tags.forEach(checkTag);
    const annotations = imageAnnotations({
      source: info.source,
      revision: info.commit !== 'unknown' ? info.commit : undefined,
      version: b.plan.version ?? info.version,
      created,
      baseName: base.name,
      baseDigest: base.digest,
    });
    const filesLayer = filesLayerOnce(b, opts, mtime);
    const job: ImageJob = {
      b,
      opts,
      image,
      base,
      platforms,
      mtime,
      created,
      annotations,
      filesLayer,
      several: b.plan.targets.length > 1,
      format: opts.format ?? 'oci-layout',
    };
    const { values: images, failures } = await settleAll(b.plan.targets.map((t) => targetImage(job, t)));
    b.signal?.throwIfAborted();
    throwFailures(failures, b.plan.targets.length);
    images.sort((x, y) => (x.name < y.name ? -1 : 1));
    const pinned = await pinFunction(b.plan.fn, b.plan.tc, { name: base.name, digest: base.digest });
    if (opts.metadataFile) await writeFileAtomic(resolve(ws, opts.metadataFile), JSON.stringify({ images }, null, 2) + '\n');
    if (opts.iidFile) await writeFileAtomic(resolve(ws, opts.iidFile), images.map((i) => i.digest).join('\n') + '\n');
    const { source } = b.plan;
    return { images, warnings, ...(source ? { source } : {}), ...(pinned ? { pinned } : {}) };
  } finally {
    await base.close?.();
  }
}

/** The files layer, one per layer media type (a base's manifest type decides it). */
function filesLayerOnce(b: Build, opts: BuildImageOptions, mtime: number): ImageJob['filesLayer'] {
  const layers = new Map<string, Promise<Outcome<LayerData>>>();
  return (mediaType) => {
    let p = layers.get(mediaType);
    if (!p) {
      p = filesLayerNode({ projectRoot: b.plan.projectRoot, files: opts.files!, memo: b.store.statMemo, mtime, mediaType, store: b.store }).then((n) =>
        b.runner.run(n),
      );
      layers.set(mediaType, p);
    }
    return p;
  };
}

/** One platform's image of a target: compile → (files layer) binary layer → image over the base. */
async function platformImage(job: ImageJob, o: { target: Target; platform: Platform; name: string; binaryPath: string }) {
  const { b, opts, image } = job;
  const { target, platform: p, name, binaryPath } = o;
  const compiled = await b.compile(target, p);
  const pb: PlatformBase = await job.base.forPlatform(p);
  const mediaType = layerTypeFor(pb.manifestMediaType);
  const layers: Outcome<LayerData>[] = [];
  if (opts.files?.length) layers.push(await job.filesLayer(mediaType));
  const label = platformLabel(name, p);
  layers.push(
    await b.runner.run(
      binaryLayerNode({ binary: compiled.files.binary, path: binaryPath, label: `layer ${label}`, mtime: job.mtime, mediaType, store: b.store }),
    ),
  );
  const config = {
    entrypoint: image.entrypoint ?? [binaryPath],
    cmd: image.cmd,
    env: Object.keys(image.env).length ? image.env : undefined,
    user: image.user,
    workingDir: image.workingDir,
    ports: opts.ports,
    labels: opts.labels,
    created: job.created,
    history: layers.map((_layer, i) => ({ created_by: i === layers.length - 1 ? `nx-fnbuild: ${target.pattern} → ${binaryPath}` : 'nx-fnbuild: files' })),
  };
  const img = await b.runner.run(
    imageNode({ store: b.store, label, platform: p, base: pb, layers: layers.map((l) => l.data), config, annotations: job.annotations }),
  );
  return { platform: p, pb, layers, img, binary: compiled.files.binary };
}

type PlatformImage = Awaited<ReturnType<typeof platformImage>>;

/** A target's image: one per platform, under an index when there are several, written out, with its SBOM. */
async function targetImage(job: ImageJob, target: Target): Promise<BuiltImage> {
  const { b, opts, image, platforms, format } = job;
  const name = job.several ? `${image.name}-${target.name}` : image.name;
  const binaryPath = image.binaryPath.split('{name}').join(target.name);
  const perPlatform = await settleAll(platforms.map((platform) => platformImage(job, { target, platform, name, binaryPath })));
  b.signal?.throwIfAborted();
  throwFailures(perPlatform.failures, platforms.length);
  const built = perPlatform.values.sort((x, y) => platforms.indexOf(x.platform) - platforms.indexOf(y.platform));
  const { top, topBlob } = await topOf(job, name, built);
  const ws = b.plan.workspaceRoot;
  const outputs = outputsFor({
    format,
    ws,
    optionPath: opts.outputPath,
    name,
    targetName: target.name,
    several: job.several,
    platforms: built.map((x) => x.platform),
  });
  await b.runner.run(outputNode({ name, format, outputs, ws, built, top, topBlob, tags: image.tags, mtime: job.mtime }));
  const sbom = opts.sbom === false ? undefined : await writeSbom(job, { name, built, output: outputs[0] });
  return {
    name,
    target: target.pattern,
    digest: top.digest,
    mediaType: top.mediaType,
    tags: image.tags,
    platforms: built.map((x) => ({ platform: formatPlatform(x.platform), digest: x.img.data.manifest.digest, config: x.img.data.config.digest })),
    format,
    output: outputs,
    sbom,
    base: job.base.name ? { name: job.base.name, digest: job.base.digest } : undefined,
  };
}

/** What the tags point at: the one manifest, or an index over several. */
async function topOf(job: ImageJob, name: string, built: PlatformImage[]): Promise<{ top: Descriptor; topBlob: BlobRef }> {
  if (built.length === 1) return { top: built[0].img.data.manifest, topBlob: built[0].img.files.manifest };
  const { b, annotations } = job;
  const idx = await b.runner.run(
    indexNode({
      store: b.store,
      label: name,
      manifests: built.map((x) => x.img.data.manifest),
      annotations,
      baseManifestMediaType: built[0].pb.manifestMediaType,
    }),
  );
  return { top: idx.data.index, topBlob: idx.files.index };
}

const baseBlobs = async (x: PlatformImage): Promise<BlobRef[]> => Promise.all(x.pb.layers.map((l) => l.blob()));

/** output(T): the OCI layout, OCI archive or docker archives, written from the store. */
function outputNode(o: {
  name: string;
  format: string;
  outputs: string[];
  ws: string;
  built: PlatformImage[];
  top: Descriptor;
  topBlob: BlobRef;
  tags: string[];
  mtime: number;
}): Node<null> {
  const { outputs, built, mtime } = o;
  return {
    kind: 'output',
    id: `output ${o.name}`,
    label: `${o.format} ${outputs.map((x) => x.slice(o.ws.length + 1)).join(', ')}`,
    async run() {
      if (o.format === 'docker-archive') {
        const read = async (ref: BlobRef, mt: string) => blobOf(await fs.readFile(ref.path), mt);
        for (const [i, x] of built.entries()) {
          const archive = async () => ({
            manifest: await read(x.img.files.manifest, x.img.data.manifest.mediaType),
            config: await read(x.img.files.config, x.img.data.config.mediaType),
            layers: [...(await baseBlobs(x)), ...x.layers.map((l) => l.files.layer)],
            repoTags: o.tags.map((t) => `${o.name}:${t}`),
            mtime,
          });
          await writeOutput(async () => writeDockerArchive(outputs[i], await archive()), outputs[i]);
        }
        return { data: null };
      }
      const blobs: LayoutBlob[] = [o.topBlob];
      for (const x of built) blobs.push(x.img.files.config, x.img.files.manifest, ...x.layers.map((l) => l.files.layer), ...(await baseBlobs(x)));
      const image = { top: { ...o.topBlob, mediaType: o.top.mediaType }, blobs, tags: o.tags };
      await writeOutput(() => (o.format === 'oci-archive' ? writeOciArchive(outputs[0], image, { mtime }) : writeLayout(outputs[0], image)), outputs[0]);
      return { data: null };
    },
  };
}

/** The SPDX SBOM beside the output, from the binaries' build info. */
async function writeSbom(job: ImageJob, o: { name: string; built: PlatformImage[]; output: string }): Promise<string> {
  const { b } = job;
  const infos = await Promise.all(o.built.map((x) => b.runner.run(buildInfoNode(b.plan.tc, x.binary, platformLabel(o.name, x.platform)))));
  const sbom = `${o.output.replace(/(-[a-z0-9_.]+)?\.tar$/, '')}.spdx.json`;
  const doc = spdxDocument({ imageName: o.name, created: job.created, infos: infos.map((i) => i.data) });
  await writeOutput(() => writeFileAtomic(sbom, doc), sbom);
  return sbom;
}
