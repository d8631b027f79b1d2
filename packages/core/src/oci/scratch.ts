/**
 * The default base image, made here rather than pulled: one small deterministic layer that names the
 * users a static Go binary may run as, like distroless's static image: root (0) and the default
 * non-root user `nonroot` (65532:65532, home /home/nonroot), plus nobody; /tmp is world-writable
 * (sticky) for os.TempDir. The image runs as nonroot unless the image config says otherwise.
 *
 * It carries no CA certificates or time zone data: a binary that needs them embeds them
 * (golang.org/x/crypto/x509roots/fallback, time/tzdata) or uses a real base image.
 */
import type { Store } from '../cache/store';
import type { Platform } from '../platform/platform';
import { DEFAULT_PATH, EPOCH_ISO, ImageError, isoTime } from './image';
import { buildLayer, type Layer } from './layer';
import { OCI_LAYER_GZIP, OCI_MANIFEST } from './media-types';
import type { TarEntry } from './tar';
import { ociPlatform, type ImageConfig } from './types';

export const NONROOT_UID = 65532;
export const NONROOT_GID = 65532;
export const NONROOT_HOME = '/home/nonroot';

export const PASSWD = [
  'root:x:0:0:root:/root:/sbin/nologin',
  'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin',
  `nonroot:x:${NONROOT_UID}:${NONROOT_GID}:nonroot:${NONROOT_HOME}:/sbin/nologin`,
  '',
].join('\n');

export const GROUP = ['root:x:0:', 'nobody:x:65534:', `nonroot:x:${NONROOT_GID}:`, ''].join('\n');

/** The files of the scratch layer. */
export function scratchEntries(): TarEntry[] {
  return [
    { path: '/etc/passwd', type: 'file', mode: 0o644, content: Buffer.from(PASSWD) },
    { path: '/etc/group', type: 'file', mode: 0o644, content: Buffer.from(GROUP) },
    { path: '/root', type: 'dir', mode: 0o700 },
    { path: NONROOT_HOME, type: 'dir', mode: 0o700, uid: NONROOT_UID, gid: NONROOT_GID },
    { path: '/tmp', type: 'dir', mode: 0o1777 },
  ];
}

export interface ScratchBase {
  /** Its single layer, in the store. */
  layer: Layer;
  /** A base config for `imageConfig({ base })`: the layer's diff_id, PATH and the nonroot user. */
  config: ImageConfig;
  /** OCI: images built on scratch use OCI media types. */
  manifestMediaType: typeof OCI_MANIFEST;
}

export async function scratchBase(opts: { store: Store; platform: Platform; mtime?: number }): Promise<ScratchBase> {
  if (opts.platform.os !== 'linux') {
    throw new ImageError(`the scratch base is for linux images; ${opts.platform.os} images need a base image of that OS`);
  }
  const mtime = opts.mtime ?? 0;
  const layer = await buildLayer(scratchEntries(), { store: opts.store, mtime, mediaType: OCI_LAYER_GZIP });
  const platform = ociPlatform(opts.platform);
  const config: ImageConfig = { created: mtime === 0 ? EPOCH_ISO : isoTime(mtime), architecture: platform.architecture, os: platform.os } as ImageConfig;
  if (platform.variant) config.variant = platform.variant;
  config.config = { User: `${NONROOT_UID}:${NONROOT_GID}`, Env: [`PATH=${DEFAULT_PATH}`] };
  config.rootfs = { type: 'layers', diff_ids: [layer.diffId] };
  config.history = [{ created: config.created, created_by: 'nx-fnbuild scratch: /etc/passwd, /etc/group (root, nobody, nonroot 65532)' }];
  return { layer, config, manifestMediaType: OCI_MANIFEST };
}
