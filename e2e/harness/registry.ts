/**
 * A real registry for the e2e tests: CNCF Distribution (Debian's `docker-registry`, 2.8) on
 * 127.0.0.1 with a free port and its storage in a temp dir, optionally behind htpasswd Basic
 * auth and/or TLS with a self-signed certificate; and a counting, fault-injecting HTTP proxy
 * to put in front of it. Every process here is started with an argument array and stopped by
 * the object that started it (by its own pid, never by name).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TMP_PREFIX } from './paths';
import { baseEnv, execOk } from './process';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

const tool = (file: string, args: string[], cwd = '/') => execOk(file, args, { cwd, env: { ...baseEnv(), LC_ALL: 'C' }, timeoutMs: 60_000 });

/** A port nothing listens on right now (the registry may still lose a race for it: start retries). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export async function tempDir(what: string): Promise<string> {
  return fs.mkdtemp(join(tmpdir(), `${TMP_PREFIX}${what}-`));
}

/** A self-signed certificate (its own CA) for 127.0.0.1 and localhost: the IP SAN is what clients check. */
export async function makeCert(dir: string, name = 'registry'): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await tool('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', key, '-out', cert,
    '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { cert, key };
}

export interface RegistryOptions {
  /** user → password: Basic auth through an htpasswd file (bcrypt, `htpasswd -Bbn`). */
  users?: Record<string, string>;
  /** Serve https with a fresh self-signed certificate (RunningRegistry.caFile). */
  tls?: boolean;
}

export interface RunningRegistry {
  /** "127.0.0.1:<port>". */
  host: string;
  port: number;
  scheme: 'http' | 'https';
  /** Config, storage, certificate. */
  dir: string;
  /** The self-signed certificate (PEM) when tls: the CA a client must trust. */
  caFile?: string;
  /** A folder holding only caFile as ca.crt: skopeo's --cert-dir. */
  certDir?: string;
  logs(): string;
  stop(): Promise<void>;
}

function probe(url: string): Promise<number> {
  return new Promise((resolve) => {
    const mod = url.startsWith('https') ? https : http;
    const req = mod.get(url, { rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.setTimeout(1000, () => req.destroy());
  });
}

/** `docker-registry serve cfg.yml` on 127.0.0.1:<free port>; resolves once GET /v2/ answers (200, or 401 with auth). */
export async function startRegistry(opts: RegistryOptions = {}): Promise<RunningRegistry> {
  for (let attempt = 1; ; attempt++) {
    const dir = await tempDir('registry');
    const port = await freePort();
    let htpasswd: string | undefined;
    if (opts.users) {
      const lines = [];
      for (const [u, p] of Object.entries(opts.users)) lines.push((await tool('htpasswd', ['-Bbn', u, p])).stdout.trim());
      htpasswd = join(dir, 'htpasswd');
      await fs.writeFile(htpasswd, lines.join('\n') + '\n');
    }
    let tls: { cert: string; key: string } | undefined;
    let certDir: string | undefined;
    if (opts.tls) {
      tls = await makeCert(dir);
      certDir = join(dir, 'certs.d');
      await fs.mkdir(certDir);
      await fs.copyFile(tls.cert, join(certDir, 'ca.crt'));
    }
    // YAML is a superset of JSON.
    const config = {
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true }, maintenance: { uploadpurging: { enabled: false } } },
      http: { addr: `127.0.0.1:${port}`, secret: 'nx-fnbuild-e2e', ...(tls ? { tls: { certificate: tls.cert, key: tls.key } } : {}) },
      ...(htpasswd ? { auth: { htpasswd: { realm: 'e2e-realm', path: htpasswd } } } : {}),
    };
    const cfg = join(dir, 'config.yml');
    await fs.writeFile(cfg, JSON.stringify(config, null, 2));
    const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', cfg], { stdio: ['ignore', 'pipe', 'pipe'], env: baseEnv() as NodeJS.ProcessEnv });
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
      if (!process.env.E2E_KEEP) await fs.rm(dir, { recursive: true, force: true });
    };
    const scheme = tls ? 'https' : 'http';
    const deadline = Date.now() + 15_000;
    let ready = false;
    while (!ready) {
      if (child.exitCode !== null) break;
      const status = await probe(`${scheme}://127.0.0.1:${port}/v2/`);
      if (status === 200 || status === 401) ready = true;
      else if (Date.now() > deadline) break;
      else await new Promise((r) => setTimeout(r, 50));
    }
    if (!ready) {
      await stop();
      if (attempt < 3 && /address already in use/.test(output)) continue;
      throw new Error(`docker-registry did not come up on 127.0.0.1:${port}:\n${output}`);
    }
    return { host: `127.0.0.1:${port}`, port, scheme, dir, caFile: tls?.cert, certDir, logs: () => output, stop };
  }
}

/* ---------------------------------------------------------------- counting, fault-injecting proxy */

/**
 * What the proxy does with a request: pass it on; answer 503; answer 429 with Retry-After: 1;
 * destroy the socket before any answer; or stall (hold it unanswered until released or stopped).
 */
export type Fault = 'pass' | 'unavailable' | 'throttle' | 'reset' | 'stall';

export interface ProxiedRequest {
  /** 1, 2, 3... in arrival order. */
  n: number;
  method: string;
  /** Path and query as sent. */
  url: string;
  fault: Fault;
  /** The status the client got (the registry's, or the injected one); undefined when reset/stalled or not finished. */
  status?: number;
}

export interface ProxyPlan {
  /** Decides each request's fate; `n` counts every request the proxy has seen. Default: pass. */
  fault?: (n: number, method: string, url: string) => Fault;
}

export interface Proxy {
  /** "127.0.0.1:<port>": use it as the registry host (plain http: list it in insecureRegistries). */
  host: string;
  port: number;
  requests: ProxiedRequest[];
  /** Replaces the plan (e.g. back to pass-through). */
  setPlan(plan: ProxyPlan): void;
  /** Resolves when the first request is stalled. */
  stalled(): Promise<ProxiedRequest>;
  /** Drops every stalled request's connection. */
  releaseStalled(): void;
  /** Forgets the requests seen so far (n keeps counting). */
  reset(): void;
  /** Requests (method, and optionally a pattern on the url). */
  count(method: string, pattern?: RegExp): number;
  stop(): Promise<void>;
}

/**
 * A plain-HTTP reverse proxy in front of a plain-HTTP registry that records every request
 * (method, url, the status answered) and fails the ones its plan says to. Distribution builds
 * upload Locations from the Host header, which is forwarded, so uploads keep going through
 * the proxy.
 */
export async function startProxy(targetPort: number, initial: ProxyPlan = {}): Promise<Proxy> {
  const requests: ProxiedRequest[] = [];
  let plan = initial;
  let seen = 0;
  const stalledSockets = new Set<Socket>();
  let onStall: ((r: ProxiedRequest) => void) | undefined;
  const firstStall = new Promise<ProxiedRequest>((r) => (onStall = r));
  const agent = new http.Agent({ keepAlive: true });
  const sockets = new Set<Socket>();

  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const n = ++seen;
    const fault = plan.fault?.(n, req.method!, req.url!) ?? 'pass';
    const entry: ProxiedRequest = { n, method: req.method!, url: req.url!, fault };
    requests.push(entry);
    const json = (status: number, code: string, headers: Record<string, string> = {}) => {
      req.resume();
      entry.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json', Connection: 'close', ...headers });
      res.end(JSON.stringify({ errors: [{ code, message: `injected fault #${n}` }] }));
    };
    if (fault === 'unavailable') return json(503, 'UNAVAILABLE');
    if (fault === 'throttle') return json(429, 'TOOMANYREQUESTS', { 'Retry-After': '1' });
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === 'stall') {
      // Read (and drop) the body so the client keeps sending, then never answer.
      req.resume();
      stalledSockets.add(req.socket);
      onStall?.(entry);
      return;
    }
    const upstream = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, agent }, (up) => {
      entry.status = up.statusCode;
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const releaseStalled = () => {
    for (const s of stalledSockets) s.destroy();
    stalledSockets.clear();
  };
  return {
    host: `127.0.0.1:${port}`,
    port,
    requests,
    setPlan: (p) => (plan = p),
    stalled: () => firstStall,
    releaseStalled,
    reset: () => void requests.splice(0),
    count: (method, pattern) => requests.filter((r) => r.method === method && (!pattern || pattern.test(r.url))).length,
    stop: () =>
      new Promise<void>((r) => {
        releaseStalled();
        for (const s of sockets) s.destroy();
        agent.destroy();
        server.close(() => r());
      }),
  };
}

/* ---------------------------------------------------------------- plain checks against the registry */

/**
 * HEAD /v2/<repo>/manifests/<ref> straight to the registry (no auth, plain http or https
 * without verification): the status, and the digest it names.
 */
export function headManifest(reg: { host: string; scheme?: string }, repository: string, ref: string): Promise<{ status: number; digest?: string }> {
  const url = `${reg.scheme ?? 'http'}://${reg.host}/v2/${repository}/manifests/${ref}`;
  const accept = [
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.docker.distribution.manifest.v2+json',
  ].join(', ');
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https') ? https : http;
    const req = mod.request(url, { method: 'HEAD', headers: { Accept: accept }, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      const d = res.headers['docker-content-digest'];
      resolve({ status: res.statusCode ?? 0, digest: typeof d === 'string' ? d : undefined });
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`HEAD ${url} timed out`)));
    req.end();
  });
}
