/**
 * Pure builders for an image's config, manifest and index. They only arrange values (in a fixed key
 * order, so `serialize` gives the same bytes for the same inputs); blobs are written elsewhere.
 */
import type { Platform } from '../platform/platform';
import { FnbuildError } from '../util/errors';
import type { Digest } from '../util/hash';
import { OCI_INDEX, OCI_MANIFEST, isIndex, isManifest } from './media-types';
import {
  descriptor,
  ociPlatform,
  type ContainerConfig,
  type Descriptor,
  type HistoryEntry,
  type ImageConfig,
  type Index,
  type Manifest,
  type SerializedBlob,
} from './types';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** `created` when none is given: the epoch, like the tar entries' default mtime. */
export const EPOCH_ISO = '1970-01-01T00:00:00Z';
export const DEFAULT_CREATED_BY = 'nx-fnbuild';

/** A user-actionable error (shown without a stack, like every FnbuildError). */
export class ImageError extends FnbuildError {
  override name = 'ImageError';
}

/** Seconds since the epoch as the RFC 3339 UTC time OCI uses ("2024-05-01T12:00:00Z"). */
export function isoTime(epochSeconds: number): string {
  if (!Number.isInteger(epochSeconds) || epochSeconds < 0) throw new ImageError(`time ${epochSeconds} must be whole seconds since the epoch`);
  return new Date(epochSeconds * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

export interface ImageConfigOptions {
  /** The base image's config; its env, labels, ports, history and other settings carry over. */
  base?: ImageConfig;
  platform: Platform;
  /** diff_ids of the layers added on top of the base, bottom first. */
  layers: readonly Digest[];
  /** Replaces the base's entrypoint; setting it also resets the base's Cmd (as Dockerfile ENTRYPOINT does). */
  entrypoint?: readonly string[];
  cmd?: readonly string[];
  /** Merged over the base's Env by name. */
  env?: Readonly<Record<string, string>>;
  user?: string;
  workingDir?: string;
  /** "8080", "8080/tcp", "53/udp". */
  ports?: readonly (string | number)[];
  /** Merged over the base's labels. */
  labels?: Readonly<Record<string, string>>;
  /** RFC 3339; default EPOCH_ISO. */
  created?: string;
  author?: string;
  /** One entry per added layer (default: created_by "nx-fnbuild"); `created` is filled in when absent. */
  history?: readonly Omit<HistoryEntry, 'empty_layer'>[];
}

const ENV_NAME = /^[^=\0]+$/;

/** Base env with overrides applied in place by name, new names appended (sorted), PATH guaranteed. */
export function mergeEnv(base: readonly string[] | undefined, overrides: Readonly<Record<string, string>> = {}): string[] {
  for (const name of Object.keys(overrides)) {
    if (!ENV_NAME.test(name)) throw new ImageError(`env name ${JSON.stringify(name)} is not valid: it must be non-empty, without "=" or NUL`);
  }
  const out: string[] = [];
  const seen = new Set<string>();
  for (const kv of base ?? []) {
    const eq = kv.indexOf('=');
    const name = eq < 0 ? kv : kv.slice(0, eq);
    if (seen.has(name)) continue; // a duplicate in the base: the first one is what runtimes see
    seen.add(name);
    out.push(Object.hasOwn(overrides, name) ? `${name}=${overrides[name]}` : kv);
  }
  const added = Object.keys(overrides)
    .filter((n) => !seen.has(n))
    .sort(byteCompare);
  for (const name of added) {
    seen.add(name);
    out.push(`${name}=${overrides[name]}`);
  }
  if (!seen.has('PATH')) out.unshift(`PATH=${DEFAULT_PATH}`);
  return out;
}

/** "8080" -> "8080/tcp"; validates the number and protocol. */
export function normalizePort(port: string | number): string {
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(String(port).trim());
  const n = m ? Number(m[1]) : NaN;
  if (!m || n < 1 || n > 65535) throw new ImageError(`port ${JSON.stringify(port)} is not valid; write it as 8080, 8080/tcp or 53/udp`);
  return `${n}/${(m[2] ?? 'tcp').toLowerCase()}`;
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** An object with its keys sorted byte-wise (the order Go's encoding/json gives maps). */
function sortedRecord<T>(entries: Iterable<[string, T]>): Record<string, T> {
  return Object.fromEntries([...new Map(entries)].sort(([a], [b]) => byteCompare(a, b)));
}

const KNOWN_CONFIG_KEYS = new Set(['User', 'Env', 'Entrypoint', 'Cmd', 'WorkingDir', 'Labels', 'ExposedPorts', 'Volumes', 'StopSignal']);

function containerConfig(base: ContainerConfig | undefined, o: ImageConfigOptions): ContainerConfig {
  const out: ContainerConfig = {};
  const user = o.user ?? base?.User;
  if (user) out.User = user;
  out.Env = mergeEnv(base?.Env ?? undefined, o.env);
  const entrypoint = o.entrypoint ?? base?.Entrypoint ?? undefined;
  if (entrypoint && entrypoint.length > 0) out.Entrypoint = [...entrypoint];
  const cmd = o.cmd ?? (o.entrypoint ? undefined : (base?.Cmd ?? undefined));
  if (cmd && cmd.length > 0) out.Cmd = [...cmd];
  const workingDir = o.workingDir ?? base?.WorkingDir;
  if (workingDir) out.WorkingDir = workingDir;
  const labels = sortedRecord([...Object.entries(base?.Labels ?? {}), ...Object.entries(o.labels ?? {})]);
  if (Object.keys(labels).length > 0) out.Labels = labels;
  const ports = sortedRecord<Record<string, never>>([
    ...Object.keys(base?.ExposedPorts ?? {}).map((p): [string, Record<string, never>] => [p, {}]),
    ...(o.ports ?? []).map((p): [string, Record<string, never>] => [normalizePort(p), {}]),
  ]);
  if (Object.keys(ports).length > 0) out.ExposedPorts = ports;
  const volumes = sortedRecord(Object.keys(base?.Volumes ?? {}).map((v): [string, Record<string, never>] => [v, {}]));
  if (Object.keys(volumes).length > 0) out.Volumes = volumes;
  if (base?.StopSignal) out.StopSignal = base.StopSignal;
  // Settings we do not model (Healthcheck, OnBuild, Shell, ArgsEscaped, ...) stay as the base had them.
  for (const [key, value] of Object.entries(base ?? {})) {
    if (!KNOWN_CONFIG_KEYS.has(key) && value !== undefined && value !== null) out[key] = value;
  }
  return out;
}

function historyEntry(h: Omit<HistoryEntry, 'empty_layer'>, created: string): HistoryEntry {
  const out: HistoryEntry = { created: h.created ?? created };
  if (h.created_by) out.created_by = h.created_by;
  if (h.author) out.author = h.author;
  if (h.comment) out.comment = h.comment;
  return out;
}

/** The config of an image made of the base's layers plus `layers`. */
export function imageConfig(o: ImageConfigOptions): ImageConfig {
  const created = o.created ?? EPOCH_ISO;
  if (o.history && o.history.length !== o.layers.length) {
    throw new ImageError(`image config: ${o.history.length} history entries for ${o.layers.length} added layers; give one per layer`);
  }
  const base = o.base;
  const platform = ociPlatform(o.platform);
  if (base && (base.os !== platform.os || base.architecture !== platform.architecture)) {
    throw new ImageError(`image config: the base is ${base.os}/${base.architecture} but the image is ${platform.os}/${platform.architecture}`);
  }
  const out: ImageConfig = { created } as ImageConfig;
  const author = o.author ?? base?.author;
  if (author) out.author = author;
  out.architecture = platform.architecture;
  out.os = platform.os;
  if (base?.['os.version']) out['os.version'] = base['os.version'];
  if (base?.['os.features'] && base['os.features'].length > 0) out['os.features'] = [...base['os.features']];
  if (platform.variant) out.variant = platform.variant;
  out.config = containerConfig(base?.config ?? undefined, o);
  out.rootfs = { type: 'layers', diff_ids: [...(base?.rootfs.diff_ids ?? []), ...o.layers] };
  const added = o.layers.map((_, i) => historyEntry(o.history?.[i] ?? { created_by: DEFAULT_CREATED_BY }, created));
  out.history = [...(base?.history ?? []).map((h) => ({ ...h })), ...added];
  return out;
}

/** An image manifest referencing a serialized config and its layers (base layers first). */
export function manifest(o: {
  config: SerializedBlob;
  layers: readonly Descriptor[];
  annotations?: Readonly<Record<string, string>>;
  mediaType?: string;
}): Manifest {
  const mediaType = o.mediaType ?? OCI_MANIFEST;
  if (!isManifest(mediaType)) throw new ImageError(`manifest media type ${mediaType} is not an image manifest type`);
  const out: Manifest = {
    schemaVersion: 2,
    mediaType,
    config: descriptor(o.config),
    layers: o.layers.map((l) => descriptor(l, { annotations: l.annotations })),
  };
  if (o.annotations && Object.keys(o.annotations).length > 0) out.annotations = { ...o.annotations };
  return out;
}

/** An index of per-platform manifests; each descriptor must carry its platform. */
export function index(o: { manifests: readonly Descriptor[]; annotations?: Readonly<Record<string, string>>; mediaType?: string }): Index {
  const mediaType = o.mediaType ?? OCI_INDEX;
  if (!isIndex(mediaType)) throw new ImageError(`index media type ${mediaType} is not an index type`);
  const seen = new Set<string>();
  for (const m of o.manifests) {
    if (!m.platform) throw new ImageError(`index: manifest ${m.digest} has no platform; each entry of a multi-platform index needs one`);
    const key = JSON.stringify(descriptor(m, { platform: m.platform }).platform);
    if (seen.has(key)) throw new ImageError(`index: two manifests for platform ${key}`);
    seen.add(key);
  }
  const out: Index = {
    schemaVersion: 2,
    mediaType,
    manifests: o.manifests.map((m) => descriptor(m, { platform: m.platform, annotations: m.annotations })),
  };
  if (o.annotations && Object.keys(o.annotations).length > 0) out.annotations = { ...o.annotations };
  return out;
}

export interface ImageAnnotationValues {
  source?: string;
  revision?: string;
  version?: string;
  created?: string;
  baseName?: string;
  baseDigest?: string;
}

/** `org.opencontainers.image.*` annotations in a fixed order, empty values left out. */
export function imageAnnotations(v: ImageAnnotationValues): Record<string, string> {
  const pairs: [string, string | undefined][] = [
    ['org.opencontainers.image.base.digest', v.baseDigest],
    ['org.opencontainers.image.base.name', v.baseName],
    ['org.opencontainers.image.created', v.created],
    ['org.opencontainers.image.revision', v.revision],
    ['org.opencontainers.image.source', v.source],
    ['org.opencontainers.image.version', v.version],
  ];
  return Object.fromEntries(pairs.filter((p): p is [string, string] => typeof p[1] === 'string' && p[1].trim() !== ''));
}
