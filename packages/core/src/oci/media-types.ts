/**
 * Media types of the two image formats registries speak: OCI and Docker schema 2. An image built on a
 * Docker-typed base stays Docker-typed throughout (manifest, config, new layers, index), so one image
 * never mixes the two vocabularies, which some registries and older runtimes refuse.
 */

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';

export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const DOCKER_FOREIGN_LAYER_GZIP = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
/** Docker's old schema 1 manifests, plain and signed: only recognized, so they can be refused by name. */
export const DOCKER_MANIFEST_SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+json';
export const DOCKER_MANIFEST_SCHEMA1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

export type ManifestMediaType = typeof OCI_MANIFEST | typeof DOCKER_MANIFEST;
export type IndexMediaType = typeof OCI_INDEX | typeof DOCKER_MANIFEST_LIST;
export type ConfigMediaType = typeof OCI_CONFIG | typeof DOCKER_CONFIG;
/** The layer types we write; others (zstd, foreign) are only read and passed through. */
export type LayerMediaType = typeof OCI_LAYER | typeof OCI_LAYER_GZIP | typeof DOCKER_LAYER | typeof DOCKER_LAYER_GZIP;

export function isIndex(mediaType: string | undefined): boolean {
  return mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST;
}

export function isManifest(mediaType: string | undefined): boolean {
  return mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST;
}

export function isDockerSchema1(mediaType: string | undefined): boolean {
  return mediaType === DOCKER_MANIFEST_SCHEMA1 || mediaType === DOCKER_MANIFEST_SCHEMA1_SIGNED;
}

export function isDockerType(mediaType: string | undefined): boolean {
  return mediaType?.startsWith('application/vnd.docker.') ?? false;
}

/** True for layer types whose blob is gzip-compressed (so digest != diff_id). */
export function isGzipLayer(mediaType: string): boolean {
  return mediaType === OCI_LAYER_GZIP || mediaType === DOCKER_LAYER_GZIP || mediaType === DOCKER_FOREIGN_LAYER_GZIP;
}

/**
 * The `…TypeFor(base)` helpers take the base image's manifest (or index) media type; undefined means
 * no base (scratch), which gets OCI types.
 */
export function layerTypeFor(baseMediaType: string | undefined, compressed = true): LayerMediaType {
  if (isDockerType(baseMediaType)) return compressed ? DOCKER_LAYER_GZIP : DOCKER_LAYER;
  return compressed ? OCI_LAYER_GZIP : OCI_LAYER;
}

export function configTypeFor(baseMediaType: string | undefined): ConfigMediaType {
  return isDockerType(baseMediaType) ? DOCKER_CONFIG : OCI_CONFIG;
}

export function manifestTypeFor(baseMediaType: string | undefined): ManifestMediaType {
  return isDockerType(baseMediaType) ? DOCKER_MANIFEST : OCI_MANIFEST;
}

export function indexTypeFor(baseMediaType: string | undefined): IndexMediaType {
  return isDockerType(baseMediaType) ? DOCKER_MANIFEST_LIST : OCI_INDEX;
}
