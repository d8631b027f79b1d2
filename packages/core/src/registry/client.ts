import { createReadStream, createWriteStream, promises as fs, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  checkTag,
  formatReference,
  formatRepository,
  manifestReference,
  normalizeRegistry,
  parseDigest,
  toRef,
  toRepo,
  type ImageRef,
  type RepoRef,
} from '../oci/reference';
import type { Descriptor } from '../oci/types';
import { FnbuildError } from '../util/errors';
import { tempPathFor } from '../util/fs-atomic';
import { hashFile, sha256, Sha256Hasher, type Digest } from '../util/hash';
import { pullScope, pushScope } from './auth';
import { credentialSearchPath, resolveCredentials, type CredentialSources } from './credentials';
import { RegistryError } from './errors';
import { appendQuery, resolveLocation } from './location';
import { bareMediaType, MANIFEST_ACCEPT, manifestMediaType } from './manifest';
import { backoffDelay, retryPolicy, type RetryHooks, type RetryPolicy } from './retry';
import { RegistrySession, type Call } from './session';
import { discard, header, HttpTransport, readBody, type HttpResponse, type TransportOptions } from './transport';

export interface RegistryClientOptions extends TransportOptions {
  /** Where credentials come from (explicit ones, Docker config, REGISTRY_AUTH_FILE). */
  credentials?: CredentialSources;
  retry?: Partial<RetryPolicy>;
  /** Called before each retry's wait (progress output, tests). */
  onRetry?: RetryHooks['onRetry'];
  /** Read for NX_FNBUILD_INSECURE_REGISTRIES; default: the credentials' env, else process.env. */
  env?: Record<string, string | undefined>;
}

/** NX_FNBUILD_INSECURE_REGISTRIES (comma-separated host[:port]) adds to every client's insecureRegistries. */
export function insecureRegistriesFrom(option: readonly string[] | undefined, env: Record<string, string | undefined>): string[] {
  const fromEnv = (env.NX_FNBUILD_INSECURE_REGISTRIES ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  return [...(option ?? []), ...fromEnv];
}

/** A blob the client uploads: its identity, and a way to read it again for each attempt. */
export interface ReadableBlob {
  digest: Digest;
  size: number;
  open: () => Readable;
  /** Bytes [start, end); lets chunked uploads read each chunk directly. Default: open() and skip. */
  openRange?: (start: number, end: number) => Readable;
}

export interface ManifestBytes {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

export type UploadOutcome = 'exists' | 'mounted' | 'uploaded';

export interface UploadOptions {
  /** Another repository of the same registry holding the blob: try a cross-repository mount first. */
  mountFrom?: RepoRef | string;
  /** Upload in PATCH chunks of this many bytes instead of one PUT (for registries that limit request size). */
  chunkSize?: number;
}

const MANIFEST_LIMIT = 8 * 1024 * 1024;
const OCTET = 'application/octet-stream';

/** A blob in a file whose digest and size are known. */
export function fileBlob(path: string, known: { digest: Digest; size: number }): ReadableBlob {
  return {
    digest: known.digest,
    size: known.size,
    open: () => createReadStream(path, { highWaterMark: 1 << 20 }),
    openRange: (start, end) => createReadStream(path, { start, end: end - 1, highWaterMark: 1 << 20 }),
  };
}

/** Bytes [start, end) of a stream; stops reading the source once past end. */
export function sliceStream(source: Readable, start: number, end: number): Readable {
  async function* slice() {
    let pos = 0;
    try {
      for await (const chunk of source) {
        const buf = chunk as Buffer;
        const from = Math.max(0, start - pos);
        const to = Math.min(buf.length, end - pos);
        pos += buf.length;
        if (to > from) yield buf.subarray(from, to);
        if (pos >= end) return;
      }
    } finally {
      source.destroy();
    }
  }
  return Readable.from(slice(), { objectMode: false });
}

/** The hash of what a download has put on disk so far (nothing, when the file was never created): where a resume goes on from. */
async function hashOnDisk(path: string): Promise<Sha256Hasher> {
  try {
    return await hashFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return new Sha256Hasher();
  }
}

/** Ends a file stream and waits until its bytes are written (or it failed; then rethrows if asked). */
function closeStream(out: WriteStream, rethrow = false): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.destroyed) return resolve();
    out.end((err?: Error | null) => (err && rethrow ? reject(err) : resolve()));
  });
}

function contentRangeStart(value: string | undefined): number | undefined {
  const m = /^bytes (\d+)-/.exec(value ?? '');
  return m ? Number(m[1]) : undefined;
}

function checkDigestHeader(res: HttpResponse, expected: Digest, what: string): void {
  const got = header(res.headers, 'docker-content-digest');
  if (got?.startsWith('sha256:') && got !== expected) {
    throw new FnbuildError(`${what}: the registry reports digest ${got}, but the bytes are ${expected}`);
  }
}

/** Upload failures that a fresh upload session can get past. */
function restartable(err: unknown): err is RegistryError {
  return err instanceof RegistryError && (err.info.retryable || err.hasCode('BLOB_UPLOAD_INVALID') || err.hasCode('BLOB_UPLOAD_UNKNOWN') || err.status === 416);
}

/**
 * A client for OCI Distribution registries: manifests and blobs, pulled and pushed, with
 * authentication, redirects, retries and verification. One session per registry host.
 */
export class RegistryClient {
  private readonly http: HttpTransport;
  private readonly retry: RetryPolicy;
  private readonly sessions = new Map<string, RegistrySession>();

  constructor(private readonly options: RegistryClientOptions = {}) {
    const env = options.env ?? options.credentials?.env ?? process.env;
    this.http = new HttpTransport({ ...options, insecureRegistries: insecureRegistriesFrom(options.insecureRegistries, env) });
    this.retry = retryPolicy(options.retry);
  }

  session(registry: string): RegistrySession {
    const key = normalizeRegistry(registry);
    let s = this.sessions.get(key);
    if (!s) {
      s = new RegistrySession({
        registry: key,
        http: this.http,
        retry: this.retry,
        credentials: () => resolveCredentials(key, this.options.credentials),
        searchPath: () => credentialSearchPath(this.options.credentials),
        hooks: this.options.onRetry ? { onRetry: this.options.onRetry } : {},
      });
      this.sessions.set(key, s);
    }
    return s;
  }

  /** The manifest bytes, verified against Docker-Content-Digest and the reference's digest. */
  async getManifest(refArg: ImageRef | string, accept: readonly string[] = MANIFEST_ACCEPT): Promise<ManifestBytes> {
    const ref = toRef(refArg);
    const s = this.session(ref.registry);
    const what = `pulling manifest ${formatReference(ref)}`;
    return s.run(
      {
        method: 'GET',
        path: `/v2/${ref.repository}/manifests/${manifestReference(ref)}`,
        headers: { Accept: accept.join(', ') },
        scopes: [pullScope(ref.repository)],
        action: what,
        repository: ref.repository,
      },
      async (res, call) => {
        if (res.status !== 200) return s.fail(res, call);
        const bytes = await readBody(res.body, MANIFEST_LIMIT, `${what}: the manifest`);
        const digest = sha256(bytes);
        checkDigestHeader(res, digest, what);
        if (ref.digest && ref.digest !== digest) {
          throw new FnbuildError(
            `${what}: the registry sent a manifest whose digest is ${digest}`,
            'The registry or something between it and us altered the manifest.',
          );
        }
        const mediaType = manifestMediaType(bytes, header(res.headers, 'content-type'), what);
        if (!accept.includes(mediaType)) throw new FnbuildError(`${what}: the registry sent a ${mediaType}, which was not asked for (${accept.join(', ')})`);
        return { bytes, mediaType, digest };
      },
    );
  }

  /** The manifest's descriptor without its body (HEAD), or undefined when the registry has none. */
  async headManifest(refArg: ImageRef | string, accept: readonly string[] = MANIFEST_ACCEPT): Promise<Descriptor | undefined> {
    const ref = toRef(refArg);
    const s = this.session(ref.registry);
    const found = await s.run(
      {
        method: 'HEAD',
        path: `/v2/${ref.repository}/manifests/${manifestReference(ref)}`,
        headers: { Accept: accept.join(', ') },
        scopes: [pullScope(ref.repository)],
        action: `checking manifest ${formatReference(ref)}`,
        repository: ref.repository,
      },
      async (res, call) => {
        if (res.status === 404) return null;
        if (res.status !== 200) return s.fail(res, call);
        const digest = header(res.headers, 'docker-content-digest') ?? ref.digest;
        const mediaType = bareMediaType(header(res.headers, 'content-type'));
        const size = Number(header(res.headers, 'content-length'));
        if (!digest?.startsWith('sha256:') || !mediaType || !Number.isFinite(size)) return undefined;
        return { digest: parseDigest(digest), mediaType, size } satisfies Descriptor;
      },
    );
    if (found === null) return undefined;
    if (found) return found;
    // Some registries leave headers out of HEAD answers: the body tells.
    const m = await this.getManifest(ref, accept);
    return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
  }

  /** The blob's size when the repository has it, else undefined. */
  async headBlob(repoArg: RepoRef | string, digest: Digest): Promise<{ digest: Digest; size: number } | undefined> {
    const repo = toRepo(repoArg);
    return this.headBlobWith(repo, digest, [pullScope(repo.repository)]);
  }

  private async headBlobWith(repo: RepoRef, digest: Digest, scopes: readonly string[]): Promise<{ digest: Digest; size: number } | undefined> {
    parseDigest(digest);
    const s = this.session(repo.registry);
    return s.run(
      {
        method: 'HEAD',
        path: `/v2/${repo.repository}/blobs/${digest}`,
        scopes,
        action: `checking blob ${digest} in ${formatRepository(repo)}`,
        repository: repo.repository,
      },
      async (res, call) => {
        if (res.status === 404) return undefined;
        if (res.status !== 200) return s.fail(res, call);
        return { digest, size: Number(header(res.headers, 'content-length') ?? -1) };
      },
    );
  }

  /** A small blob (a config) in memory, verified. */
  async getBlobBytes(repoArg: RepoRef | string, digest: Digest, maxBytes = MANIFEST_LIMIT): Promise<Buffer> {
    const repo = toRepo(repoArg);
    parseDigest(digest);
    const s = this.session(repo.registry);
    const what = `downloading blob ${digest} of ${formatRepository(repo)}`;
    return s.run(
      { method: 'GET', path: `/v2/${repo.repository}/blobs/${digest}`, scopes: [pullScope(repo.repository)], action: what, repository: repo.repository },
      async (res, call) => {
        if (res.status !== 200) return s.fail(res, call);
        const bytes = await readBody(res.body, maxBytes, `${what}: the blob`);
        if (sha256(bytes) !== digest) throw new FnbuildError(`${what}: the registry sent bytes whose digest is ${sha256(bytes)}`);
        return bytes;
      },
    );
  }

  /**
   * Streams a blob to destFile: into a temp file beside it, hashed on the way, renamed into
   * place only when digest (and size, if given) match. An interrupted download resumes with a
   * Range request when the registry supports it, else starts over.
   */
  async getBlob(repoArg: RepoRef | string, digest: Digest, destFile: string, opts: { size?: number } = {}): Promise<{ digest: Digest; size: number }> {
    const repo = toRepo(repoArg);
    parseDigest(digest);
    const s = this.session(repo.registry);
    const what = `downloading blob ${digest} of ${formatRepository(repo)}`;
    await fs.mkdir(dirname(destFile), { recursive: true });
    const tmp = tempPathFor(destFile);
    let hash = new Sha256Hasher();
    try {
      await s.run(
        (): Call => ({
          method: 'GET',
          path: `/v2/${repo.repository}/blobs/${digest}`,
          headers: hash.size > 0 ? { Range: `bytes=${hash.size}-` } : ({} as Record<string, string>),
          scopes: [pullScope(repo.repository)],
          action: what,
          repository: repo.repository,
        }),
        async (res, call) => {
          const resume = hash.size > 0 && res.status === 206 && contentRangeStart(header(res.headers, 'content-range')) === hash.size;
          if (!resume) {
            if (res.status !== 200) return s.fail(res, call);
            hash = new Sha256Hasher();
          }
          // A loop rather than pipeline(): when the connection dies, what arrived is still flushed
          // to disk (pipeline would destroy the file stream and drop buffered chunks), so the
          // next attempt can resume from it.
          const out = createWriteStream(tmp, { flags: resume ? 'a' : 'w' });
          let diskError: Error | undefined;
          out.on('error', (e) => (diskError ??= e));
          try {
            for await (const chunk of res.body) {
              const buf = chunk as Buffer;
              if (opts.size !== undefined && hash.size + buf.length > opts.size) {
                throw new FnbuildError(`${what}: the registry sent more than the ${opts.size} bytes expected`);
              }
              hash.update(buf);
              if (!out.write(buf)) await once(out, 'drain');
              if (diskError) throw diskError;
            }
          } catch (err) {
            await closeStream(out);
            // Resume from what is on disk, whatever the failure left there.
            hash = await hashOnDisk(tmp);
            throw err;
          }
          await closeStream(out, true);
          if (diskError) throw diskError;
        },
      );
      const size = hash.size;
      const actual = hash.digest();
      if (actual !== digest)
        throw new FnbuildError(`${what}: the registry sent bytes whose digest is ${actual}`, 'The blob is corrupt in the registry, or was altered on the way.');
      if (opts.size !== undefined && size !== opts.size) throw new FnbuildError(`${what}: got ${size} bytes, expected ${opts.size}`);
      await fs.rename(tmp, destFile);
      return { digest, size };
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  /**
   * Makes the blob present in the repository: nothing when it is there already (HEAD), a
   * cross-repository mount when `mountFrom` has it, else an upload (one PUT, or PATCH chunks
   * then a PUT). A failed upload starts a fresh session and re-opens the source.
   */
  async uploadBlob(repoArg: RepoRef | string, blob: ReadableBlob, opts: UploadOptions = {}): Promise<UploadOutcome> {
    const repo = toRepo(repoArg);
    parseDigest(blob.digest);
    const s = this.session(repo.registry);
    const from = opts.mountFrom ? toRepo(opts.mountFrom) : undefined;
    const mount = from && normalizeRegistry(from.registry) === normalizeRegistry(repo.registry) && from.repository !== repo.repository ? from : undefined;
    const scopes = [pushScope(repo.repository), ...(mount ? [pullScope(mount.repository)] : [])];
    const action = `uploading blob ${blob.digest} to ${formatRepository(repo)}`;
    const base: Pick<Call, 'scopes' | 'action' | 'repository'> = { scopes, action, repository: repo.repository };

    for (let attempt = 1; ; attempt++) {
      if (await this.headBlobWith(repo, blob.digest, scopes)) return 'exists';
      const query = mount ? `?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(mount.repository)}` : '';
      const start = await s.run({ ...base, method: 'POST', path: `/v2/${repo.repository}/blobs/uploads/${query}` }, async (res, call) => {
        if (res.status === 201 && mount) return 'mounted' as const;
        if (res.status !== 202) return s.fail(res, call);
        return resolveLocation(res.url, header(res.headers, 'location'));
      });
      if (start === 'mounted') return 'mounted';
      try {
        if (opts.chunkSize && opts.chunkSize > 0 && blob.size > opts.chunkSize) await this.putChunked(s, base, start, blob, opts.chunkSize);
        else await this.putWhole(s, base, start, blob);
        return 'uploaded';
      } catch (err) {
        if (!restartable(err) || attempt >= this.retry.attempts) throw err;
        const delay = err.info.retryAfterMs ?? backoffDelay(attempt, this.retry);
        if (delay > this.retry.maxRetryAfterMs) throw err;
        this.options.onRetry?.(err, attempt, delay);
        await sleep(delay);
      }
    }
  }

  private async expectAnswer(s: RegistrySession, res: HttpResponse, call: Pick<Call, 'action' | 'repository'>, ok: (status: number) => boolean): Promise<void> {
    try {
      if (!ok(res.status)) await s.fail(res, call);
    } finally {
      discard(res.body);
    }
  }

  private async putWhole(s: RegistrySession, base: Pick<Call, 'scopes' | 'action' | 'repository'>, location: URL, blob: ReadableBlob): Promise<void> {
    const res = await s.send({
      ...base,
      method: 'PUT',
      url: appendQuery(location, 'digest', blob.digest),
      headers: { 'Content-Type': OCTET, 'Content-Length': String(blob.size) },
      body: blob.size > 0 ? blob.open : () => Buffer.alloc(0),
    });
    await this.expectAnswer(s, res, base, (st) => st === 201 || st === 204 || st === 200);
    checkDigestHeader(res, blob.digest, base.action);
  }

  private async putChunked(
    s: RegistrySession,
    base: Pick<Call, 'scopes' | 'action' | 'repository'>,
    location: URL,
    blob: ReadableBlob,
    chunkSize: number,
  ): Promise<void> {
    let url = location;
    for (let start = 0; start < blob.size; start += chunkSize) {
      const end = Math.min(blob.size, start + chunkSize);
      const res = await s.send({
        ...base,
        method: 'PATCH',
        url,
        headers: { 'Content-Type': OCTET, 'Content-Length': String(end - start), 'Content-Range': `${start}-${end - 1}` },
        body: () => (blob.openRange ? blob.openRange(start, end) : sliceStream(blob.open(), start, end)),
      });
      await this.expectAnswer(s, res, base, (st) => st === 202 || st === 204);
      url = resolveLocation(res.url, header(res.headers, 'location') ?? url.href);
    }
    const res = await s.send({ ...base, method: 'PUT', url: appendQuery(url, 'digest', blob.digest) });
    await this.expectAnswer(s, res, base, (st) => st === 201 || st === 204 || st === 200);
    checkDigestHeader(res, blob.digest, base.action);
  }

  /** Pushes manifest bytes under a tag or their digest; returns their digest. */
  async putManifest(repoArg: RepoRef | string, reference: string, bytes: Uint8Array, mediaType: string): Promise<Digest> {
    const repo = toRepo(repoArg);
    const digest = sha256(bytes);
    const what = `pushing manifest ${formatRepository(repo)}${reference.includes(':') ? '@' : ':'}${reference}`;
    if (reference.includes(':')) {
      if (parseDigest(reference) !== digest) throw new FnbuildError(`${what}: the manifest's digest is ${digest}, not the one it is pushed under`);
    } else {
      checkTag(reference);
    }
    const body = Buffer.from(bytes);
    const s = this.session(repo.registry);
    return s.run(
      {
        method: 'PUT',
        path: `/v2/${repo.repository}/manifests/${reference}`,
        headers: { 'Content-Type': mediaType },
        body: () => body,
        scopes: [pushScope(repo.repository)],
        action: what,
        repository: repo.repository,
      },
      async (res, call) => {
        if (res.status !== 201 && res.status !== 200 && res.status !== 204) return s.fail(res, call);
        checkDigestHeader(res, digest, what);
        return digest;
      },
    );
  }

  /** Closes idle connections. */
  close(): void {
    this.http.close();
  }
}
