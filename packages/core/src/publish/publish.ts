import { resolve } from 'node:path';
import { withBuild, type Build, type BuildRequest, type WithRemoteCache } from '../binaries/build';
import { parseOptions } from '../binaries/options';
import { expandTemplate } from '../build/templates';
import { limitingRunner } from '../graph/limiting';
import { directRunner } from '../graph/node';
import { reportingRunner } from '../graph/reporting';
import { imagePlanInput, imagesOf, removeImageId, type BuiltImage } from '../images/build-image';
import { buildImageOptionsSchema } from '../images/options';
import { checkTag, formatRepository, normalizeRegistry, parseRepository, type RepoRef } from '../oci/reference';
import { RegistryClient } from '../registry/client';
import { keyOf } from '../util/hash';
import { FnbuildError } from '../util/errors';
import { writeFileAtomic } from '../util/fs-atomic';
import { pushOptionsSchema, type PushOptions } from './options';
import { pushImage, type PushedRef, type PushOutcome } from './push';

export interface PushRequest extends BuildRequest {
  /** The build-image options (the build target's), used to build or find the image. */
  buildOptions: Record<string, unknown>;
}

export interface PushedImage extends PushOutcome {
  name: string;
  digest: string;
}

/** One image: the repositories as given. Several (a project with several targets): <repository>/<target>, like ko. */
function destinations(repos: string[], several: boolean, targetName: string): RepoRef[] {
  return repos.map((r) => parseRepository(several ? `${r}/${targetName}` : r));
}

/** The checks that need no build: a bad repository or missing credentials fail before anything is built. */
function checkPush(opts: PushOptions, env: Record<string, string | undefined>, format: string): { repos: string[]; password?: string } {
  if (format !== 'oci-layout')
    throw new FnbuildError(
      `push reads the OCI layout build-image writes, but the build target's format is ${format}`,
      'Use format "oci-layout" (the default) on the build target.',
    );
  const repos = opts.repository ?? (env.NX_FNBUILD_REGISTRY ? [] : undefined);
  if (!repos)
    throw new FnbuildError(
      'push needs a repository',
      'Set the "repository" option (e.g. registry.example.com/team/server) or NX_FNBUILD_REGISTRY (a registry/prefix).',
    );
  const password = opts.passwordEnv ? env[opts.passwordEnv] : undefined;
  if (opts.passwordEnv && password === undefined)
    throw new FnbuildError(
      `passwordEnv names ${opts.passwordEnv}, but ${opts.passwordEnv} is not set`,
      'Export it in the environment (CI secret) before pushing.',
    );
  if (password !== undefined && !opts.username)
    throw new FnbuildError('passwordEnv is set but username is not', 'Set "username" too (for a token, the registry\'s token user name).');
  repos.forEach((r) => parseRepository(r));
  return { repos, ...(password !== undefined ? { password } : {}) };
}

/**
 * push: builds (or finds, when nothing changed) the image with the build target's
 * options, then publishes it to every repository. Never cached: a side effect, but an
 * idempotent one. The image, its tags' {version} and the cache are the build's plan's.
 */
export async function pushImages(req: PushRequest): Promise<WithRemoteCache<PushedImage[]>> {
  const opts = parseOptions(pushOptionsSchema, req.options, 'push');
  const buildOpts = parseOptions(buildImageOptionsSchema, req.buildOptions, 'build-image');
  const env = req.env ?? process.env;
  const checked = checkPush(opts, env, buildOpts.format ?? 'oci-layout');
  await removeImageId(req.workspaceRoot, buildOpts);
  // The build's remote cache unless push names its own.
  const remoteCache = opts.remoteCache ?? buildOpts.remoteCache;
  return withBuild({ ...req, options: req.buildOptions }, imagePlanInput({ ...buildOpts, ...(remoteCache ? { remoteCache } : {}) }), async (b) =>
    publish(b, { images: (await imagesOf(b, buildOpts)).images, opts, env, ...checked, ...(remoteCache ? { remoteCache } : {}) }),
  );
}

async function publish(
  b: Build,
  o: { images: BuiltImage[]; opts: PushOptions; env: Record<string, string | undefined>; repos: string[]; password?: string; remoteCache?: string },
): Promise<PushedImage[]> {
  const { opts, env } = o;
  const several = o.images.length > 1;
  const hosts = new Set<string>();
  const plan = o.images.map((image) => {
    const targetName = image.target.split('/').pop() || image.name;
    const dests =
      env.NX_FNBUILD_REGISTRY && !opts.repository
        ? [parseRepository(`${env.NX_FNBUILD_REGISTRY.replace(/\/$/, '')}/${image.name}`)]
        : destinations(o.repos, several, targetName);
    dests.forEach((d) => hosts.add(normalizeRegistry(d.registry)));
    return { image, dests };
  });
  const explicit =
    opts.username && o.password !== undefined ? Object.fromEntries([...hosts].map((h) => [h, { username: opts.username!, password: o.password! }])) : undefined;
  const client = new RegistryClient({
    insecureRegistries: opts.insecureRegistries,
    caFile: opts.caFile ? resolve(b.plan.workspaceRoot, opts.caFile) : undefined,
    credentials: { explicit, dockerConfigDir: env.DOCKER_CONFIG, registryAuthFile: env.REGISTRY_AUTH_FILE, env },
  });
  const runner = reportingRunner(limitingRunner(directRunner(undefined, { signal: b.signal }), opts.parallelism ?? 4, { signal: b.signal }), b.report);
  // Where earlier pushes went: a new repository on the same registry mounts blobs from there.
  const memoKey = keyOf({ kind: 'pushed-repositories', v: 1 });
  const known = ((await b.store.getMemo<string[]>(memoKey)) ?? []).flatMap((r) => {
    try {
      return [parseRepository(r)];
    } catch {
      return [];
    }
  });
  const cache = ociCacheRepository(o.remoteCache?.trim() || env.NX_FNBUILD_REMOTE_CACHE);
  try {
    const out: PushedImage[] = [];
    for (const { image, dests } of plan) {
      const tags = opts.tags ? [...new Set(await Promise.all(opts.tags.map((t) => expandTemplate(t, 'tags', b.info, env, b.plan.version))))] : image.tags;
      tags.forEach(checkTag);
      const pushed = await pushImage({
        client,
        layout: image.output[0],
        layoutTag: image.tags[0],
        destinations: dests.map((repository) => ({ repository, tags })),
        sbomFile: opts.sbom === false ? undefined : image.sbom,
        // Last resort: the image's layers may be in the remote cache's repository (an image layer is a node's output).
        knownRepositories: [...known, ...cache],
        runner,
      });
      out.push({ name: image.name, digest: image.digest, ...pushed });
      known.unshift(...dests);
    }
    await b.store.putMemo(memoKey, [...new Set(known.map(formatRepository))].slice(0, 50));
    if (opts.metadataFile) await writeMetadata(resolve(b.plan.workspaceRoot, opts.metadataFile), out);
    return out;
  } finally {
    client.close();
  }
}

/** The repository of an oci:// remote cache, to mount blobs from on the same registry; none for another kind. */
function ociCacheRepository(url: string | undefined): RepoRef[] {
  const m = /^oci:\/\/(.+?)\/*$/.exec(url?.trim() ?? '');
  if (!m) return [];
  try {
    return [parseRepository(m[1]!)];
  } catch {
    return [];
  }
}

async function writeMetadata(path: string, out: PushedImage[]): Promise<void> {
  const refs = (r: PushedRef) => `${r.repository}:${r.tag}@${r.digest}`;
  await writeFileAtomic(
    path,
    JSON.stringify({ images: out.map((i) => ({ name: i.name, digest: i.digest, refs: i.refs.map(refs), sboms: i.sboms.map(refs) })) }, null, 2) + '\n',
  );
}
