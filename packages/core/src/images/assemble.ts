import type { BlobRef, Store } from '../cache/store';
import type { Node } from '../graph/node';
import { imageConfig, index, manifest, type ImageConfigOptions } from '../oci/image';
import { configTypeFor, indexTypeFor, manifestTypeFor } from '../oci/media-types';
import { descriptor, ociPlatform, serialize, type Descriptor, type SerializedBlob } from '../oci/types';
import { formatPlatform, type Platform } from '../platform/platform';
import type { PlatformBase } from './base';
import type { LayerData } from './layers';

export interface ImageData {
  /** The manifest's descriptor, platform included, as an index lists it. */
  manifest: Descriptor;
  config: Descriptor;
}

async function put(store: Store, blob: SerializedBlob): Promise<BlobRef> {
  return store.putBytes(blob.bytes, blob.digest);
}

/**
 * image(T, P): config and manifest over the base's layers plus ours. Serialized once,
 * hashed over exactly those bytes, stored by digest. Cheap, so not cached: the layers
 * below it are.
 */
export function imageNode(o: {
  store: Store;
  label: string;
  platform: Platform;
  base: PlatformBase;
  layers: LayerData[];
  config: Omit<ImageConfigOptions, 'base' | 'platform' | 'layers'>;
  annotations: Record<string, string>;
}): Node<ImageData> {
  return {
    kind: 'image',
    id: `image ${o.label}`,
    label: `image ${o.label}`,
    async run() {
      const mt = o.base.manifestMediaType;
      const config = serialize(
        imageConfig({ ...o.config, base: o.base.config, platform: o.platform, layers: o.layers.map((l) => l.diffId) }),
        configTypeFor(mt),
      );
      const layers = [...o.base.layers.map((l) => l.descriptor), ...o.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size }))];
      const m = serialize(manifest({ config, layers, annotations: o.annotations, mediaType: manifestTypeFor(mt) }), manifestTypeFor(mt));
      const [configRef, manifestRef] = [await put(o.store, config), await put(o.store, m)];
      return {
        data: { manifest: descriptor(m, { platform: ociPlatform(o.platform) }), config: descriptor(config) },
        blobs: { config: configRef, manifest: manifestRef },
      };
    },
  };
}

/** index(T): the per-platform manifests under one digest (only when there is more than one platform). */
export function indexNode(o: {
  store: Store;
  label: string;
  manifests: Descriptor[];
  annotations: Record<string, string>;
  baseManifestMediaType: string;
}): Node<{ index: Descriptor }> {
  return {
    kind: 'index',
    id: `index ${o.label}`,
    label: `index ${o.label} (${o.manifests.length} platforms)`,
    async run() {
      const mt = indexTypeFor(o.baseManifestMediaType);
      const blob = serialize(index({ manifests: o.manifests, annotations: o.annotations, mediaType: mt }), mt);
      return { data: { index: descriptor(blob) }, blobs: { index: await put(o.store, blob) } };
    },
  };
}

export function platformLabel(name: string, p: Platform): string {
  return `${name} ${formatPlatform(p)}`;
}
