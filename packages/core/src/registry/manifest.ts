import type { Digest } from '../util/hash';
import { FnbuildError } from '../util/errors';

/** The manifest and config shapes the registry code reads (only the fields it needs). */

export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** What we ask registries for, best first. */
export const MANIFEST_ACCEPT: readonly string[] = [
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
];

export const isIndexType = (t: string): boolean => t === MediaType.OciIndex || t === MediaType.DockerManifestList;
export const isImageManifestType = (t: string): boolean => t === MediaType.OciManifest || t === MediaType.DockerManifest;

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  platform?: { os: string; architecture: string; variant?: string; 'os.version'?: string };
  annotations?: Record<string, string>;
  urls?: string[];
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  config?: Record<string, unknown>;
  rootfs: { type: string; diff_ids: Digest[] };
  history?: unknown[];
  [key: string]: unknown;
}

/** Strips parameters (`; charset=utf-8`) and case from a Content-Type. */
export function bareMediaType(contentType: string | undefined): string | undefined {
  const t = contentType?.split(';')[0]?.trim().toLowerCase();
  return t ? t : undefined;
}

/**
 * The media type of manifest bytes: the registry's Content-Type when it is a manifest type,
 * else the document's own `mediaType`, else guessed from its shape (OCI allows it to be absent).
 */
export function manifestMediaType(bytes: Uint8Array, contentType: string | undefined, where: string): string {
  let doc: { mediaType?: unknown; schemaVersion?: unknown; manifests?: unknown; config?: unknown };
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof doc;
  } catch {
    throw new FnbuildError(`${where}: the manifest is not valid JSON`);
  }
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const header = bareMediaType(contentType);
  const type =
    header && (isIndexType(header) || isImageManifestType(header)) ? header : declared ?? (Array.isArray(doc.manifests) ? MediaType.OciIndex : doc.config ? MediaType.OciManifest : header);
  if (doc.schemaVersion === 1 || type === MediaType.DockerSchema1 || type === MediaType.DockerSchema1Signed) {
    throw new FnbuildError(`${where}: Docker schema 1 manifests are not supported`, 'Re-push the image with a current client (it converts it to schema 2 or OCI).');
  }
  if (!type || !(isIndexType(type) || isImageManifestType(type))) {
    throw new FnbuildError(`${where}: unsupported manifest media type "${type ?? 'none'}"`);
  }
  return type;
}
