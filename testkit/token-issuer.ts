/**
 * A tiny Docker token service for Distribution's `auth.token`: checks Basic credentials
 * against `users`, and signs an RS256 JWT granting exactly the scopes asked for.
 * Distribution 2.8 finds the signing key through the `x5c` header (the issuer's
 * certificate, verified against its rootcertbundle).
 */
import { randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeCert } from './certs';

export interface TokenRequest {
  user: string | undefined;
  service: string | null;
  scopes: string[];
}

export interface TokenIssuer {
  realm: string;
  host: string;
  service: string;
  issuer: string;
  /** The issuer's certificate: the registry's rootcertbundle. */
  certFile: string;
  requests: TokenRequest[];
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

interface Signer {
  der: string;
  privateKey: string;
  service: string;
  issuer: string;
}

/** The JWT for these scopes: `access` lists each scope's type, name and actions. */
function token(signer: Signer, user: string | undefined, scopes: string[]): string {
  const now = Math.floor(Date.now() / 1000);
  const access = scopes.map((s) => {
    const [type, ...rest] = s.split(':');
    const actions = (rest.pop() ?? '').split(',');
    return { type, name: rest.join(':'), actions };
  });
  const header = { typ: 'JWT', alg: 'RS256', x5c: [signer.der] };
  const claims = {
    iss: signer.issuer,
    sub: user ?? '',
    aud: signer.service,
    exp: now + 300,
    nbf: now - 10,
    iat: now,
    jti: randomBytes(8).toString('hex'),
    access,
  };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${signingInput}.${b64url(sign('sha256', Buffer.from(signingInput), signer.privateKey))}`;
}

export async function startTokenIssuer(dir: string, users: Record<string, string>, opts: { anonymous?: boolean } = {}): Promise<TokenIssuer> {
  const { cert, key } = await makeCert(dir, 'issuer', 'fnbuild-test-issuer');
  const der = readFileSync(cert, 'utf8')
    .replace(/-----(BEGIN|END) CERTIFICATE-----/g, '')
    .replace(/\s+/g, '');
  const signer: Signer = { der, privateKey: readFileSync(key, 'utf8'), service: 'fnbuild-test-registry', issuer: 'fnbuild-test-issuer' };
  const requests: TokenRequest[] = [];
  const refuse = (res: ServerResponse, message: string) => {
    res.writeHead(401, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message }] }));
  };

  const server = http.createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://issuer');
    let user: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [u = '', ...rest] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (users[u] !== rest.join(':')) return refuse(res, 'invalid username or password');
      user = u;
    } else if (!opts.anonymous) {
      return refuse(res, 'credentials required');
    }
    const scopes = url.searchParams
      .getAll('scope')
      .flatMap((s) => s.split(' '))
      .filter(Boolean);
    requests.push({ user, service: url.searchParams.get('service'), scopes });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    // access_token only (not "token"): the client must accept either.
    res.end(JSON.stringify({ access_token: token(signer, user, scopes), expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    host: `127.0.0.1:${port}`,
    service: signer.service,
    issuer: signer.issuer,
    certFile: cert,
    requests,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
