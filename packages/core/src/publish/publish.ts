import { resolve } from 'node:path';
import { parseOptions } from '../binaries/options';
import type { BuildRequest } from '../binaries/session';
import { expandTemplate } from '../build/templates';
import { sourceInfo } from '../build/source-info';
import { limitingRunner } from '../graph/limiting';
import { directRunner } from '../graph/node';
import { reportingRunner } from '../graph/reporting';
import { buildImage } from '../images/build-image';
import { RegistryClient } from '../registry/client';
import { checkTag, formatRepository, normalizeRegistry, parseRepository, type RepoRef } from '../oci/reference';
import { Store } from '../cache/store';
import { defaultCacheDir } from '../binaries/session';
import { keyOf } from '../util/hash';
import { FnbuildError } from '../util/errors';
import { writeFileAtomic } from '../util/fs-atomic';
import { pushOptionsSchema } from './options';
import { pushImage, type PushedRef, type PushOutcome } from './push';

export interface PushRequest extends BuildRequest {
  projectName?: string;
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

/**
 * push: builds (or finds, when nothing changed) the image with the build target's
 * options, then publishes it to every repository. Never cached: a side effect, but an
 * idempotent one.
 */
export async function pushImages(req: PushRequest): Promise<PushedImage[]> {
  const opts = parseOptions(pushOptionsSchema, req.options, 'push');
  const env = req.env ?? process.env;
  const format = (req.buildOptions.format as string | undefined) ?? 'oci-layout';
  if (format !== 'oci-layout') throw new FnbuildError(`push reads the OCI layout build-image writes, but the build target's format is ${format}`, 'Use format "oci-layout" (the default) on the build target.');

  const repos = opts.repository ?? (env.NX_FNBUILD_REGISTRY ? [] : undefined);
  if (!repos) throw new FnbuildError('push needs a repository', 'Set the "repository" option (e.g. registry.example.com/team/server) or NX_FNBUILD_REGISTRY (a registry/prefix).');
  const password = opts.passwordEnv ? env[opts.passwordEnv] : undefined;
  if (opts.passwordEnv && password === undefined) throw new FnbuildError(`passwordEnv names ${opts.passwordEnv}, but ${opts.passwordEnv} is not set`, 'Export it in the environment (CI secret) before pushing.');
  if (password !== undefined && !opts.username) throw new FnbuildError('passwordEnv is set but username is not', 'Set "username" too (for a token, the registry\'s token user name).');
  // Fail on a malformed repository before building anything.
  repos.forEach((r) => parseRepository(r));

  const built = await buildImage({ ...req, options: req.buildOptions });
  const several = built.images.length > 1;
  const hosts = new Set<string>();
  const plan = built.images.map((image) => {
    const targetName = image.target.split('/').pop() || image.name;
    const dests = env.NX_FNBUILD_REGISTRY && !opts.repository ? [parseRepository(`${env.NX_FNBUILD_REGISTRY.replace(/\/$/, '')}/${image.name}`)] : destinations(repos, several, targetName);
    dests.forEach((d) => hosts.add(normalizeRegistry(d.registry)));
    return { image, dests };
  });
  const explicit = opts.username && password !== undefined ? Object.fromEntries([...hosts].map((h) => [h, { username: opts.username!, password }])) : undefined;
  const client = new RegistryClient({
    insecureRegistries: opts.insecureRegistries,
    caFile: opts.caFile ? resolve(req.workspaceRoot, opts.caFile) : undefined,
    credentials: { explicit, dockerConfigDir: env.DOCKER_CONFIG, registryAuthFile: env.REGISTRY_AUTH_FILE, env },
  });
  const runner = reportingRunner(limitingRunner(directRunner(), opts.parallelism ?? 4), req.report ?? (() => {}));
  // Where earlier pushes went: a new repository on the same registry mounts blobs from there.
  const store = await Store.open(defaultCacheDir(req.workspaceRoot, env, req.buildOptions.cacheDir as string | undefined));
  const memoKey = keyOf({ kind: 'pushed-repositories', v: 1 });
  const known = ((await store.getMemo<string[]>(memoKey)) ?? []).flatMap((r) => {
    try {
      return [parseRepository(r)];
    } catch {
      return [];
    }
  });
  const info = sourceInfo(req.projectRoot, env, req.buildOptions.version as string | undefined);
  try {
    const out: PushedImage[] = [];
    for (const { image, dests } of plan) {
      const tags = opts.tags
        ? [...new Set(await Promise.all(opts.tags.map((t) => expandTemplate(t, 'tags', info, env, req.buildOptions.version as string | undefined))))]
        : image.tags;
      tags.forEach(checkTag);
      const pushed = await pushImage({
        client,
        layout: image.output[0],
        layoutTag: image.tags[0],
        destinations: dests.map((repository) => ({ repository, tags })),
        sbomFile: opts.sbom === false ? undefined : image.sbom,
        knownRepositories: known,
        runner,
      });
      out.push({ name: image.name, digest: image.digest, ...pushed });
      known.unshift(...dests);
    }
    const recent = [...new Set(known.map(formatRepository))].slice(0, 50);
    await store.putMemo(memoKey, recent);
    if (opts.metadataFile) {
      const refs = (r: PushedRef) => `${r.repository}:${r.tag}@${r.digest}`;
      await writeFileAtomic(resolve(req.workspaceRoot, opts.metadataFile), JSON.stringify({ images: out.map((i) => ({ name: i.name, digest: i.digest, refs: i.refs.map(refs), sboms: i.sboms.map(refs) })) }, null, 2) + '\n');
    }
    return out;
  } finally {
    client.close();
    await store.close();
  }
}
