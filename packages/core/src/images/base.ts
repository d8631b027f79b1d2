import type { BlobRef } from '../cache/store';
import type { Node, Runner } from '../graph/node';
import { OCI_MANIFEST } from '../oci/media-types';
import { scratchBase } from '../oci/scratch';
import type { Descriptor, ImageConfig } from '../oci/types';
import { formatPlatform, type Platform } from '../platform/platform';
import type { Store } from '../cache/store';
import { keyOf, type Digest } from '../util/hash';

/** A base layer: what the manifest says of it, and its bytes when an output needs them. */
export interface BaseLayer {
  descriptor: Descriptor;
  /** Fetches (or finds) the blob; called only by outputs that must hold the bytes. */
  blob: () => Promise<BlobRef>;
}

/** What an image of one platform stacks on. */
export interface PlatformBase {
  config: ImageConfig;
  layers: BaseLayer[];
  /** The base's manifest media type: new layers, config and manifest follow it (OCI or Docker). */
  manifestMediaType: string;
}

export interface Base {
  /** The reference as the user gave it; undefined for the built-in scratch base. */
  name?: string;
  /** The digest the reference resolved to (index or manifest): the base.digest annotation. */
  digest?: Digest;
  /** Which of the platforms asked for the base can serve; undefined: any linux platform. */
  platforms?: Platform[];
  /** Releases connections (a registry base). */
  close?(): Promise<void>;
  forPlatform(p: Platform): Promise<PlatformBase>;
}

interface ScratchData {
  layer: { digest: Digest; size: number; diffId: Digest; mediaType: string };
  config: ImageConfig;
}

/**
 * The default base: scratch plus one small layer with /etc/passwd and /etc/group naming
 * root and nonroot (65532), like distroless's static image, so `user: 65532` has a name.
 * The layer is a cached node: built once per timestamp, never re-tarred.
 */
export function scratch(runner: Runner, store: Store, mtime: number): Base {
  return {
    async forPlatform(p) {
      const node: Node<ScratchData> = {
        kind: 'layer',
        id: `scratch ${formatPlatform(p)} ${mtime}`,
        label: `layer scratch ${formatPlatform(p)}`,
        key: async () => keyOf({ kind: 'scratch-layer', v: 1, platform: formatPlatform(p), mtime }),
        async run() {
          const s = await scratchBase({ store, platform: p, mtime });
          const { digest, size, diffId, mediaType } = s.layer;
          return { data: { layer: { digest, size, diffId, mediaType }, config: s.config }, blobs: { layer: { digest, size, path: s.layer.path } } };
        },
      };
      const out = await runner.run(node);
      const { layer, config } = out.data;
      const blob = out.files.layer;
      return {
        config,
        layers: [{ descriptor: { mediaType: layer.mediaType, digest: layer.digest, size: layer.size }, blob: async () => blob }],
        manifestMediaType: OCI_MANIFEST,
      };
    },
  };
}
