import { apiHost } from '../oci/reference';
import { FnbuildError } from '../util/errors';
import { Redactor } from '../util/redact';
import { Authenticator } from './auth';
import type { ResolvedCredentials } from './credentials';
import { httpError, isRetryableStatus, networkError, RegistryError, type ErrorContext } from './errors';
import { parseRetryAfter, withRetry, type RetryHooks, type RetryPolicy } from './retry';
import { discard, header, readErrorText, type BodySource, type HttpResponse, type HttpTransport } from './transport';

/** One request to a registry, described so it can be sent again (the body re-opened). */
export interface Call {
  method: string;
  /** A path on the registry (`/v2/…`), or `url` for an absolute one (an upload Location). */
  path?: string;
  url?: URL;
  headers?: Record<string, string>;
  body?: BodySource;
  /** Token scopes the request needs (`repository:x:pull`). */
  scopes: readonly string[];
  /** For messages: `pulling manifest host/repo:tag`. */
  action: string;
  repository?: string;
  /** Statuses the caller handles itself even though they are usually retried (rare). */
  accept?: readonly number[];
}

export interface SessionOptions {
  /** As named in references: `index.docker.io`, `127.0.0.1:5000`. */
  registry: string;
  http: HttpTransport;
  retry: RetryPolicy;
  credentials: () => Promise<ResolvedCredentials | undefined>;
  searchPath?: () => string[];
  hooks?: RetryHooks;
}

const PROBE_TIMEOUT_MS = 5_000;

const NETWORK_FAILURE = /ECONNRESET|ECONNREFUSED|ECONNABORTED|EPIPE|ETIMEDOUT|EAI_AGAIN|ERR_STREAM_PREMATURE_CLOSE|socket hang up|aborted/i;

function isNetworkFailure(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  return NETWORK_FAILURE.test(`${e?.code ?? ''} ${e?.message ?? ''}`);
}

/** A failure reading the request body from disk: not the network's doing, reported as is. */
function isLocalFailure(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  return ['ENOENT', 'EACCES', 'EISDIR', 'ENOSPC', 'EMFILE', 'EROFS'].includes(e?.code ?? '');
}

/**
 * Everything one registry host needs: where it answers (https, or http for an insecure host
 * that does not speak TLS), how it authenticates (learned from `GET /v2/`), a redactor for its
 * secrets, and requests sent with auth, one re-authentication round, and retries.
 */
export class RegistrySession {
  readonly redactor = new Redactor();
  readonly auth: Authenticator;
  private base: Promise<URL> | undefined;
  private origin: URL;

  constructor(private readonly opts: SessionOptions) {
    const host = apiHost(opts.registry);
    this.origin = new URL(`https://${host}/`);
    const self = this;
    this.auth = new Authenticator({
      registry: opts.registry,
      get origin() {
        return self.origin;
      },
      http: opts.http,
      retry: opts.retry,
      credentials: opts.credentials,
      ...(opts.searchPath ? { searchPath: opts.searchPath } : {}),
      redactor: this.redactor,
    });
  }

  get registry(): string {
    return this.opts.registry;
  }

  ctx(call: Pick<Call, 'action' | 'repository'>): ErrorContext {
    return { action: call.action, host: this.opts.registry, ...(call.repository ? { repository: call.repository } : {}) };
  }

  /** `GET /v2/` once per session: picks the scheme and learns the auth challenge. */
  ping(): Promise<URL> {
    return (this.base ??= this.doPing().catch((err) => {
      this.base = undefined; // a later call may try again
      throw err;
    }));
  }

  private async doPing(): Promise<URL> {
    const { http, registry } = this.opts;
    const host = apiHost(registry);
    const insecure = http.isInsecure(host) || http.isInsecure(registry);
    const ctx: ErrorContext = { action: `connecting to registry ${registry}`, host: registry };
    return withRetry(
      this.opts.retry,
      async () => {
        const failures: RegistryError[] = [];
        for (const scheme of insecure ? ['https', 'http'] : ['https']) {
          const base = new URL(`${scheme}://${host}/`);
          let res: HttpResponse;
          try {
            // Probing https on an insecure host: a plain-http server may sit silent on a TLS hello.
            const probe = insecure && scheme === 'https' ? { timeoutMs: PROBE_TIMEOUT_MS } : {};
            res = await http.send({ method: 'GET', url: new URL('/v2/', base), ...probe });
          } catch (err) {
            failures.push(networkError(ctx, err, this.redactor));
            continue;
          }
          if (res.status === 401 || (res.status >= 200 && res.status < 300)) {
            discard(res.body);
            this.origin = base;
            if (res.status === 401) this.auth.learn(res.headers);
            return base;
          }
          const text = await readErrorText(res.body);
          const err = httpError(ctx, res.status, text, this.redactor, parseRetryAfter(header(res.headers, 'retry-after')));
          if (err.info.retryable) throw err;
          failures.push(new RegistryError(`${ctx.action}: GET ${base.origin}/v2/ answered HTTP ${res.status}; is this a registry?`, undefined, err.info));
        }
        // A transient failure (the registry restarting) is worth retrying; otherwise the https one says most.
        throw failures.find((f) => f.info.retryable) ?? failures[0]!;
      },
      this.opts.hooks,
    );
  }

  /** One attempt, authenticated; a 401 is answered once (new scheme, new scopes, fresh token). */
  async send(call: Call): Promise<HttpResponse> {
    const base = await this.ping();
    const url = call.url ?? new URL(call.path!, base);
    let scopes = call.scopes;
    for (let round = 0; ; round++) {
      const authorization = await this.auth.authorization(scopes);
      let res: HttpResponse;
      try {
        res = await this.opts.http.send({
          method: call.method,
          url,
          ...(call.headers ? { headers: call.headers } : {}),
          ...(call.body ? { body: call.body } : {}),
          ...(authorization ? { authorization: { value: authorization, origin: base } } : {}),
        });
      } catch (err) {
        if (err instanceof FnbuildError || isLocalFailure(err)) throw err;
        throw networkError(this.ctx(call), err, this.redactor);
      }
      if (res.status !== 401 || round > 0) return res;
      const next = await this.auth.afterUnauthorized(res.headers, scopes, authorization);
      if (!next) return res;
      discard(res.body);
      scopes = next;
    }
  }

  /**
   * Sends and hands the response to `handle`, retrying the pair on retryable statuses and
   * network failures (also those while reading the body). `call` may differ per attempt.
   */
  async run<T>(call: Call | ((attempt: number) => Call), handle: (res: HttpResponse, call: Call) => Promise<T>): Promise<T> {
    return withRetry(
      this.opts.retry,
      async (attempt) => {
        const c = typeof call === 'function' ? call(attempt) : call;
        const res = await this.send(c);
        try {
          if (isRetryableStatus(res.status) && !c.accept?.includes(res.status)) await this.fail(res, c);
          return await handle(res, c);
        } catch (err) {
          if (err instanceof FnbuildError || !isNetworkFailure(err)) throw err;
          throw networkError(this.ctx(c), err, this.redactor);
        } finally {
          discard(res.body);
        }
      },
      this.opts.hooks,
    );
  }

  /** Turns an unexpected response into the error to throw (reads the registry's JSON error body). */
  async fail(res: HttpResponse, call: Pick<Call, 'action' | 'repository'>): Promise<never> {
    const text = await readErrorText(res.body);
    const ctx: ErrorContext = this.ctx(call);
    if (res.status === 401 || res.status === 403) ctx.credentialSource = await this.auth.credentialSource();
    throw httpError(ctx, res.status, text, this.redactor, parseRetryAfter(header(res.headers, 'retry-after')));
  }
}
