import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FnbuildError } from '../util/errors';
import { Redactor } from '../util/redact';
import { Authenticator } from './auth';
import type { Credentials } from './credentials';
import { RegistryError } from './errors';
import { retryPolicy } from './retry';
import { HttpTransport } from './transport';

/**
 * The token exchange against a small token service on loopback: which request goes out
 * (POST of a refresh token, GET with Basic) and what is made of the answer. The real
 * Distribution with a token issuer is exercised in test/registry/token.test.ts.
 */

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

interface TokenService {
  realm: string;
  seen: Seen[];
  close(): Promise<void>;
}

type Answer = (req: Seen) => { status: number; body: string };

const services: TokenService[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
});

async function tokenService(answer: Answer): Promise<TokenService> {
  const seen: Seen[] = [];
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (b: Buffer) => {
      body += b.toString();
    });
    req.on('end', () => {
      const s: Seen = { method: req.method!, url: req.url!, authorization: req.headers.authorization, body };
      seen.push(s);
      const a = answer(s);
      res.writeHead(a.status, { 'Content-Type': 'application/json' }).end(a.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const service: TokenService = {
    realm: `http://127.0.0.1:${port}/token`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  services.push(service);
  return service;
}

interface Setup {
  realm: string;
  credentials?: Credentials;
  origin?: string;
  now?: () => number;
}

function authenticator({ realm, credentials, origin = 'http://127.0.0.1:1', now }: Setup): Authenticator {
  const auth = new Authenticator({
    registry: 'registry.test',
    origin: new URL(origin),
    http: new HttpTransport({ timeoutMs: 10_000 }),
    retry: retryPolicy({ attempts: 2, baseDelayMs: 1, maxDelayMs: 1 }),
    credentials: async () => (credentials ? { credentials, source: 'test' } : undefined),
    redactor: new Redactor(),
    ...(now ? { now } : {}),
  });
  auth.learn({ 'www-authenticate': `Bearer realm="${realm}",service="registry.test"` });
  return auth;
}

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const ok = (doc: object) => () => ({ status: 200, body: JSON.stringify(doc) });

test('username and password: a GET with Basic, service and every scope in the query, the token used as Bearer', async () => {
  const svc = await tokenService(ok({ token: 'T1' }));
  const auth = authenticator({ realm: svc.realm, credentials: { username: 'robot', password: 'pw' } });
  expect(await auth.authorization(['repository:a:pull', 'repository:b:pull,push'])).toBe('Bearer T1');
  expect(svc.seen).toHaveLength(1);
  const url = new URL(svc.seen[0]!.url, svc.realm);
  expect([svc.seen[0]!.method, svc.seen[0]!.authorization]).toEqual(['GET', basic('robot', 'pw')]);
  expect([url.searchParams.get('service'), url.searchParams.getAll('scope')]).toEqual(['registry.test', ['repository:a:pull', 'repository:b:pull,push']]);
});

test('an identity token is POSTed as an OAuth2 refresh token, without Basic, and its access_token used', async () => {
  const svc = await tokenService(ok({ access_token: 'A1' }));
  const auth = authenticator({ realm: svc.realm, credentials: { username: 'u', identityToken: 'refresh-me' } });
  expect(await auth.authorization(['repository:a:pull'])).toBe('Bearer A1');
  expect(svc.seen.map((s) => [s.method, s.authorization])).toEqual([['POST', undefined]]);
  const form = new URLSearchParams(svc.seen[0]!.body);
  expect(Object.fromEntries(form)).toEqual({
    grant_type: 'refresh_token',
    refresh_token: 'refresh-me',
    client_id: 'nx-fnbuild',
    scope: 'repository:a:pull',
    service: 'registry.test',
  });
});

test.each([404, 405])('a token service without OAuth2 (POST answered %i) gets a GET with the identity token as Basic password', async (status) => {
  const svc = await tokenService((s) => (s.method === 'POST' ? { status, body: '{}' } : { status: 200, body: JSON.stringify({ token: 'G1' }) }));
  const auth = authenticator({ realm: svc.realm, credentials: { username: 'u', identityToken: 'idt' } });
  expect(await auth.authorization(['repository:a:pull'])).toBe('Bearer G1');
  expect(svc.seen.map((s) => [s.method, s.authorization])).toEqual([
    ['POST', undefined],
    ['GET', basic('u', 'idt')],
  ]);
});

test('a token lives for expires_in less a margin: reused before, fetched again after', async () => {
  let n = 0;
  const svc = await tokenService(() => ({ status: 200, body: JSON.stringify({ token: `T${++n}`, expires_in: 300 }) }));
  let now = 1_000_000;
  const auth = authenticator({ realm: svc.realm, now: () => now });
  expect(await auth.authorization(['repository:a:pull'])).toBe('Bearer T1');
  now += 289_000;
  expect(await auth.authorization(['repository:a:pull'])).toBe('Bearer T1');
  now += 2_000;
  expect(await auth.authorization(['repository:a:pull'])).toBe('Bearer T2');
});

test('a realm that is not a URL is named in the error', async () => {
  const auth = authenticator({ realm: 'not a url' });
  const err = await auth.authorization(['repository:a:pull']).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(FnbuildError);
  expect((err as Error).message).toBe('registry.test named a token realm that is not a URL: "not a url"');
});

test('credentials are not sent to a plain-http realm of an https registry', async () => {
  const svc = await tokenService(ok({ token: 'T1' }));
  const auth = authenticator({ realm: svc.realm, origin: 'https://registry.test', credentials: { username: 'u', password: 'pw' } });
  const err = await auth.authorization(['repository:a:pull']).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(FnbuildError);
  const host = new URL(svc.realm).host;
  expect((err as Error).message).toBe(
    `registry.test sends us to a plain-http token service (${host}); refusing to send credentials over it\n  List "${host}" in insecureRegistries if that is really intended.`,
  );
  expect(svc.seen).toHaveLength(0);
});

test.each([
  ['not JSON', 'oops', 'the token service answered with something that is not JSON'],
  ['no token', JSON.stringify({ token: '', expires_in: 60 }), "the token service's answer has no token"],
])('an answer with %s is an error, not retried', async (_what, body, message) => {
  const svc = await tokenService(() => ({ status: 200, body }));
  const auth = authenticator({ realm: svc.realm });
  const err = await auth.authorization(['repository:a:pull']).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(RegistryError);
  expect((err as Error).message).toBe(`getting a token for repository:a:pull of registry.test: ${message}`);
  expect(svc.seen).toHaveLength(1);
});
