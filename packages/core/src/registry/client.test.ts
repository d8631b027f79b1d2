import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Digest } from '../util/hash';
import { RegistryClient, type RegistryClientOptions } from './client';

/**
 * The client against small fake registries on loopback: what goes over the wire (which
 * headers reach which host, how many attempts) is the point here. The real Distribution is
 * exercised in test/registry.
 */

const USER = 'robot';
const PASS = 'pa55:word!';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;
const BLOB = Buffer.from('layer bytes '.repeat(1000));
const BLOB_DIGEST = `sha256:${createHash('sha256').update(BLOB).digest('hex')}` as Digest;

interface Seen {
  method: string;
  url: string;
  authorization?: string;
  range?: string;
}

interface Fake {
  port: number;
  host: string;
  seen: Seen[];
  close(): Promise<void>;
}

async function serve(handler: (req: IncomingMessage, res: ServerResponse, n: number, body: string) => void): Promise<Fake> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    seen.push({
      method: req.method!,
      url: req.url!,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      ...(req.headers.range ? { range: req.headers.range } : {}),
    });
    const n = seen.length;
    let body = '';
    req.on('data', (b: Buffer) => (body += b.toString()));
    req.on('end', () => handler(req, res, n, body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    host: `127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const json = (res: ServerResponse, status: number, doc: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(doc));
};

let dir: string;
const servers: Fake[] = [];
const clients: RegistryClient[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fnb-client-'));
});
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await Promise.all(servers.splice(0).map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function fake(handler: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<Fake> {
  const f = await serve(handler);
  servers.push(f);
  return f;
}

function client(reg: Fake, opts: RegistryClientOptions = {}): RegistryClient {
  const c = new RegistryClient({
    insecureRegistries: [reg.host],
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    credentials: { env: { HOME: dir, DOCKER_CONFIG: dir } },
    ...opts,
  });
  clients.push(c);
  return c;
}

const withCreds = (reg: Fake, password = PASS): RegistryClientOptions => ({
  credentials: { env: { HOME: dir, DOCKER_CONFIG: dir }, explicit: { [reg.host]: { username: USER, password } } },
});

describe('redirects', () => {
  it('follows a blob redirect to another host without the Authorization header', async () => {
    const storage = await fake((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(BLOB.length) });
      res.end(BLOB);
    });
    const reg = await fake((req, res) => {
      if (req.headers.authorization !== BASIC)
        return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'auth' }] }, { 'WWW-Authenticate': 'Basic realm="r"' });
      if (req.url === '/v2/') return json(res, 200, {});
      // localhost, not 127.0.0.1: another host, though the same machine.
      res.writeHead(307, { Location: `http://localhost:${storage.port}/bucket/blob?sig=x` });
      res.end();
    });
    const c = client(reg, { ...withCreds(reg), insecureRegistries: [reg.host, `localhost:${storage.port}`] });
    const dest = join(dir, 'blob');
    await c.getBlob(`${reg.host}/app`, BLOB_DIGEST, dest);
    expect(readFileSync(dest).equals(BLOB)).toBe(true);
    expect(reg.seen.find((s) => s.url.includes('/blobs/'))?.authorization).toBe(BASIC);
    expect(storage.seen).toEqual([{ method: 'GET', url: '/bucket/blob?sig=x' }]);
  });

  it('keeps the header on a redirect within the same host and port', async () => {
    const reg = await fake((req, res) => {
      if (req.headers.authorization !== BASIC) return json(res, 401, {}, { 'WWW-Authenticate': 'Basic realm="r"' });
      if (req.url === '/v2/') return json(res, 200, {});
      if (req.url!.startsWith('/v2/app/blobs/')) {
        res.writeHead(307, { Location: '/storage/blob' });
        return res.end();
      }
      res.writeHead(200);
      res.end(BLOB);
    });
    const c = client(reg, withCreds(reg));
    await c.getBlob(`${reg.host}/app`, BLOB_DIGEST, join(dir, 'blob'));
    expect(reg.seen.filter((s) => s.url === '/storage/blob').map((s) => s.authorization)).toEqual([BASIC]);
  });
});

describe('retries', () => {
  it('retries 503 and honours Retry-After on 429, then succeeds', async () => {
    const reg = await fake((req, res, n) => {
      if (req.url === '/v2/') return json(res, 200, {});
      if (n === 2) return json(res, 503, { errors: [{ code: 'UNAVAILABLE', message: 'later' }] });
      if (n === 3) return json(res, 429, { errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }, { 'Retry-After': '1' });
      res.writeHead(200);
      res.end(BLOB);
    });
    const waits: number[] = [];
    const c = client(reg, { onRetry: (_e, _a, ms) => waits.push(ms) });
    const t0 = Date.now();
    await c.getBlob(`${reg.host}/app`, BLOB_DIGEST, join(dir, 'blob'));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(waits.length).toBe(2);
    expect(waits[1]).toBe(1000);
    expect(reg.seen.filter((s) => s.url.includes('/blobs/')).length).toBe(3);
  });

  it('gives up after the configured attempts with the registry message', async () => {
    const reg = await fake((req, res) => {
      if (req.url === '/v2/') return json(res, 200, {});
      json(res, 502, { errors: [{ code: 'UNAVAILABLE', message: 'backend down' }] });
    });
    const c = client(reg, { retry: { attempts: 3, baseDelayMs: 1 } });
    await expect(c.headBlob(`${reg.host}/app`, BLOB_DIGEST)).rejects.toThrow(`checking blob ${BLOB_DIGEST} in ${reg.host}/app: ${reg.host} answered HTTP 502`);
    expect(reg.seen.filter((s) => s.url.includes('/blobs/')).length).toBe(3);
  });

  it('retries a connection reset and resumes a cut download with a Range request', async () => {
    const reg = await fake((req, res, n) => {
      if (req.url === '/v2/') return json(res, 200, {});
      if (n === 2) return req.socket.destroy();
      if (n === 3) {
        // Half the blob, then the connection dies.
        res.writeHead(200, { 'Content-Length': String(BLOB.length) });
        res.write(BLOB.subarray(0, 5000), () => setTimeout(() => req.socket.destroy(), 20));
        return;
      }
      const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
      if (m) {
        const from = Number(m[1]);
        res.writeHead(206, { 'Content-Range': `bytes ${from}-${BLOB.length - 1}/${BLOB.length}`, 'Content-Length': String(BLOB.length - from) });
        return res.end(BLOB.subarray(from));
      }
      res.writeHead(200);
      res.end(BLOB);
    });
    const c = client(reg);
    const dest = join(dir, 'blob');
    await c.getBlob(`${reg.host}/app`, BLOB_DIGEST, dest, { size: BLOB.length });
    expect(readFileSync(dest).equals(BLOB)).toBe(true);
    // ping, reset, cut at 5000 bytes, then one resumed request from where the file ended.
    expect(reg.seen.length).toBe(4);
    expect(reg.seen[3]!.range).toBe('bytes=5000-');
  });

  it('a wrong blob is refused and leaves no file', async () => {
    const reg = await fake((req, res) => {
      if (req.url === '/v2/') return json(res, 200, {});
      res.writeHead(200);
      res.end('not the blob');
    });
    const dest = join(dir, 'blob');
    await expect(client(reg).getBlob(`${reg.host}/app`, BLOB_DIGEST, dest)).rejects.toThrow(/the registry sent bytes whose digest is sha256:/);
    expect(() => readFileSync(dest)).toThrow(/ENOENT/);
  });
});

describe('credentials', () => {
  it('an error while using credentials carries neither user:password nor its base64', async () => {
    const echo = (req: IncomingMessage) => `refused ${req.headers.authorization} (${USER}:${PASS}) pw=${PASS} b64=${BASIC.slice(6)}`;
    const reg = await fake((req, res) => {
      if (!req.headers.authorization) return json(res, 401, {}, { 'WWW-Authenticate': 'Basic realm="r"' });
      json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: echo(req) }] }, { 'WWW-Authenticate': 'Basic realm="r"' });
    });
    const c = client(reg, withCreds(reg));
    const err = (await c.getManifest(`${reg.host}/app:v1`).catch((e: Error) => e)) as Error;
    const text = `${err.message}\n${err.stack}`;
    expect(text).toContain(`${reg.host} answered HTTP 401 UNAUTHORIZED`);
    expect(text).toContain('refused the credentials from explicit credentials');
    for (const secret of [PASS, `${USER}:${PASS}`, BASIC.slice(6), encodeURIComponent(PASS)]) expect(text).not.toContain(secret);
    expect(text).toContain('***');
  });

  it('a plain-text error body is redacted before it is cut, so no part of a secret is left', async () => {
    const reg = await fake((req, res) => {
      if (!req.headers.authorization) return json(res, 401, {}, { 'WWW-Authenticate': 'Basic realm="r"' });
      res.writeHead(403, { 'Content-Type': 'text/plain' });
      res.end(`${'x'.repeat(196)}${PASS} is not allowed here`); // the 200-character cut falls inside the password
    });
    const err = (await client(reg, withCreds(reg))
      .getManifest(`${reg.host}/app:v1`)
      .catch((e: Error) => e)) as Error;
    expect(err.message).toContain(`answered HTTP 403 ${'x'.repeat(196)}***`);
    expect(err.message).not.toContain(PASS.slice(0, 4));
  });

  it('without credentials, a 401 says where it looked', async () => {
    const reg = await fake((_req, res) =>
      json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, { 'WWW-Authenticate': 'Basic realm="r"' }),
    );
    await expect(client(reg).getManifest(`${reg.host}/app:v1`)).rejects.toThrow(
      `No credentials were found for ${reg.host} (looked in explicit credentials, ${join(dir, 'config.json')}); run \`docker login ${reg.host}\``,
    );
  });

  it('sends no credentials to a registry that does not ask for them', async () => {
    const reg = await fake((req, res) => {
      if (req.url === '/v2/') return json(res, 200, {});
      json(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
    });
    await expect(client(reg, withCreds(reg)).getManifest(`${reg.host}/app:nope`)).rejects.toThrow(
      `pulling manifest ${reg.host}/app:nope: ${reg.host} answered HTTP 404 MANIFEST_UNKNOWN (manifest unknown)\n  Check the tag or digest.`,
    );
    expect(reg.seen.every((s) => s.authorization === undefined)).toBe(true);
  });
});

describe('timeouts and odd answers', () => {
  it('a request that gets no answer times out and is retried', async () => {
    const reg = await fake((req, res, n) => {
      if (req.url === '/v2/') return json(res, 200, {});
      if (n === 2) return; // never answers
      res.writeHead(200);
      res.end(BLOB);
    });
    const retried: string[] = [];
    const c = client(reg, { timeoutMs: 300, onRetry: (e) => retried.push(e.message) });
    await c.getBlob(`${reg.host}/app`, BLOB_DIGEST, join(dir, 'blob'));
    expect(retried).toEqual([`downloading blob ${BLOB_DIGEST} of ${reg.host}/app: connection to ${reg.host} failed: no data for 300 ms`]);
  });

  it('a HEAD without Docker-Content-Digest falls back to GET and hashes the body', async () => {
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }));
    const reg = await fake((req, res) => {
      if (req.url === '/v2/') return json(res, 200, {});
      res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': String(manifest.length) });
      res.end(req.method === 'HEAD' ? undefined : manifest);
    });
    const d = await client(reg).headManifest(`${reg.host}/app:v1`);
    expect(d).toEqual({
      digest: `sha256:${createHash('sha256').update(manifest).digest('hex')}`,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: manifest.length,
    });
    expect(reg.seen.map((s) => s.method)).toEqual(['GET', 'HEAD', 'GET']);
  });

  it('refuses a manifest whose bytes do not match Docker-Content-Digest', async () => {
    const reg = await fake((req, res) => {
      if (req.url === '/v2/') return json(res, 200, {});
      res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.index.v1+json', 'Docker-Content-Digest': BLOB_DIGEST });
      res.end(JSON.stringify({ schemaVersion: 2, manifests: [] }));
    });
    await expect(client(reg).getManifest(`${reg.host}/app:v1`)).rejects.toThrow(`the registry reports digest ${BLOB_DIGEST}, but the bytes are sha256:`);
  });
});

describe('manifests pushed under a tag', () => {
  it('an invalid tag is refused before anything is sent, saying why', async () => {
    const reg = await fake((_req, res) => json(res, 200, {}));
    await expect(client(reg).putManifest(`${reg.host}/app`, 'v1+build', Buffer.from('{}'), 'application/vnd.oci.image.manifest.v1+json')).rejects.toThrow(
      'tag "v1+build" is not valid: it has invalid character "+"',
    );
    expect(reg.seen).toEqual([]);
  });
});

describe('registry errors', () => {
  it.each([
    [404, 'NAME_UNKNOWN', 'repository name not known to registry', 'Check the repository name "team/app" on'],
    [403, 'DENIED', 'requested access to the resource is denied', 'are not allowed this on'],
    [404, 'MANIFEST_UNKNOWN', 'manifest unknown', 'Check the tag or digest.'],
  ])('HTTP %i %s is surfaced with the reference and a hint', async (status, code, message, hint) => {
    const reg = await fake((req, res) => (req.url === '/v2/' ? json(res, 200, {}) : json(res, status, { errors: [{ code, message }] })));
    const err = (await client(reg)
      .getManifest(`${reg.host}/team/app:v1`)
      .catch((e: Error) => e)) as Error;
    expect(err.message).toContain(`pulling manifest ${reg.host}/team/app:v1: ${reg.host} answered HTTP ${status} ${code} (${message})`);
    expect(err.message).toContain(hint);
  });

  it('a plain-http registry is not reached unless listed as insecure (loopback included)', async () => {
    const reg = await fake((_req, res) => json(res, 200, {}));
    const err = (await client(reg, { insecureRegistries: [] })
      .getManifest(`${reg.host}/app:v1`)
      .catch((e: Error) => e)) as Error;
    expect(err.message).toContain(`connecting to registry ${reg.host}: ${reg.host} does not speak TLS`);
    expect(err.message).toContain(`list "${reg.host}" in insecureRegistries`);
    expect(reg.seen).toEqual([]);
  });
});

describe('bearer tokens', () => {
  it('fetches a token per scope set, reuses it, and re-fetches with the union when challenged for more', async () => {
    const issued: string[] = [];
    const tokens = await fake((req, res) => {
      const url = new URL(req.url!, 'http://x');
      const scopes = url.searchParams.getAll('scope');
      issued.push(`${req.headers.authorization === BASIC ? 'basic' : 'anon'} ${url.searchParams.get('service')} ${scopes.join(' ')}`);
      json(res, 200, { token: `tok:${scopes.join(' ')}`, expires_in: 300 });
    });
    const challenge = (scope?: string) => ({
      'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${tokens.port}/token",service="fake"${scope ? `,scope="${scope}",error="insufficient_scope"` : ''}`,
    });
    const reg = await fake((req, res) => {
      const auth = req.headers.authorization ?? '';
      if (req.url === '/v2/') return json(res, 401, {}, challenge());
      if (req.method === 'POST') {
        if (!auth.includes('repository:app:pull,push') || !auth.includes('repository:other:pull'))
          return json(res, 401, {}, challenge('repository:app:pull,push repository:other:pull'));
        res.writeHead(201, { Location: `/v2/app/blobs/${BLOB_DIGEST}`, 'Docker-Content-Digest': BLOB_DIGEST });
        return res.end();
      }
      if (req.method === 'HEAD') {
        if (!auth.includes('repository:app:pull')) return json(res, 401, {}, challenge('repository:app:pull'));
        res.writeHead(404);
        return res.end();
      }
      // This registry wants a second repository's pull scope for blob GETs: a challenge the client did not foresee.
      if (!auth.includes('repository:app:pull') || !auth.includes('repository:shared:pull')) {
        return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'insufficient scope' }] }, challenge('repository:app:pull repository:shared:pull'));
      }
      res.writeHead(200);
      res.end(BLOB);
    });
    const c = client(reg, { ...withCreds(reg), insecureRegistries: [reg.host, tokens.host] });
    await c.getBlob(`${reg.host}/app`, BLOB_DIGEST, join(dir, 'a'));
    expect(issued).toEqual(['basic fake repository:app:pull', 'basic fake repository:app:pull repository:shared:pull']);
    await c.getBlob(`${reg.host}/app`, BLOB_DIGEST, join(dir, 'b'));
    expect(issued.length).toBe(2); // reused
    const outcome = await c.uploadBlob(
      `${reg.host}/app`,
      {
        digest: BLOB_DIGEST,
        size: BLOB.length,
        open: () => {
          throw new Error('not read');
        },
      },
      { mountFrom: `${reg.host}/other` },
    );
    expect(outcome).toBe('mounted');
    expect(issued.slice(2)).toEqual(['basic fake repository:app:pull,push repository:other:pull']);
    expect(tokens.seen.every((s) => s.authorization === BASIC)).toBe(true);
    // Tokens went to the registry, Basic credentials only to the token service.
    expect(reg.seen.every((s) => !s.authorization || s.authorization.startsWith('Bearer '))).toBe(true);
  });

  it('trades an identity token (OAuth2 refresh token) with a POST, never sending it to the registry', async () => {
    const forms: string[] = [];
    const tokens = await serve((req, res, _n, body) => {
      forms.push(`${req.method} ${body}`);
      json(res, 200, { access_token: 'oauth-access', expires_in: 120 });
    });
    servers.push(tokens);
    const reg = await fake((req, res) => {
      if (req.headers.authorization !== 'Bearer oauth-access')
        return json(res, 401, {}, { 'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${tokens.port}/oauth",service="fake"` });
      res.writeHead(200);
      res.end(BLOB);
    });
    const configDir = join(dir, 'docker');
    mkdirSync(configDir);
    writeFileSync(
      join(configDir, 'config.json'),
      JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('<token>:').toString('base64'), identitytoken: 'refresh-xyz' } } }),
    );
    const c = client(reg, { insecureRegistries: [reg.host, tokens.host], credentials: { dockerConfigDir: configDir, env: {} } });
    await c.getBlob(`${reg.host}/app`, BLOB_DIGEST, join(dir, 'blob'));
    expect(forms.length).toBe(1);
    const form = new URLSearchParams(forms[0]!.slice('POST '.length));
    expect([...form.entries()]).toEqual([
      ['grant_type', 'refresh_token'],
      ['refresh_token', 'refresh-xyz'],
      ['client_id', 'nx-fnbuild'],
      ['scope', 'repository:app:pull'],
      ['service', 'fake'],
    ]);
    expect(reg.seen.every((s) => !s.authorization || s.authorization === 'Bearer oauth-access')).toBe(true);
  });

  it('a refused token request is a clear error naming the token service', async () => {
    const tokens = await fake((_req, res) => json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad password' }] }));
    const reg = await fake((_req, res) => json(res, 401, {}, { 'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${tokens.port}/token",service="fake"` }));
    const err = (await client(reg, { ...withCreds(reg, 'wrong-pw'), insecureRegistries: [reg.host, tokens.host] })
      .getManifest(`${reg.host}/app:v1`)
      .catch((e: Error) => e)) as Error;
    expect(err.message).toContain(
      `getting a token for repository:app:pull of ${reg.host}: token service 127.0.0.1:${tokens.port} answered HTTP 401 UNAUTHORIZED (bad password)`,
    );
    expect(err.message).not.toContain('wrong-pw');
  });
});
