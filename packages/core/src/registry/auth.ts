import type { IncomingHttpHeaders } from 'node:http';
import { FnbuildError } from '../util/errors';
import type { Redactor } from '../util/redact';
import { parseWwwAuthenticate, pickChallenge, type Challenge } from './challenge';
import type { Credentials, ResolvedCredentials } from './credentials';
import { httpError, networkError, RegistryError, type ErrorContext } from './errors';
import { appendQuery } from './location';
import { parseRetryAfter, withRetry, type RetryPolicy } from './retry';
import { discard, header, readBody, readErrorText, type HttpResponse, type HttpTransport } from './transport';

/** Token scopes: `repository:<name>:<actions>`. */
export const pullScope = (repository: string): string => `repository:${repository}:pull`;
export const pushScope = (repository: string): string => `repository:${repository}:pull,push`;

function splitScope(scope: string): [resource: string, actions: string[]] {
  const colon = scope.lastIndexOf(':');
  if (colon < 0) return [scope, []];
  return [
    scope.slice(0, colon),
    scope
      .slice(colon + 1)
      .split(',')
      .filter(Boolean),
  ];
}

/** Union by resource, actions merged and sorted: the normal form tokens are cached under. */
export function mergeScopes(...lists: readonly (readonly string[])[]): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const scope of lists.flat()) {
    const [resource, actions] = splitScope(scope);
    const set = byResource.get(resource) ?? new Set<string>();
    actions.forEach((a) => set.add(a));
    byResource.set(resource, set);
  }
  return [...byResource.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([r, a]) => `${r}:${[...a].sort().join(',')}`);
}

/** True when every wanted scope's actions are within a granted scope on the same resource. */
export function scopesCover(granted: readonly string[], wanted: readonly string[]): boolean {
  const have = new Map(granted.map((g) => splitScope(g)));
  return wanted.every((w) => {
    const [resource, actions] = splitScope(w);
    const got = have.get(resource);
    return got !== undefined && actions.every((a) => got.includes(a) || got.includes('*'));
  });
}

export type AuthScheme = { kind: 'none' } | { kind: 'basic' } | { kind: 'bearer'; realm: string; service?: string };

export function schemeOf(challenge: Challenge | undefined): AuthScheme {
  if (challenge?.scheme === 'bearer' && challenge.params.realm) {
    return { kind: 'bearer', realm: challenge.params.realm, ...(challenge.params.service ? { service: challenge.params.service } : {}) };
  }
  if (challenge?.scheme === 'basic') return { kind: 'basic' };
  return { kind: 'none' };
}

interface Token {
  value: string;
  scopes: string[];
  expiresAt: number;
}

export interface AuthenticatorOptions {
  /** The registry as named in references (messages, credential lookup). */
  registry: string;
  /** Scheme + host of the registry API: Basic credentials go nowhere else. */
  origin: URL;
  http: HttpTransport;
  retry: RetryPolicy;
  /** Looked up once, when a challenge first asks for credentials. */
  credentials: () => Promise<ResolvedCredentials | undefined>;
  /** Where credentials were looked for, for "none found" messages. */
  searchPath?: () => string[];
  redactor: Redactor;
  now?: () => number;
}

const TOKEN_RESPONSE_LIMIT = 1024 * 1024;

/**
 * Answers a registry's challenges. Learns the scheme from the ping (or a later 401): Basic
 * sends the credentials to the registry; Bearer trades them at the realm the registry names
 * for a token per set of scopes, cached until shortly before it expires and shared by
 * concurrent requests.
 */
export class Authenticator {
  scheme: AuthScheme = { kind: 'none' };
  private readonly tokens: Token[] = [];
  private readonly pending = new Map<string, Promise<Token>>();
  private resolved: Promise<ResolvedCredentials | undefined> | undefined;

  constructor(private readonly opts: AuthenticatorOptions) {}

  /** The credentials for this registry (looked up once); their secrets are registered with the redactor. */
  credentials(): Promise<ResolvedCredentials | undefined> {
    return (this.resolved ??= this.opts.credentials().then((r) => {
      if (r) {
        const c = r.credentials;
        this.opts.redactor.addBasic(c.username, c.password).add(c.identityToken).add(c.registryToken);
        if (c.identityToken) this.opts.redactor.addBasic(c.username, c.identityToken);
      }
      return r;
    }));
  }

  async credentialSource(): Promise<string> {
    const where = this.opts.searchPath?.();
    return (await this.credentials())?.source ?? (where?.length ? `none found in ${where.join(', ')}` : 'none found');
  }

  /** Learns the scheme from a ping's or a request's 401. */
  learn(headers: IncomingHttpHeaders): Challenge | undefined {
    const picked = pickChallenge(parseWwwAuthenticate(headers['www-authenticate']));
    if (picked) this.scheme = schemeOf(picked);
    return picked;
  }

  /** The Authorization header for a request needing these scopes, or undefined (anonymous). */
  async authorization(scopes: readonly string[]): Promise<string | undefined> {
    if (this.scheme.kind === 'none') return undefined;
    const c = (await this.credentials())?.credentials;
    if (c?.registryToken) return `Bearer ${c.registryToken}`;
    if (this.scheme.kind === 'basic') {
      return c?.password !== undefined ? `Basic ${Buffer.from(`${c.username ?? ''}:${c.password}`).toString('base64')}` : undefined;
    }
    return `Bearer ${(await this.token(scopes)).value}`;
  }

  /**
   * After a 401 to a request sent with `sent`: what scopes to try once more with, or undefined
   * when another attempt cannot help (Basic credentials refused, or none to offer).
   */
  async afterUnauthorized(headers: IncomingHttpHeaders, scopes: readonly string[], sent: string | undefined): Promise<string[] | undefined> {
    const picked = this.learn(headers);
    if (!picked) return undefined;
    const c = (await this.credentials())?.credentials;
    if (c?.registryToken) return undefined;
    if (this.scheme.kind === 'basic') return sent === undefined && c?.password !== undefined ? [...scopes] : undefined;
    if (this.scheme.kind !== 'bearer') return undefined;
    // insufficient_scope: the token is fine, just narrow (keep it for what it covers); otherwise it is stale.
    if (sent?.startsWith('Bearer ') && picked.params.error !== 'insufficient_scope') this.forget(sent.slice(7));
    // A token for other scopes, or one that lacks what this request needs: ask for the union.
    const asked = (picked.params.scope ?? '').split(' ').filter(Boolean);
    return mergeScopes(scopes, asked);
  }

  private forget(value: string): void {
    for (let i = this.tokens.length - 1; i >= 0; i--) if (this.tokens[i]!.value === value) this.tokens.splice(i, 1);
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private async token(scopes: readonly string[]): Promise<Token> {
    const wanted = mergeScopes(scopes);
    const now = this.now();
    const cached = this.tokens.find((t) => t.expiresAt > now && scopesCover(t.scopes, wanted));
    if (cached) return cached;
    const key = wanted.join(' ');
    let p = this.pending.get(key);
    if (!p) {
      p = this.fetchToken(wanted).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private async fetchToken(scopes: string[]): Promise<Token> {
    if (this.scheme.kind !== 'bearer') throw new Error('fetchToken without a bearer challenge');
    const { realm: realmText, service } = this.scheme;
    const resolved = await this.credentials();
    const credentials = resolved?.credentials;
    const realm = this.checkedRealm(realmText, credentials);
    const { http, redactor } = this.opts;
    const ctx: ErrorContext = {
      action: `getting a token for ${scopes.join(' ') || 'the registry'} of ${this.opts.registry}`,
      host: this.opts.registry,
      server: `token service ${realm.host}`,
      credentialSource: resolved?.source ?? 'none found',
    };
    const req: TokenRequest = { http, realm, service, scopes, credentials };

    return withRetry(this.opts.retry, async () => {
      let res: HttpResponse;
      try {
        res = await requestToken(req);
      } catch (err) {
        throw networkError({ ...ctx, host: realm.host }, err, redactor);
      }
      if (res.status !== 200) {
        throw httpError(ctx, res.status, await readErrorText(res.body), redactor, parseRetryAfter(header(res.headers, 'retry-after')));
      }
      let text: string;
      try {
        text = (await readBody(res.body, TOKEN_RESPONSE_LIMIT, 'the token response')).toString('utf8');
      } catch (err) {
        throw err instanceof FnbuildError ? err : networkError({ ...ctx, host: realm.host }, err, redactor);
      }
      const { value, lifetimeMs } = parseTokenAnswer(text, ctx.action);
      redactor.add(value);
      const token: Token = { value, scopes, expiresAt: this.now() + Math.max(lifetimeMs - 10_000, lifetimeMs / 2) };
      this.tokens.push(token);
      return token;
    });
  }

  /** The realm a bearer challenge names, as a URL; a secret goes to a plain-http realm only from a plain-http or listed-insecure registry. */
  private checkedRealm(realmText: string, c: Credentials | undefined): URL {
    const { registry, origin, http, redactor } = this.opts;
    let realm: URL;
    try {
      realm = new URL(realmText);
    } catch {
      throw new FnbuildError(`${registry} named a token realm that is not a URL: ${JSON.stringify(redactor.redact(realmText).slice(0, 200))}`);
    }
    const hasSecret = c?.password !== undefined || c?.identityToken !== undefined;
    if (hasSecret && realm.protocol === 'http:' && origin.protocol !== 'http:' && !http.isInsecure(realm.host)) {
      throw new FnbuildError(
        `${registry} sends us to a plain-http token service (${realm.host}); refusing to send credentials over it`,
        `List "${realm.host}" in insecureRegistries if that is really intended.`,
      );
    }
    return realm;
  }
}

/** One request to a token service: where, for which scopes, with which credentials. */
interface TokenRequest {
  http: HttpTransport;
  realm: URL;
  service: string | undefined;
  scopes: readonly string[];
  credentials: Credentials | undefined;
}

/** An identity token is an OAuth2 refresh token: POST it; services without OAuth2 (404/405) get GET + Basic. */
async function requestToken(req: TokenRequest): Promise<HttpResponse> {
  const refreshToken = req.credentials?.identityToken;
  if (!refreshToken) return getToken(req);
  const res = await postToken(req, refreshToken);
  if (res.status !== 404 && res.status !== 405) return res;
  discard(res.body);
  return getToken(req);
}

async function getToken({ http, realm, service, scopes, credentials: c }: TokenRequest): Promise<HttpResponse> {
  let url = realm;
  if (service) url = appendQuery(url, 'service', service);
  for (const s of scopes) url = appendQuery(url, 'scope', s);
  const secret = c?.password ?? c?.identityToken;
  const basic = secret !== undefined ? `Basic ${Buffer.from(`${c?.username ?? ''}:${secret}`).toString('base64')}` : undefined;
  return http.send({ method: 'GET', url, ...(basic ? { authorization: { value: basic, origin: realm } } : {}) });
}

function postToken({ http, realm, service, scopes }: TokenRequest, refreshToken: string): Promise<HttpResponse> {
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'nx-fnbuild', scope: scopes.join(' ') });
  if (service) form.set('service', service);
  return http.send({
    method: 'POST',
    url: realm,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: () => Buffer.from(form.toString()),
  });
}

/** The token in a token service's JSON answer (`token`, else OAuth2's `access_token`) and its lifetime (`expires_in`, 60 s when absent). */
function parseTokenAnswer(text: string, action: string): { value: string; lifetimeMs: number } {
  let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    throw new RegistryError(`${action}: the token service answered with something that is not JSON`, undefined, { codes: [], retryable: false });
  }
  const value = typeof doc.token === 'string' && doc.token ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : '';
  if (!value) throw new RegistryError(`${action}: the token service's answer has no token`, undefined, { codes: [], retryable: false });
  const lifetimeMs = (typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60) * 1000;
  return { value, lifetimeMs };
}
