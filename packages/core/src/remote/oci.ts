import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, OCI_MANIFEST } from '../oci/media-types';
import type { Descriptor, Manifest } from '../oci/types';
import { fileBlob, RegistryClient, type ReadableBlob } from '../registry/client';
import { RegistryError } from '../registry/errors';
import { formatRepository, parseRepository, type RepoRef } from '../oci/reference';
import { FnbuildError } from '../util/errors';
import { sha256, type Digest } from '../util/hash';
import {
  checkRemoteKey,
  DEFAULT_REMOTE_TIMEOUTS,
  RemoteCacheError,
  RemoteMeter,
  type RemoteArea,
  type RemoteBlob,
  type RemoteCache,
  type RemoteStats,
  type RemoteTimeouts,
} from '../cache/remote';

export interface OciRemoteOptions {
  /** `oci://<registry>/<repository>`. */
  url: string;
  insecureRegistries?: readonly string[];
  caFile?: string;
  /** For credentials (DOCKER_CONFIG, REGISTRY_AUTH_FILE, helpers' PATH) and NX_FNBUILD_INSECURE_REGISTRIES. */
  env?: Record<string, string | undefined>;
  timeouts?: Partial<RemoteTimeouts>;
}

/** What an entry's config blob holds: the entry's bytes, and where they belong (checked on read). */
interface EntryConfig {
  fnbuildCache: 1;
  area: RemoteArea;
  key: string;
  bytes: string;
}

const OCTET = 'application/octet-stream';
const ENTRY_LIMIT = 4 * 1024 * 1024;

/** Layer media type from a blob's first bytes: image layers (gzip, zstd) keep their own. */
async function sniffMediaType(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(4), 0, 4, 0);
    const b = buffer.subarray(0, bytesRead);
    if (b[0] === 0x1f && b[1] === 0x8b) return OCI_LAYER_GZIP;
    if (bytesRead === 4 && b.readUInt32LE(0) === 0xfd2fb528) return OCI_LAYER_ZSTD;
    return OCTET;
  } finally {
    await fh.close();
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof RegistryError && (err.status === 404 || err.hasCode('MANIFEST_UNKNOWN') || err.hasCode('BLOB_UNKNOWN') || err.hasCode('NAME_UNKNOWN'));
}

/**
 * A remote tier in an OCI registry, through the project's registry client (credentials from
 * Docker's config and helpers, retries, TLS, insecure registries). Only what every
 * Distribution-spec registry takes: an entry is an OCI image manifest tagged `<area>-<key>`
 * (67 chars), whose config (standard config media type) holds the entry's bytes and whose
 * layers are the blobs it names, so a registry's garbage collector keeps exactly the blobs
 * some entry still references. Blobs are plain registry blobs named by their digest; an image
 * layer cached here is the very blob a push uploads, so a push to the same registry can mount it.
 */
export class OciRemoteCache implements RemoteCache {
  readonly name: string;
  private readonly repo: RepoRef;
  private readonly client: RegistryClient;
  private readonly timeouts: RemoteTimeouts;
  private readonly meter = new RemoteMeter();
  /** Media types of the blobs this process handed to putBlob, for the layers of later entries. */
  private readonly mediaTypes = new Map<Digest, string>();

  constructor(opts: OciRemoteOptions) {
    const m = /^oci:\/\/([^/]+\/.+)$/.exec(opts.url);
    if (!m || m[1]!.includes('@')) throw new Error(`not an oci://<registry>/<repository> URL`);
    this.repo = parseRepository(m[1]!.replace(/\/+$/, ''));
    this.name = `oci://${formatRepository(this.repo)}`;
    this.timeouts = { ...DEFAULT_REMOTE_TIMEOUTS, ...opts.timeouts };
    const env = opts.env ?? process.env;
    this.client = new RegistryClient({
      ...(opts.insecureRegistries ? { insecureRegistries: opts.insecureRegistries } : {}),
      ...(opts.caFile ? { caFile: opts.caFile } : {}),
      env,
      credentials: { env, dockerConfigDir: env.DOCKER_CONFIG, registryAuthFile: env.REGISTRY_AUTH_FILE },
      // A cache is an optimization: one quick retry, no long Retry-After waits.
      retry: { attempts: 2, baseDelayMs: 100, maxDelayMs: 500, maxRetryAfterMs: 1_000 },
      timeoutMs: Math.max(this.timeouts.firstByteMs, this.timeouts.idleMs),
    });
  }

  /** Runs one operation under the meter and a total deadline; any failure becomes a RemoteCacheError. */
  private call<T>(what: string, totalMs: number, fn: () => Promise<T>): Promise<T> {
    return this.meter.time(async () => {
      let timer: NodeJS.Timeout | undefined;
      const work = fn();
      work.catch(() => {}); // may lose the race below; its late failure is nobody's business
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RemoteCacheError(this.name, `${what}: not done within ${totalMs} ms`)), totalMs);
      });
      try {
        return await Promise.race([work, late]);
      } catch (err) {
        if (err instanceof RemoteCacheError) throw err;
        const hint = err instanceof FnbuildError && err.hint ? `; ${err.hint.replace(/insecureRegistries/g, 'NX_FNBUILD_INSECURE_REGISTRIES')}` : '';
        throw new RemoteCacheError(this.name, `${what}: ${(err as Error).message.split('\n')[0]}${hint}`);
      } finally {
        clearTimeout(timer);
      }
    });
  }

  async getEntry(area: RemoteArea, key: string): Promise<Uint8Array | undefined> {
    const tag = `${area}-${checkRemoteKey(key)}`;
    const bytes = await this.call(`reading entry ${tag}`, this.timeouts.entryMs, async () => {
      let manifest: Manifest;
      try {
        const m = await this.client.getManifest({ ...this.repo, tag }, [OCI_MANIFEST]);
        manifest = JSON.parse(m.bytes.toString('utf8')) as Manifest;
        this.meter.down(m.bytes.length);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
      const config = manifest.config;
      if (!config || config.mediaType !== OCI_CONFIG || !(config.size <= ENTRY_LIMIT)) return undefined;
      let doc: EntryConfig;
      try {
        const raw = await this.client.getBlobBytes(this.repo, config.digest, ENTRY_LIMIT);
        this.meter.down(raw.length);
        doc = JSON.parse(raw.toString('utf8')) as EntryConfig;
      } catch (err) {
        if (isNotFound(err) || err instanceof SyntaxError) return undefined;
        throw err;
      }
      if (doc.fnbuildCache !== 1 || doc.area !== area || doc.key !== key || typeof doc.bytes !== 'string') return undefined;
      return new Uint8Array(Buffer.from(doc.bytes, 'base64'));
    });
    this.meter.found(bytes !== undefined);
    return bytes;
  }

  async putEntry(area: RemoteArea, key: string, bytes: Uint8Array, blobs: readonly RemoteBlob[] = []): Promise<void> {
    const tag = `${area}-${checkRemoteKey(key)}`;
    const doc: EntryConfig = { fnbuildCache: 1, area, key, bytes: Buffer.from(bytes).toString('base64') };
    const config = Buffer.from(JSON.stringify(doc));
    const layers: Descriptor[] = blobs.map((b) => ({ mediaType: this.mediaTypes.get(b.digest) ?? OCTET, digest: b.digest, size: b.size }));
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length },
      layers,
    };
    const body = Buffer.from(JSON.stringify(manifest));
    await this.call(`writing entry ${tag}`, this.timeouts.entryMs, async () => {
      if ((await this.client.uploadBlob(this.repo, memoryBlob(config))) === 'uploaded') this.meter.up(config.length);
      await this.client.putManifest(this.repo, tag, body, OCI_MANIFEST);
      this.meter.up(body.length);
    });
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    return this.call(`checking blob ${digest}`, this.timeouts.entryMs, async () => (await this.client.headBlob(this.repo, digest)) !== undefined);
  }

  async getBlob(digest: Digest, dest: string): Promise<boolean> {
    return this.call(`downloading blob ${digest}`, this.timeouts.blobMs, async () => {
      try {
        const got = await this.client.getBlob(this.repo, digest, dest);
        this.meter.down(got.size);
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        // The client's own verification (digest or size): the bytes are wrong, nothing was written.
        if (err instanceof FnbuildError && !(err instanceof RegistryError)) return false;
        throw err;
      }
    });
  }

  async putBlob(digest: Digest, size: number, path: string): Promise<void> {
    this.mediaTypes.set(digest, await sniffMediaType(path));
    await this.call(`uploading blob ${digest}`, this.timeouts.blobMs, async () => {
      if ((await this.client.uploadBlob(this.repo, fileBlob(path, { digest, size }))) === 'uploaded') this.meter.up(size);
    });
  }

  stats(): RemoteStats {
    return this.meter.stats();
  }

  /** Closes the client's connections, in-flight ones included (a call that lost its deadline race). */
  async close(): Promise<void> {
    this.client.close();
  }
}

function memoryBlob(bytes: Buffer): ReadableBlob {
  return { digest: sha256(bytes), size: bytes.length, open: () => Readable.from([bytes]) };
}
