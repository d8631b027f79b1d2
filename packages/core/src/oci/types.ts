/**
 * The OCI data model as plain values (image-spec v1.1: descriptor, config, manifest, index) and the one
 * way to turn them into blobs. Builders in this folder create objects in a fixed key order and
 * `serialize` writes them without whitespace, so the same inputs always give the same bytes; a digest
 * is always taken over the bytes actually written, never over a re-serialization.
 */
import type { Platform } from '../platform/platform';
import { sha256, type Digest } from '../util/hash';

/** A platform as OCI spells it (`architecture`, not Go's `arch`). */
export interface OciPlatform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  platform?: OciPlatform;
  annotations?: Record<string, string>;
  /** Foreign / non-distributable layers: the blob lives at these URLs, not in the registry. */
  urls?: string[];
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/**
 * The runtime part of the config. Known fields are typed; a base image may carry others (Healthcheck,
 * OnBuild, Shell, ArgsEscaped, ...), which are kept as they are.
 */
export interface ContainerConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, Record<string, never>>;
  Volumes?: Record<string, Record<string, never>>;
  StopSignal?: string;
  [other: string]: unknown;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
}

export interface Manifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface Index {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** A JSON document serialized once: `digest` and `size` describe exactly `bytes`. */
export interface SerializedBlob {
  readonly bytes: Buffer;
  readonly digest: Digest;
  readonly size: number;
  readonly mediaType: string;
}

/** Serializes once, without whitespace, and hashes those exact bytes. */
export function serialize(value: ImageConfig | Manifest | Index, mediaType: string): SerializedBlob {
  const bytes = Buffer.from(JSON.stringify(value), 'utf8');
  return { bytes, digest: sha256(bytes), size: bytes.length, mediaType };
}

/** Wraps bytes read from elsewhere (a registry, a layout) without touching them. */
export function blobOf(bytes: Buffer, mediaType: string): SerializedBlob {
  return { bytes, digest: sha256(bytes), size: bytes.length, mediaType };
}

/** The OCI spelling of a core platform. */
export function ociPlatform(p: Platform, extra?: { osVersion?: string; osFeatures?: string[] }): OciPlatform {
  const out: OciPlatform = { architecture: p.arch, os: p.os };
  if (extra?.osVersion) out['os.version'] = extra.osVersion;
  if (extra?.osFeatures && extra.osFeatures.length > 0) out['os.features'] = [...extra.osFeatures];
  if (p.variant) out.variant = p.variant;
  return out;
}

/** A descriptor in fixed key order; empty annotations are left out. */
export function descriptor(
  blob: { mediaType: string; digest: Digest; size: number; urls?: string[] },
  extra?: { platform?: OciPlatform; annotations?: Record<string, string> },
): Descriptor {
  const d: Descriptor = { mediaType: blob.mediaType, digest: blob.digest, size: blob.size };
  if (extra?.platform) d.platform = orderedPlatform(extra.platform);
  if (extra?.annotations && Object.keys(extra.annotations).length > 0) d.annotations = { ...extra.annotations };
  if (blob.urls && blob.urls.length > 0) d.urls = [...blob.urls];
  return d;
}

function orderedPlatform(p: OciPlatform): OciPlatform {
  const out: OciPlatform = { architecture: p.architecture, os: p.os };
  if (p['os.version']) out['os.version'] = p['os.version'];
  if (p['os.features'] && p['os.features'].length > 0) out['os.features'] = [...p['os.features']];
  if (p.variant) out.variant = p.variant;
  return out;
}
