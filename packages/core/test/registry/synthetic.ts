import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { ReadableBlob, RegistryClient } from '../../src/registry/client';
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from '../../src/oci/media-types';
import { blobOf, descriptor, type SerializedBlob } from '../../src/oci/types';
import { digestOf } from '../../../../testkit';

/**
 * Small, valid multi-platform images built in memory: real gzipped tar layers (one shared by
 * every platform), OCI configs and manifests, an index with an in-toto attestation entry
 * (`unknown/unknown`) as BuildKit writes them.
 */

export type Blob = SerializedBlob;

export interface SyntheticImage {
  /** Layers and configs, each once. */
  blobs: Blob[];
  /** Image manifests (and the attestation manifest), pushed by digest before the index. */
  manifests: (Blob & { platform: string })[];
  index: Blob;
}

/** One regular file in a ustar archive, ending with the two zero blocks. */
export function tarOf(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'ascii');
  const octal = (n: number, length: number) => n.toString(8).padStart(length - 1, '0') + '\0';
  field(0, 100, name);
  field(100, 8, octal(0o644, 8));
  field(108, 8, octal(0, 8));
  field(116, 8, octal(0, 8));
  field(124, 12, octal(content.length, 12));
  field(136, 12, octal(0, 12));
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const b of header) sum += b;
  field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

/** `extraBytes`: add that many random (incompressible) bytes to each platform's layer, for big bodies. */
export function syntheticImage(name: string, platforms: readonly string[], opts: { extraBytes?: number } = {}): SyntheticImage {
  const sharedTar = tarOf('etc/shared.txt', Buffer.from(`shared by every platform of ${name}\n`));
  const shared = blobOf(gzipSync(sharedTar), OCI_LAYER_GZIP);
  const blobs = new Map<string, Blob>([[shared.digest, shared]]);
  const manifests: SyntheticImage['manifests'] = [];
  const entries: unknown[] = [];

  for (const p of platforms) {
    const [os, architecture, variant] = p.split('/');
    const content = Buffer.concat([Buffer.from(`${name} for ${p}\n`), randomBytes(opts.extraBytes ?? 0)]);
    const tar = tarOf(`app/${p.replace(/\//g, '_')}.txt`, content);
    const layer = blobOf(gzipSync(tar), OCI_LAYER_GZIP);
    const config = blobOf(
      Buffer.from(
        JSON.stringify({
          architecture,
          os,
          ...(variant ? { variant } : {}),
          config: { Env: ['PATH=/usr/bin'], Cmd: ['/app'] },
          rootfs: { type: 'layers', diff_ids: [digestOf(sharedTar), digestOf(tar)] },
          history: [{ created_by: 'shared' }, { created_by: p }],
        }),
      ),
      OCI_CONFIG,
    );
    const manifest = blobOf(
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(config), layers: [descriptor(shared), descriptor(layer)] })),
      OCI_MANIFEST,
    );
    blobs.set(layer.digest, layer).set(config.digest, config);
    manifests.push({ ...manifest, platform: p });
    entries.push({ ...descriptor(manifest), platform: { os, architecture, ...(variant ? { variant } : {}) } });
  }

  // An attestation manifest for the first platform, as BuildKit attaches them.
  const statement = blobOf(Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', subject: [] })), 'application/vnd.in-toto+json');
  const attConfig = blobOf(
    Buffer.from(JSON.stringify({ architecture: 'unknown', os: 'unknown', rootfs: { type: 'layers', diff_ids: [digestOf(statement.bytes)] } })),
    OCI_CONFIG,
  );
  const att = blobOf(
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(attConfig), layers: [descriptor(statement)] })),
    OCI_MANIFEST,
  );
  blobs.set(statement.digest, statement).set(attConfig.digest, attConfig);
  manifests.push({ ...att, platform: 'unknown/unknown' });
  entries.push({
    ...descriptor(att),
    platform: { os: 'unknown', architecture: 'unknown' },
    annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': manifests[0]!.digest },
  });

  const index = blobOf(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries })), OCI_INDEX);
  return { blobs: [...blobs.values()], manifests, index };
}

export const source = (b: Blob): ReadableBlob => ({ digest: b.digest, size: b.size, open: () => Readable.from([b.bytes]) });

/**
 * Pushes blobs (in parallel, or one by one so a request-numbered fault plan hits the same
 * requests every run), then manifests by digest, then the index under the tag.
 */
export async function pushImage(
  client: RegistryClient,
  repo: string,
  tag: string,
  img: SyntheticImage,
  opts: { mountFrom?: string; chunkSize?: number; sequential?: boolean } = {},
) {
  const { sequential, ...upload } = opts;
  const outcomes: string[] = [];
  if (sequential) for (const b of img.blobs) outcomes.push(await client.uploadBlob(repo, source(b), upload));
  else outcomes.push(...(await Promise.all(img.blobs.map((b) => client.uploadBlob(repo, source(b), upload)))));
  for (const m of img.manifests) await client.putManifest(repo, m.digest, m.bytes, m.mediaType);
  const digest = await client.putManifest(repo, tag, img.index.bytes, img.index.mediaType);
  return { outcomes, digest };
}
