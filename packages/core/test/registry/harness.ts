import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A real CNCF Distribution (Debian's docker-registry 2.8) on loopback, and what the tests put
 * around it: a token issuer, a fault-injecting proxy, certificates, htpasswd files. Every
 * process is started with an argument array and killed by the test that started it.
 */

export const REGISTRY_BIN = '/usr/bin/docker-registry';
const run = promisify(execFile);

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `fnb-${prefix}-`));
}

/** Runs a tool to completion; a failure throws with its stderr. */
export async function tool(file: string, args: readonly string[], opts: { cwd?: string } = {}): Promise<string> {
  try {
    const { stdout } = await run(file, [...args], { cwd: opts.cwd ?? tmpdir(), maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string; code?: number };
    throw new Error(`${file} ${args.join(' ')} failed (exit ${e.code}): ${e.stderr ?? e.message}`);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** `htpasswd -Bbn user pass` into dir/htpasswd. */
export async function makeHtpasswd(dir: string, users: Record<string, string>): Promise<string> {
  const lines = await Promise.all(Object.entries(users).map(([u, p]) => tool('htpasswd', ['-Bbn', u, p])));
  const path = join(dir, 'htpasswd');
  writeFileSync(path, lines.map((l) => l.trim()).join('\n') + '\n');
  return path;
}

/** A self-signed certificate for 127.0.0.1 and localhost (the command from environment.md). */
export async function makeCert(dir: string, name: string, cn = '127.0.0.1'): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await tool('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', key, '-out', cert,
    '-subj', `/CN=${cn}`,
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { cert, key };
}

export interface RegistryOptions {
  htpasswd?: string;
  token?: { realm: string; service: string; issuer: string; rootcertbundle: string };
  tls?: { cert: string; key: string };
}

export interface RunningRegistry {
  host: string;
  port: number;
  /** Storage and config. */
  dir: string;
  logs(): string;
  stop(): Promise<void>;
}

async function waitReady(url: string, child: ChildProcess, logs: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}):\n${logs()}`);
    const status = await new Promise<number>((resolve) => {
      const mod = url.startsWith('https') ? https : http;
      const req = mod.get(url, { rejectUnauthorized: false, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
      req.setTimeout(1000, () => req.destroy());
    });
    if (status === 200 || status === 401) return;
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer ${url} within 15 s:\n${logs()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `docker-registry serve cfg.yml` on 127.0.0.1 with a free port; resolves once GET /v2/ answers. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<RunningRegistry> {
  for (let attempt = 1; ; attempt++) {
    const dir = tempDir('registry');
    const port = await freePort();
    // YAML is a superset of JSON: the config is written as JSON.
    const config = {
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true }, maintenance: { uploadpurging: { enabled: false } } },
      http: { addr: `127.0.0.1:${port}`, secret: 'fnbuild-test-secret', ...(opts.tls ? { tls: { certificate: opts.tls.cert, key: opts.tls.key } } : {}) },
      ...(opts.htpasswd ? { auth: { htpasswd: { realm: 'basic-realm', path: opts.htpasswd } } } : {}),
      ...(opts.token ? { auth: { token: opts.token } } : {}),
    };
    const cfg = join(dir, 'config.yml');
    writeFileSync(cfg, JSON.stringify(config, null, 2));
    const child = spawn(REGISTRY_BIN, ['serve', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      await waitReady(`${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/v2/`, child, () => output);
    } catch (err) {
      await stop();
      if (attempt < 3 && /address already in use/.test(String(err))) continue;
      throw err;
    }
    return { host: `127.0.0.1:${port}`, port, dir, logs: () => output, stop };
  }
}

/* ---------------------------------------------------------------- token issuer */

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

/**
 * A tiny Docker token service: checks Basic credentials against `users`, and signs an RS256
 * JWT granting exactly the scopes asked for. Distribution 2.8 finds the signing key through
 * the `x5c` header (the issuer's certificate, verified against its rootcertbundle).
 */
export async function startTokenIssuer(dir: string, users: Record<string, string>, opts: { anonymous?: boolean } = {}): Promise<TokenIssuer> {
  const { cert, key } = await makeCert(dir, 'issuer', 'fnbuild-test-issuer');
  const pem = readFileSync(cert, 'utf8');
  const der = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  const privateKey = readFileSync(key, 'utf8');
  const service = 'fnbuild-test-registry';
  const issuer = 'fnbuild-test-issuer';
  const requests: TokenRequest[] = [];

  const server = http.createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url!, 'http://issuer');
    let user: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [u, ...rest] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (users[u!] !== rest.join(':')) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] }));
      }
      user = u;
    } else if (!opts.anonymous) {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'credentials required' }] }));
    }
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    requests.push({ user, service: url.searchParams.get('service'), scopes });
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.map((s) => {
      const [type, ...rest] = s.split(':');
      const actions = rest.pop()!.split(',');
      return { type, name: rest.join(':'), actions };
    });
    const header = { typ: 'JWT', alg: 'RS256', x5c: [der] };
    const claims = { iss: issuer, sub: user ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(signingInput), privateKey);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    // access_token only (not "token"): the client must accept either.
    res.end(JSON.stringify({ access_token: `${signingInput}.${b64url(signature)}`, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    host: `127.0.0.1:${port}`,
    service,
    issuer,
    certFile: cert,
    requests,
    stop: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/* ---------------------------------------------------------------- fault proxy */

export type Fault = 'pass' | 'unavailable' | 'throttle' | 'reset' | 'cut';

export interface ProxiedRequest {
  n: number;
  method: string;
  url: string;
  fault: Fault;
  /** The Range header, for resumed downloads. */
  range?: string;
}

export interface FaultProxy {
  host: string;
  port: number;
  requests: ProxiedRequest[];
  count(method: string, pattern?: RegExp): number;
  reset(): void;
  stop(): Promise<void>;
}

/**
 * A plain HTTP proxy in front of the registry that fails requests on purpose, deterministically
 * by request number: 503, 429 with Retry-After: 1, a destroyed socket before any answer, or a
 * response cut off after its first kilobyte. It also counts requests.
 */
export async function startFaultProxy(
  targetPort: number,
  plan: (n: number, method: string, url: string, range: string | undefined) => Fault = () => 'pass',
): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const n = requests.length + 1;
    const fault = plan(n, req.method!, req.url!, req.headers.range);
    requests.push({ n, method: req.method!, url: req.url!, fault, ...(req.headers.range ? { range: req.headers.range } : {}) });
    const json = (status: number, code: string, headers: Record<string, string> = {}) => {
      req.resume();
      res.writeHead(status, { 'Content-Type': 'application/json', Connection: 'close', ...headers });
      res.end(JSON.stringify({ errors: [{ code, message: `injected fault #${n}` }] }));
    };
    if (fault === 'unavailable') return json(503, 'UNAVAILABLE');
    if (fault === 'throttle') return json(429, 'TOOMANYREQUESTS', { 'Retry-After': '1' });
    if (fault === 'reset') return req.socket.destroy();
    const upstream = http.request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (fault !== 'cut') return up.pipe(res);
        let sent = 0;
        up.on('data', (chunk: Buffer) => {
          if (sent >= 1024) return;
          const part = chunk.subarray(0, 1024 - sent);
          sent += part.length;
          res.write(part, () => {
            if (sent >= 1024) {
              up.destroy();
              req.socket.destroy();
            }
          });
        });
        up.on('end', () => res.end());
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    port,
    requests,
    count: (method, pattern) => requests.filter((r) => r.method === method && (!pattern || pattern.test(r.url))).length,
    reset: () => requests.splice(0),
    stop: () =>
      new Promise<void>((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export { sha256 } from '../../src/util/hash';
