import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST, isDockerSchema1, isIndex, isManifest } from '../oci/media-types';
import { FnbuildError } from '../util/errors';

/**
 * What only the registry side needs on top of oci/ (media types and document types live there):
 * the Accept list, and which kind of manifest a registry answered with.
 */

/** What we ask registries for, best first. */
export const MANIFEST_ACCEPT: readonly string[] = [OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST];

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
    header && (isIndex(header) || isManifest(header)) ? header : (declared ?? (Array.isArray(doc.manifests) ? OCI_INDEX : doc.config ? OCI_MANIFEST : header));
  if (doc.schemaVersion === 1 || isDockerSchema1(type)) {
    throw new FnbuildError(
      `${where}: Docker schema 1 manifests are not supported`,
      'Re-push the image with a current client (it converts it to schema 2 or OCI).',
    );
  }
  if (!type || !(isIndex(type) || isManifest(type))) {
    throw new FnbuildError(`${where}: unsupported manifest media type "${type ?? 'none'}"`);
  }
  return type;
}
