/**
 * Independent checks of images: skopeo and umoci (Debian's), plus a base image made with
 * umoci from /bin/busybox and pushed with skopeo. Nothing here uses the code under test.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { baseEnv, digestOf, exec, tool, type ExecResult } from '../../testkit';

const env = () => ({ ...baseEnv(), LC_ALL: 'C' });

export { digestOf, sha256Hex } from '../../testkit';

/* ---------------------------------------------------------------- skopeo */

export interface SkopeoOpts {
  /** `--override-arch` (and os linux) to pick a platform of an index. */
  arch?: string;
  /** docker:// over plain http or unverified TLS. */
  insecure?: boolean;
  /** docker:// with this CA folder (ca.crt inside). */
  certDir?: string;
  /** user:password for docker://. */
  creds?: string;
}

function transportFlags(o: SkopeoOpts, ref: string): string[] {
  const out: string[] = [];
  if (o.arch) out.push('--override-os', 'linux', '--override-arch', o.arch);
  if (ref.startsWith('docker://')) {
    if (o.insecure) out.push('--tls-verify=false');
    if (o.certDir) out.push('--cert-dir', o.certDir);
    if (o.creds) out.push('--creds', o.creds);
  }
  return out;
}

/** `skopeo inspect --raw <ref>`: the exact bytes of the top manifest or index. */
export async function skopeoRaw(ref: string, o: SkopeoOpts = {}): Promise<string> {
  return tool('skopeo', ['inspect', '--raw', ...transportFlags(o, ref), ref]);
}

/** `skopeo inspect --config <ref>`, parsed. */
export async function skopeoConfig(ref: string, o: SkopeoOpts = {}): Promise<ImageConfig> {
  return JSON.parse(await tool('skopeo', ['inspect', '--config', ...transportFlags(o, ref), ref])) as ImageConfig;
}

/** `skopeo inspect <ref>`, parsed. */
export async function skopeoInspect(ref: string, o: SkopeoOpts = {}): Promise<SkopeoInspect> {
  return JSON.parse(await tool('skopeo', ['inspect', ...transportFlags(o, ref), ref])) as SkopeoInspect;
}

/** `skopeo inspect` that is expected to fail (or not): the raw result. */
export async function skopeoTry(args: string[]): Promise<ExecResult> {
  return exec('skopeo', args, { cwd: '/', env: env(), timeoutMs: 120_000 });
}

/** `skopeo copy [--all] src dest` with the flags each side needs. */
export async function skopeoCopy(
  src: string,
  dest: string,
  o: { all?: boolean; format?: 'oci' | 'v2s2'; srcInsecure?: boolean; destInsecure?: boolean; srcCreds?: string; destCreds?: string } = {},
): Promise<void> {
  const args = ['copy', '--retry-times', '0'];
  if (o.all) args.push('--all');
  if (o.format) args.push('--format', o.format);
  if (src.startsWith('docker://') && o.srcInsecure) args.push('--src-tls-verify=false');
  if (dest.startsWith('docker://') && o.destInsecure) args.push('--dest-tls-verify=false');
  if (o.srcCreds) args.push('--src-creds', o.srcCreds);
  if (o.destCreds) args.push('--dest-creds', o.destCreds);
  await tool('skopeo', [...args, src, dest]);
}

export interface SkopeoInspect {
  /** The repository, for transports that have one (docker://, docker-archive:…:name:tag). */
  Name?: string;
  Digest: string;
  RepoTags: string[];
  Architecture: string;
  Os: string;
  Layers: string[];
  Env?: string[];
}

/* ---------------------------------------------------------------- OCI documents */

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface Index {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface Manifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageConfig {
  created?: string;
  architecture: string;
  os: string;
  config: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[];
    Cmd?: string[];
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: { created?: string; created_by?: string; empty_layer?: boolean }[];
}

/**
 * An OCI layout read straight from its files (no tool in between: skopeo's oci: transport
 * does not read Docker-typed manifests inside a layout).
 */
export class Layout {
  constructor(readonly dir: string) {}

  async index(): Promise<Index> {
    return JSON.parse(await fs.readFile(join(this.dir, 'index.json'), 'utf8')) as Index;
  }

  blobPath(digest: string): string {
    const [alg, hex] = digest.split(':');
    return join(this.dir, 'blobs', alg!, hex!);
  }

  /** A blob's bytes, checked against its digest. */
  async blob(digest: string): Promise<Buffer> {
    const b = await fs.readFile(this.blobPath(digest));
    if (digestOf(b) !== digest) throw new Error(`${this.dir}: blob ${digest} does not match its digest`);
    return b;
  }

  async json<T>(digest: string): Promise<T> {
    return JSON.parse((await this.blob(digest)).toString('utf8')) as T;
  }

  /** The descriptor index.json gives a tag. */
  async tagged(tag: string): Promise<Descriptor> {
    const d = (await this.index()).manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
    if (!d) throw new Error(`${this.dir} has no tag ${tag}`);
    return d;
  }

  async tags(): Promise<string[]> {
    return (await this.index()).manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'] ?? '').sort();
  }

  /** The manifests a tag names: the index's entries, or the one manifest; with their configs. */
  async images(tag: string): Promise<{ descriptor: Descriptor; manifest: Manifest; config: ImageConfig }[]> {
    const top = await this.tagged(tag);
    const entries = /index|manifest\.list/.test(top.mediaType) ? (await this.json<Index>(top.digest)).manifests : [top];
    const out = [];
    for (const d of entries) {
      const manifest = await this.json<Manifest>(d.digest);
      out.push({ descriptor: d, manifest, config: await this.json<ImageConfig>(manifest.config.digest) });
    }
    return out;
  }

  /** Every file under blobs/, as digests. */
  async blobDigests(): Promise<string[]> {
    const out: string[] = [];
    for (const alg of await fs.readdir(join(this.dir, 'blobs'))) for (const hex of await fs.readdir(join(this.dir, 'blobs', alg))) out.push(`${alg}:${hex}`);
    return out.sort();
  }
}

/* ---------------------------------------------------------------- umoci */

/** `umoci unpack --image <layout>:<tag> <bundle>` (as root: real ownership). */
export async function umociUnpack(layout: string, tag: string, bundle: string): Promise<void> {
  await tool('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle]);
}

export interface BaseImage {
  /** The layout umoci wrote (tag "base"). */
  layout: string;
  /** The config's diff_ids (one layer: /bin/busybox and /bin/sh). */
  diffIds: string[];
  /** Env of the base: FOO=bar, PATH=/bin. */
  env: string[];
}

/**
 * A linux/amd64 base image built with umoci alone: one layer holding /bin/busybox (static) as
 * /bin/busybox and /bin/sh, env FOO=bar and PATH=/bin, a label, cmd /bin/sh.
 */
export async function buildBusyboxBase(dir: string): Promise<BaseImage> {
  const layout = join(dir, 'base-layout');
  const bundle = join(dir, 'base-bundle');
  await tool('umoci', ['init', '--layout', layout]);
  await tool('umoci', ['new', '--image', `${layout}:base`]);
  await tool('umoci', ['unpack', '--image', `${layout}:base`, bundle]);
  const rootfs = join(bundle, 'rootfs');
  await fs.mkdir(join(rootfs, 'bin'), { recursive: true });
  await fs.copyFile('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  await fs.chmod(join(rootfs, 'bin', 'busybox'), 0o755);
  await fs.symlink('busybox', join(rootfs, 'bin', 'sh'));
  await tool('umoci', ['repack', '--image', `${layout}:base`, bundle]);
  await tool('umoci', [
    'config',
    '--image',
    `${layout}:base`,
    '--os',
    'linux',
    '--architecture',
    'amd64',
    '--config.env',
    'FOO=bar',
    '--config.env',
    'PATH=/bin',
    '--config.label',
    'e2e.base=busybox',
    '--config.cmd',
    '/bin/sh',
    '--history.created_by',
    'e2e: busybox base',
  ]);
  await fs.rm(bundle, { recursive: true, force: true });
  const cfg = await skopeoConfig(`oci:${layout}:base`);
  if (cfg.architecture !== 'amd64' || cfg.os !== 'linux') throw new Error(`umoci made a ${cfg.os}/${cfg.architecture} base`);
  return { layout, diffIds: cfg.rootfs.diff_ids, env: cfg.config.Env ?? [] };
}

/**
 * The base pushed twice to a registry with skopeo: `<host>/base:oci` keeping OCI types, and
 * `<host>/base:docker` converted to Docker schema 2 (`--format v2s2`). Returns the digests the
 * registry gives each tag.
 */
export async function pushBase(
  base: BaseImage,
  host: string,
  repository = 'base',
): Promise<{ oci: string; docker: string; ociRaw: string; dockerRaw: string }> {
  await skopeoCopy(`oci:${base.layout}:base`, `docker://${host}/${repository}:oci`, { format: 'oci', destInsecure: true });
  await skopeoCopy(`oci:${base.layout}:base`, `docker://${host}/${repository}:docker`, { format: 'v2s2', destInsecure: true });
  const ociRaw = await skopeoRaw(`docker://${host}/${repository}:oci`, { insecure: true });
  const dockerRaw = await skopeoRaw(`docker://${host}/${repository}:docker`, { insecure: true });
  return { oci: digestOf(ociRaw), docker: digestOf(dockerRaw), ociRaw, dockerRaw };
}
