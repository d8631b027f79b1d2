import { readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { createSecureContext, rootCertificates } from 'node:tls';
import { FnbuildError } from '../util/errors';
import { resolveLocation, sameOrigin } from './location';

/** A request body that can be produced again for a retry: a fresh stream (from disk) or bytes. */
export type BodySource = () => Readable | Buffer;

export interface TransportOptions {
  /**
   * Hosts (host[:port]) reached over plain http or over TLS without verification. Nothing is
   * insecure unless listed here, loopback included.
   */
  insecureRegistries?: readonly string[];
  /** PEM file of an extra CA to trust (in addition to the system's). */
  caFile?: string;
  /** A socket idle longer than this fails the request (and is retried). Default 60 s. */
  timeoutMs?: number;
  userAgent?: string;
}

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: BodySource;
  /** The Authorization header, sent only to `origin`: never to a redirect target elsewhere. */
  authorization?: { value: string; origin: URL };
  /** Follow 3xx for GET and HEAD (default). */
  followRedirects?: boolean;
  /** Overrides the transport's idle timeout for this request. */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The URL that answered (after redirects): relative Locations resolve against it. */
  url: URL;
  body: IncomingMessage;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;
const DEFAULT_TIMEOUT_MS = 60_000;

/** "https://host:5000/", "host:5000" → "host:5000". */
export function normalizeHost(entry: string): string {
  return entry
    .trim()
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
}

/**
 * Raw HTTP for registries: keep-alive agents, TLS verified against the system roots plus an
 * optional CA file, redirects followed with the Authorization header dropped when they leave
 * its origin. One attempt per call; retries and auth live above it.
 */
export class HttpTransport {
  readonly userAgent: string;
  private readonly insecure: Set<string>;
  private readonly timeoutMs: number;
  private readonly httpsAgent: https.Agent;
  private readonly insecureAgent: https.Agent;
  private readonly httpAgent: http.Agent;

  constructor(options: TransportOptions = {}) {
    this.insecure = new Set((options.insecureRegistries ?? []).map(normalizeHost));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.userAgent = options.userAgent ?? 'nx-fnbuild';
    let ca: string[] | undefined;
    if (options.caFile) {
      let pem: string;
      try {
        pem = readFileSync(options.caFile, 'utf8');
      } catch (err) {
        throw new FnbuildError(`caFile ${options.caFile} cannot be read: ${(err as Error).message}`);
      }
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new FnbuildError(`caFile ${options.caFile} holds no PEM certificate`);
      // `ca` replaces the default roots, so keep them: the extra CA is in addition.
      ca = [...rootCertificates, pem];
    }
    // One secure context for all connections: building one from ~150 roots per connection costs tens of ms each.
    this.httpsAgent = new https.Agent({ keepAlive: true, ...(ca ? { secureContext: createSecureContext({ ca }) } : {}) });
    this.insecureAgent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
    this.httpAgent = new http.Agent({ keepAlive: true });
  }

  isInsecure(host: string): boolean {
    return this.insecure.has(normalizeHost(host));
  }

  /** Sends the request, following redirects for GET/HEAD; the caller must consume or discard the body. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    let url = req.url;
    let method = req.method;
    const follow = req.followRedirects ?? (method === 'GET' || method === 'HEAD');
    for (let hop = 0; ; hop++) {
      const auth = req.authorization && sameOrigin(url, req.authorization.origin) ? req.authorization.value : undefined;
      const res = await this.once(method, url, req.headers ?? {}, auth, hop === 0 ? req.body : undefined, req.timeoutMs ?? this.timeoutMs);
      if (!follow || !REDIRECTS.has(res.status)) return res;
      discard(res.body);
      if (hop >= MAX_REDIRECTS) throw new FnbuildError(`${req.url.host}: more than ${MAX_REDIRECTS} redirects for ${req.method} ${req.url.pathname}`);
      url = resolveLocation(url, res.headers.location, 'redirect');
      if (res.status === 303) method = 'GET';
    }
  }

  private once(
    method: string,
    url: URL,
    headers: Record<string, string>,
    authorization: string | undefined,
    body: BodySource | undefined,
    timeoutMs: number,
  ): Promise<HttpResponse> {
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') return Promise.reject(new FnbuildError(`unsupported URL scheme in ${url.protocol}//${url.host}`));
    const agent = secure ? (this.isInsecure(url.host) ? this.insecureAgent : this.httpsAgent) : this.httpAgent;
    const src = body?.();
    const h: Record<string, string> = { 'User-Agent': this.userAgent, ...headers };
    if (authorization) h.Authorization = authorization;
    if (Buffer.isBuffer(src)) h['Content-Length'] = String(src.length);
    else if (!src && (method === 'PUT' || method === 'POST' || method === 'PATCH') && h['Content-Length'] === undefined) h['Content-Length'] = '0';

    return new Promise<HttpResponse>((resolve, reject) => {
      let answered = false;
      const req = (secure ? https : http).request(url, { method, headers: h, agent });
      req.setTimeout(timeoutMs, () => {
        const err = Object.assign(new Error(`no data for ${timeoutMs < 10_000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`}`), {
          code: 'ETIMEDOUT',
        });
        req.destroy(err);
      });
      req.on('error', (err) => {
        if (!answered) {
          answered = true;
          if (src && !Buffer.isBuffer(src)) src.destroy();
          reject(err);
        }
      });
      req.on('response', (res) => {
        answered = true;
        // A body cut off after the caller stopped reading must not become an unhandled 'error';
        // a caller that reads still sees it.
        res.on('error', () => {});
        if (src && !Buffer.isBuffer(src) && !req.writableFinished) {
          // Answered before the body was sent (401, 413, 503...): stop reading the file, and
          // drop the connection once the answer is read, since the request on it is unfinished.
          src.unpipe(req);
          src.destroy();
          res.once('end', () => req.destroy());
          res.once('close', () => req.destroy());
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, url, body: res });
      });
      if (src === undefined) req.end();
      else if (Buffer.isBuffer(src)) req.end(src);
      else {
        src.once('error', (err) => req.destroy(err));
        src.pipe(req);
      }
    });
  }

  /** Closes idle keep-alive sockets (in-flight requests finish). */
  close(): void {
    this.httpsAgent.destroy();
    this.insecureAgent.destroy();
    this.httpAgent.destroy();
  }
}

/** Reads a whole (small) body; more than `limit` bytes is an error, so a wrong URL cannot fill memory. */
export async function readBody(res: IncomingMessage, limit: number, what = 'response'): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    res.destroy();
    throw new FnbuildError(`${what} is ${declared} bytes, more than the ${limit} allowed`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      res.destroy();
      throw new FnbuildError(`${what} is more than the ${limit} bytes allowed`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Reads up to 64 KiB of an error body as text, never failing. */
export async function readErrorText(res: IncomingMessage): Promise<string> {
  try {
    return (await readBody(res, 64 * 1024)).toString('utf8');
  } catch {
    return '';
  }
}

/** Lets the socket go back to the pool (or be closed) without reading the body. */
export function discard(res: IncomingMessage): void {
  if (!res.complete && !res.destroyed) res.resume();
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}
