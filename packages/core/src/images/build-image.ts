import { promises as fs } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseOptions } from '../binaries/options';
import { settleAll, throwFailures, withSession, type BuildRequest } from '../binaries/session';
import { expandTemplate } from '../build/templates';
import type { BlobRef } from '../cache/store';
import type { Outcome } from '../graph/node';
import { imageAnnotations, isoTime } from '../oci/image';
import { writeDockerArchive, writeLayout, writeOciArchive, type LayoutBlob } from '../oci/layout';
import { checkTag } from '../oci/reference';
import { layerTypeFor } from '../oci/media-types';
import { blobOf, type Descriptor } from '../oci/types';
import { formatPlatform, parsePlatform, platformFolder, samePlatform, type Platform } from '../platform/platform';
import { pinFuncYaml, type FuncYamlPins } from '../functions/func-yaml';
import type { ResolvedSource } from '../functions/git-source';
import { toolchainPins } from '../functions/function';
import { FnbuildError } from '../util/errors';
import { writeFileAtomic } from '../util/fs-atomic';
import { imageNode, indexNode, platformLabel } from './assemble';
import { scratch, type Base, type PlatformBase } from './base';
import { binaryLayerNode, filesLayerNode, type LayerData } from './layers';
import { buildImageOptionsSchema } from './options';
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

function outputsFor(o: { format: string; ws: string; optionPath?: string; name: string; targetName: string; several: boolean; platforms: Platform[] }): string[] {
  const ext = o.format === 'oci-layout' ? '' : '.tar';
  const path = o.optionPath
    ? resolve(o.ws, o.several ? join(o.optionPath, o.targetName + ext) : o.optionPath)
    : resolve(o.ws, 'dist', 'images', o.name + ext);
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
    throw new FnbuildError(`cannot write the image to ${path}: ${e.code ?? ''} ${e.message}`.trim(), 'Check that the output path is writable (outputPath option).');
  }
}

/**
 * build-image: for each target, binaries (the compile graph of build-binaries) → a layer
 * per binary (cached by its digest) → image per platform over the base → index → output
 * (OCI layout by default), plus an SPDX SBOM beside it. No daemon anywhere.
 */
export async function buildImage(req: BuildImageRequest): Promise<BuildImageResult> {
  const opts = parseOptions(buildImageOptionsSchema, req.options, 'build-image');
  const ws = req.workspaceRoot;
  const iidFile = opts.iidFile ? resolve(ws, opts.iidFile) : undefined;
  if (iidFile) await fs.rm(iidFile, { force: true }); // a failed build leaves no stale image ID
  const format = opts.format ?? 'oci-layout';
  const { env: imageEnv, ...buildOpts } = opts;

  return withSession(req, buildOpts, () => [parsePlatform('linux/amd64')], async (s) => {
    const info = await s.info();
    const mtime = info.epoch;
    const created = isoTime(mtime);
    // A function's func.yaml pins the base (run_image); baseImage is what fills a missing pin.
    const fy = s.fn?.funcYaml?.data;
    const baseOption = fy?.run_image ?? opts.baseImage;
    const baseRef = baseOption && baseOption !== 'scratch' ? baseOption : undefined;
    const base: Base = baseRef ? await registryBase(baseRef, s, opts, ws) : scratch(s.runner, s.store, mtime);
    try {
      const { platforms, skipped } = choosePlatforms(s.platforms, base);
      const warnings = skipped.length ? [`base image ${baseRef} has no ${skipped.map(formatPlatform).join(', ')}: not built`] : [];

      const tagTemplates = opts.tags ?? (fy?.version ? [fy.version] : ['latest', '{version}']);
      const tags = [...new Set(await Promise.all(tagTemplates.map((t) => expandTemplate(t, 'tags', s.info, s.env, s.version))))];
      tags.forEach(checkTag);

      const projectName = fy?.name ?? req.projectName ?? basename(req.projectRoot);
      const words = (v?: string) => v?.trim().split(/\s+/).filter(Boolean);
      // Fn's layout: `entrypoint: ./func` runs the binary "func" from /function.
      const fnRelative = !opts.entrypoint && !opts.binaryPath && /^\.\/[A-Za-z0-9._-]+$/.exec(words(fy?.entrypoint)?.[0] ?? '')?.[0];
      const binaryPathOption = opts.binaryPath ?? (fnRelative ? `/function/${fnRelative.slice(2)}` : undefined);
      const workingDir = opts.workingDir ?? (fnRelative ? '/function' : undefined);
      const config = {
        entrypoint: opts.entrypoint ?? words(fy?.entrypoint),
        cmd: opts.cmd ?? words(fy?.cmd),
        // func.yaml's config is the function's environment; FUNCTION_TARGET tells the framework which function to serve.
        env: { ...(s.fn?.framework && s.fn.functionName ? { FUNCTION_TARGET: s.fn.functionName } : {}), ...(fy?.config ?? {}), ...(imageEnv ?? {}) },
      };
      const several = s.targets.length > 1;
      const filesLayers = new Map<string, Promise<Outcome<LayerData>>>();
      const filesLayer = (mediaType: ReturnType<typeof layerTypeFor>) => {
        let p = filesLayers.get(mediaType);
        if (!p) {
          p = filesLayerNode({ projectRoot: req.projectRoot, files: opts.files!, memo: s.store.statMemo, mtime, mediaType, store: s.store }).then((n) => s.runner.run(n));
          filesLayers.set(mediaType, p);
        }
        return p;
      };
      const annotations = imageAnnotations({
        source: info.source,
        revision: info.commit !== 'unknown' ? info.commit : undefined,
        version: s.version ?? info.version,
        created,
        baseName: base.name,
        baseDigest: base.digest,
      });

      const jobs = s.targets.map(async (target): Promise<BuiltImage> => {
        const name = several ? `${opts.imageName ?? projectName}-${target.name}` : (opts.imageName ?? projectName);
        const binaryPath = (binaryPathOption ?? '/app/{name}').split('{name}').join(target.name);
        const perPlatform = await settleAll(
          platforms.map(async (p) => {
            const compiled = await s.compile(target, p);
            const pb: PlatformBase = await base.forPlatform(p);
            const mediaType = layerTypeFor(pb.manifestMediaType);
            const layers: Outcome<LayerData>[] = [];
            if (opts.files?.length) layers.push(await filesLayer(mediaType));
            const label = platformLabel(name, p);
            layers.push(await s.runner.run(binaryLayerNode({ binary: compiled.files.binary, path: binaryPath, label: `layer ${label}`, mtime, mediaType, store: s.store })));
            const img = await s.runner.run(
              imageNode({
                store: s.store,
                label,
                platform: p,
                base: pb,
                layers: layers.map((l) => l.data),
                config: {
                  entrypoint: config.entrypoint ?? [binaryPath],
                  cmd: config.cmd,
                  env: Object.keys(config.env).length ? config.env : undefined,
                  user: opts.user ?? '65532:65532',
                  workingDir,
                  ports: opts.ports,
                  labels: opts.labels,
                  created,
                  history: layers.map((_layer, i) => ({ created_by: i === layers.length - 1 ? `nx-fnbuild: ${target.pattern} → ${binaryPath}` : 'nx-fnbuild: files' })),
                },
                annotations,
              }),
            );
            return { platform: p, pb, layers, img, binary: compiled.files.binary };
          }),
        );
        throwFailures(perPlatform.failures, platforms.length);
        const built = perPlatform.values.sort((a, b) => platforms.indexOf(a.platform) - platforms.indexOf(b.platform));

        const ownBlobs = (b: (typeof built)[number]): LayoutBlob[] => [b.img.files.config, b.img.files.manifest, ...b.layers.map((l) => l.files.layer)];
        const baseBlobs = async (b: (typeof built)[number]): Promise<BlobRef[]> => Promise.all(b.pb.layers.map((l) => l.blob()));
        let top: Descriptor;
        let topBlob: BlobRef;
        if (built.length === 1) {
          top = built[0].img.data.manifest;
          topBlob = built[0].img.files.manifest;
        } else {
          const idx = await s.runner.run(indexNode({ store: s.store, label: name, manifests: built.map((b) => b.img.data.manifest), annotations, baseManifestMediaType: built[0].pb.manifestMediaType }));
          top = idx.data.index;
          topBlob = idx.files.index;
        }

        const outputs = outputsFor({ format, ws, optionPath: opts.outputPath, name, targetName: target.name, several, platforms: built.map((b) => b.platform) });
        await s.runner.run({
          kind: 'output',
          id: `output ${name}`,
          label: `${format} ${outputs.map((o) => o.slice(ws.length + 1)).join(', ')}`,
          async run() {
            if (format === 'docker-archive') {
              for (const [i, b] of built.entries()) {
                const read = async (ref: BlobRef, mt: string) => blobOf(await fs.readFile(ref.path), mt);
                await writeOutput(
                  async () =>
                    writeDockerArchive(outputs[i], {
                      manifest: await read(b.img.files.manifest, b.img.data.manifest.mediaType),
                      config: await read(b.img.files.config, b.img.data.config.mediaType),
                      layers: [...(await baseBlobs(b)), ...b.layers.map((l) => l.files.layer)],
                      repoTags: tags.map((t) => `${name}:${t}`),
                      mtime,
                    }),
                  outputs[i],
                );
              }
              return { data: null };
            }
            const blobs: LayoutBlob[] = [topBlob];
            for (const b of built) blobs.push(...ownBlobs(b), ...(await baseBlobs(b)));
            const image = { top: { ...topBlob, mediaType: top.mediaType }, blobs, tags };
            await writeOutput(() => (format === 'oci-archive' ? writeOciArchive(outputs[0], image, { mtime }) : writeLayout(outputs[0], image)), outputs[0]);
            return { data: null };
          },
        });

        let sbom: string | undefined;
        if (opts.sbom !== false) {
          const infos = await Promise.all(built.map((b) => s.runner.run(buildInfoNode(s.tc, b.binary, platformLabel(name, b.platform)))));
          sbom = `${outputs[0].replace(/(-[a-z0-9_.]+)?\.tar$/, '')}.spdx.json`;
          const doc = spdxDocument({ imageName: name, created, infos: infos.map((i) => i.data) });
          await writeOutput(() => writeFileAtomic(sbom!, doc), sbom);
        }
        return {
          name,
          target: target.pattern,
          digest: top.digest,
          mediaType: top.mediaType,
          tags,
          platforms: built.map((b) => ({ platform: formatPlatform(b.platform), digest: b.img.data.manifest.digest, config: b.img.data.config.digest })),
          format,
          output: outputs,
          sbom,
          base: base.name ? { name: base.name, digest: base.digest } : undefined,
        };
      });
      const { values: images, failures } = await settleAll(jobs);
      throwFailures(failures, jobs.length);
      images.sort((a, b) => (a.name < b.name ? -1 : 1));
      let pinned: FuncYamlPins | undefined;
      if (s.fn?.funcYaml) {
        // The first build pins what it used; later builds read the pins back (see func-yaml.ts).
        const runImage = base.name ? (base.name.includes('@') ? base.name : `${base.name}@${base.digest}`) : 'scratch';
        pinned = await pinFuncYaml(s.fn.funcYaml, { ...toolchainPins(s.tc), run_image: runImage });
      }
      if (opts.metadataFile) await writeFileAtomic(resolve(ws, opts.metadataFile), JSON.stringify({ images }, null, 2) + '\n');
      if (iidFile) await writeFileAtomic(iidFile, images.map((i) => i.digest).join('\n') + '\n');
      return { images, warnings, ...(s.source ? { source: s.source } : {}), ...(pinned ? { pinned } : {}) };
    } finally {
      await base.close?.();
    }
  });
}
