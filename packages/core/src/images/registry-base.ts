import { resolve } from 'node:path';
import type { Store } from '../cache/store';
import { formatPlatform, type Platform } from '../platform/platform';
import { RegistryClient } from '../registry/client';
import { resolveImage, type ResolvedImage } from '../registry/pull';
import { parseReference } from '../oci/reference';
import type { Base } from './base';
import type { BuildImageOptions } from './options';

/** The env that points the registry client at credentials: Docker's config dir and REGISTRY_AUTH_FILE. */
function credentialSources(env: Record<string, string | undefined>) {
  return { dockerConfigDir: env.DOCKER_CONFIG, registryAuthFile: env.REGISTRY_AUTH_FILE, env };
}

/**
 * A base image from a registry: the reference is resolved once per platform (index →
 * that platform's manifest), manifests and configs come from the store by digest, and
 * layer blobs are downloaded only when an output has to hold them.
 */
export async function registryBase(
  ref: string,
  s: { env: Record<string, string | undefined>; store: Store; platforms: Platform[] },
  opts: BuildImageOptions,
  workspaceRoot: string,
): Promise<Base & { close(): Promise<void> }> {
  const parsed = parseReference(ref);
  const client = new RegistryClient({
    insecureRegistries: opts.insecureRegistries,
    caFile: opts.caFile ? resolve(workspaceRoot, opts.caFile) : undefined,
    credentials: credentialSources(s.env),
  });
  const resolved = new Map<string, Promise<ResolvedImage>>();
  const forPlatform = (p: Platform) => {
    const id = formatPlatform(p);
    if (!resolved.has(id)) resolved.set(id, resolveImage(client, parsed, p, { store: s.store }));
    return resolved.get(id)!;
  };
  // Which of the platforms asked for the base can serve (an exact or compatible entry).
  const tried = await Promise.allSettled(s.platforms.map((p) => forPlatform(p)));
  const served = s.platforms.filter((_, i) => tried[i].status === 'fulfilled');
  if (!served.length) {
    await client.close();
    throw (tried[0] as PromiseRejectedResult).reason; // names the platforms the base has, or why it could not be read
  }
  const first = (tried.find((t) => t.status === 'fulfilled') as PromiseFulfilledResult<ResolvedImage>).value;
  return {
    name: ref,
    digest: first.indexDigest ?? first.manifest.digest,
    platforms: served,
    async forPlatform(p) {
      const r = await forPlatform(p);
      return {
        config: r.config.parsed,
        manifestMediaType: r.manifest.mediaType,
        layers: (r.manifest.parsed.layers ?? []).map((l) => ({
          descriptor: { mediaType: l.mediaType, digest: l.digest, size: l.size },
          blob: async () => ({ digest: l.digest, size: l.size, path: await r.ensureLayer(l.digest) }),
        })),
      };
    },
    close: async () => client.close(),
  };
}
