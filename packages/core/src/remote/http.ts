import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs, readFileSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { rootCertificates } from 'node:tls';
import { FnbuildError } from '../util/errors';
import { tempPathFor } from '../util/fs-atomic';
import { hexOf, sha256Hex, type Digest } from '../util/hash';
import {
  checkRemoteKey,
  DEFAULT_REMOTE_TIMEOUTS,
  RemoteCacheError,
  RemoteMeter,
  type RemoteArea,
  type RemoteCache,
  type RemoteStats,
  type RemoteTimeouts,
} from '../cache/remote';

export interface HttpRemoteOptions {
  /** `http(s)://[user:password@]host[:port]/prefix`; the userinfo becomes Basic auth. */
  url: string;
  /** One extra request header, `Name: value` (a bearer token, an API key), never printed. */
  header?: string;
  /** PEM file of an extra CA to trust for https (in addition to the bundled roots). */
  caFile?: string;
  timeouts?: Partial<RemoteTimeouts>;
}

interface HttpCall {
  method: 'GET' | 'HEAD' | 'PUT';
  path: string;
  body?: () => Readable | Buffer;
  length?: number;
  totalMs: number;
}

const ENTRY_LIMIT = 4 * 1024 * 1024;
const RETRY_ONCE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** The URL as it may be printed: credentials replaced by `***`. */
export function redactUrl(url: URL): string {
  const shown = new URL(url.href);
  const had = shown.username || shown.password;
  shown.username = '';
  shown.password = '';
  return had ? shown.href.replace('://', '://***@') : shown.href;
}

/** `Name: value` → [name, value]; a malformed one is an error that does not echo the value. */
export function parseHeader(spec: string, where: string): [string, string] {
  const m = /^\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*:\s*(.*?)\s*$/.exec(spec);
  if (!m?.[2]) throw new FnbuildError(`${where} is not a header`, 'Write it as "Name: value", e.g. "Authorization: Bearer <token>".');
  return [m[1]!, m[2]];
}

/**
 * Bazel's HTTP remote cache protocol: `GET/PUT/HEAD <base>/ac/<hex>` for entries and
 * `<base>/cas/<hex>` for blobs, as bazel-remote, BuildBuddy or nginx with WebDAV PUT serve it.
 * Node entries live under /ac/<key>; Go's under /ac/<sha256("go:" + key)>: node keys are
 * digests of JSON documents (which never begin "go:"), so the two areas cannot collide short
 * of a sha256 collision. (bazel-remote checks /ac/ bodies are Bazel ActionResults unless
 * started with --disable_http_ac_validation.) Blobs are streamed both ways, never held whole.
 */
export class HttpRemoteCache implements RemoteCache {
  readonly name: string;
  private readonly base: URL;
  private readonly headers: Record<string, string> = {};
  private readonly timeouts: RemoteTimeouts;
  private readonly agent: http.Agent;
  private readonly meter = new RemoteMeter();

  constructor(opts: HttpRemoteOptions) {
    const url = new URL(opts.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`not an http(s) URL: ${url.protocol}`);
    url.search = '';
    url.hash = '';
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    this.name = redactUrl(url);
    if (url.username || url.password) {
      const basic = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      this.headers.Authorization = `Basic ${Buffer.from(basic).toString('base64')}`;
    }
    if (opts.header) {
      const [name, value] = parseHeader(opts.header, 'the remote cache header');
      this.headers[name] = value;
    }
    url.username = '';
    url.password = '';
    this.base = url;
    this.timeouts = { ...DEFAULT_REMOTE_TIMEOUTS, ...opts.timeouts };
    if (url.protocol === 'https:') {
      const ca = opts.caFile ? [...rootCertificates, readCa(opts.caFile)] : undefined;
      this.agent = new https.Agent({ keepAlive: true, ...(ca ? { ca } : {}) });
    } else {
      this.agent = new http.Agent({ keepAlive: true });
    }
  }

  private entryPath(area: RemoteArea, key: string): string {
    checkRemoteKey(key);
    return `ac/${area === 'ac' ? key : sha256Hex(`go:${key}`)}`;
  }

  async getEntry(area: RemoteArea, key: string): Promise<Uint8Array | undefined> {
    const path = this.entryPath(area, key);
    return this.meter.time(() =>
      this.exchange({ method: 'GET', path, totalMs: this.timeouts.entryMs }, async (res) => {
        if (res.statusCode === 404) return this.found(undefined, res);
        this.expect(res, [200], 'GET', path);
        const bytes = await readLimited(res, ENTRY_LIMIT);
        this.meter.down(bytes.length);
        return this.found(bytes, res);
      }),
    );
  }

  private found<T>(value: T, res: IncomingMessage): T {
    res.resume();
    this.meter.found(value !== undefined);
    return value;
  }

  async putEntry(area: RemoteArea, key: string, bytes: Uint8Array): Promise<void> {
    const path = this.entryPath(area, key);
    const body = Buffer.from(bytes);
    await this.meter.time(() =>
      this.exchange({ method: 'PUT', path, body: () => body, length: body.length, totalMs: this.timeouts.entryMs }, async (res) => {
        res.resume();
        this.expect(res, [200, 201, 204], 'PUT', path);
        this.meter.up(body.length);
      }),
    );
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    const path = `cas/${hexOf(digest)}`;
    return this.meter.time(() =>
      this.exchange({ method: 'HEAD', path, totalMs: this.timeouts.entryMs }, async (res) => {
        res.resume();
        if (res.statusCode === 404) return false;
        this.expect(res, [200], 'HEAD', path);
        return true;
      }),
    );
  }

  async getBlob(digest: Digest, dest: string): Promise<boolean> {
    const path = `cas/${hexOf(digest)}`;
    await fs.mkdir(dirname(dest), { recursive: true });
    const tmp = tempPathFor(dest);
    try {
      const actual = await this.meter.time(() =>
        this.exchange({ method: 'GET', path, totalMs: this.timeouts.blobMs }, async (res) => {
          if (res.statusCode === 404) {
            res.resume();
            return undefined;
          }
          this.expect(res, [200], 'GET', path);
          const hash = createHash('sha256');
          let size = 0;
          // Node rejects a body shorter than its Content-Length (a cut connection); the digest catches the rest.
          await pipeline(
            res,
            async function* (source: AsyncIterable<Buffer>) {
              for await (const chunk of source) {
                hash.update(chunk);
                size += chunk.length;
                yield chunk;
              }
            },
            createWriteStream(tmp),
          );
          this.meter.down(size);
          return `sha256:${hash.digest('hex')}`;
        }),
      );
      if (actual !== digest) return false;
      await fs.rename(tmp, dest);
      return true;
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  async putBlob(digest: Digest, size: number, path: string): Promise<void> {
    if (await this.hasBlob(digest)) return;
    const where = `cas/${hexOf(digest)}`;
    await this.meter.time(() =>
      this.exchange(
        { method: 'PUT', path: where, body: () => createReadStream(path, { highWaterMark: 1 << 20 }), length: size, totalMs: this.timeouts.blobMs },
        async (res) => {
          res.resume();
          this.expect(res, [200, 201, 204], 'PUT', where);
          this.meter.up(size);
        },
      ),
    );
  }

  stats(): RemoteStats {
    return this.meter.stats();
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private expect(res: IncomingMessage, ok: readonly number[], method: string, path: string): void {
    const status = res.statusCode ?? 0;
    if (ok.includes(status)) return;
    res.resume();
    const hint =
      status === 401 || status === 403
        ? ' (check the credentials in the URL or NX_FNBUILD_REMOTE_CACHE_HEADER)'
        : status === 400 && path.startsWith('ac/') && method === 'PUT'
          ? ' (bazel-remote needs --disable_http_ac_validation)'
          : '';
    throw new RemoteCacheError(this.name, `${method} ${this.base.pathname}${path} answered HTTP ${status}${hint}`);
  }

  /** One call, retried once when a kept-alive socket turns out to have been closed by the server. */
  private async exchange<T>(call: HttpCall, handle: (res: IncomingMessage) => Promise<T>): Promise<T> {
    try {
      return await this.attempt(call, handle);
    } catch (err) {
      if (!(err as { reused?: boolean }).reused) throw err;
      return this.attempt(call, handle);
    }
  }

  /**
   * Sends the request and hands the answer to `handle`, under every deadline: connect, first
   * byte (request sent → headers), idle (socket silent either way) and the call's total.
   */
  private attempt<T>(call: HttpCall, handle: (res: IncomingMessage) => Promise<T>): Promise<T> {
    const t = this.timeouts;
    const url = new URL(call.path, this.base);
    const what = `${call.method} ${url.pathname}`;
    return new Promise<T>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      let settled = false;
      const src = call.body?.();
      const headers: Record<string, string> = { 'User-Agent': 'nx-fnbuild', ...this.headers };
      if (call.length !== undefined) headers['Content-Length'] = String(call.length);
      if (call.body) headers['Content-Type'] = 'application/octet-stream';
      const req = (url.protocol === 'https:' ? https : http).request(url, { method: call.method, headers, agent: this.agent });
      const finish = (err: unknown, value?: T) => {
        if (settled) return;
        settled = true;
        timers.forEach(clearTimeout);
        if (err !== undefined) {
          req.destroy();
          if (src && !Buffer.isBuffer(src)) src.destroy();
          reject(this.wrap(err, what, req.reusedSocket));
        } else resolve(value as T);
      };
      const deadline = (ms: number, message: string) => {
        const timer = setTimeout(() => finish(new RemoteCacheError(this.name, `${what}: ${message} (${ms} ms)`)), ms);
        timers.push(timer);
        return timer;
      };
      deadline(call.totalMs, 'not done within the deadline');
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        const connect = deadline(t.connectMs, 'could not connect in time');
        socket.once('connect', () => clearTimeout(connect));
      });
      // One socket timeout, re-armed per phase: idle while sending, first byte while waiting, idle while receiving.
      let waiting = false;
      req.setTimeout(t.idleMs, () =>
        finish(
          new RemoteCacheError(
            this.name,
            waiting ? `${what}: no answer in time (${t.firstByteMs} ms)` : `${what}: the connection went silent (${t.idleMs} ms)`,
          ),
        ),
      );
      req.on('finish', () => {
        waiting = true;
        req.setTimeout(t.firstByteMs);
      });
      req.on('error', (err) => finish(err));
      req.on('response', (res) => {
        waiting = false;
        req.setTimeout(t.idleMs);
        res.on('error', () => {}); // reported through the reader below
        handle(res).then(
          (value) => finish(undefined, value),
          (err: unknown) => finish(err ?? new Error('failed')),
        );
      });
      if (src === undefined) req.end();
      else if (Buffer.isBuffer(src)) req.end(src);
      else {
        src.once('error', (err) => finish(err));
        src.pipe(req);
      }
    });
  }

  private wrap(err: unknown, what: string, reused: boolean): Error {
    if (err instanceof RemoteCacheError) return err;
    const e = err as NodeJS.ErrnoException;
    // A local disk error (ENOSPC in the store) is no remote fault, but must not fail the build either.
    const text = e?.code === 'ECONNREFUSED' ? 'connection refused' : `${e?.code ? `${e.code}: ` : ''}${e?.message ?? String(err)}`;
    const wrapped = new RemoteCacheError(this.name, `${what}: ${text}`);
    return Object.assign(wrapped, { reused: reused && RETRY_ONCE.has(e?.code ?? '') });
  }
}

function readCa(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FnbuildError(`caFile ${file} cannot be read: ${(err as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new FnbuildError(`caFile ${file} holds no PEM certificate`);
  return pem;
}

async function readLimited(res: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error(`an entry of more than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
