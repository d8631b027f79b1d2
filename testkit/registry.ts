/**
 * A real registry: CNCF Distribution (Debian's `docker-registry`, 2.8) on 127.0.0.1 with a
 * free port and its storage in a temp dir, optionally behind htpasswd Basic auth, a token
 * service, and/or TLS with a self-signed certificate. Started with an argument array and
 * stopped by the object that started it (by its own pid, never by name).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { makeCert, makeHtpasswd } from './certs';
import { freePort } from './ports';
import { baseEnv, serverProcess } from './process';
import { removeDir, tempDir } from './temp';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface RegistryOptions {
  /** user → password: Basic auth through an htpasswd file. */
  users?: Record<string, string>;
  /** Bearer tokens from this issuer (see token-issuer.ts). */
  token?: { realm: string; service: string; issuer: string; rootcertbundle: string };
  /** Serve https: true makes a fresh self-signed certificate; or bring one. RunningRegistry.caFile is the CA to trust. */
  tls?: boolean | { cert: string; key: string };
}

export interface RunningRegistry {
  /** "127.0.0.1:<port>". */
  host: string;
  port: number;
  scheme: 'http' | 'https';
  /** Config, storage, certificate. */
  dir: string;
  /** The certificate (PEM) when tls: the CA a client must trust. */
  caFile?: string;
  /** A folder holding only caFile as ca.crt: skopeo's --cert-dir. */
  certDir?: string;
  logs(): string;
  stop(): Promise<void>;
}

/** GET url's status, 0 when nothing answers (certificates unchecked: this only asks "is it up?"). */
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

async function tlsFiles(dir: string, tls: RegistryOptions['tls']): Promise<{ cert: string; key: string; certDir: string } | undefined> {
  if (!tls) return undefined;
  const pair = tls === true ? await makeCert(dir, 'registry') : tls;
  const certDir = join(dir, 'certs.d');
  mkdirSync(certDir);
  copyFileSync(pair.cert, join(certDir, 'ca.crt'));
  return { ...pair, certDir };
}

/** `docker-registry serve cfg.yml` on 127.0.0.1:<free port>; resolves once GET /v2/ answers (200, or 401 with auth). */
export async function startRegistry(opts: RegistryOptions = {}): Promise<RunningRegistry> {
  for (let attempt = 1; ; attempt++) {
    const dir = tempDir('registry');
    const port = await freePort();
    const htpasswd = opts.users ? await makeHtpasswd(dir, opts.users) : undefined;
    const tls = await tlsFiles(dir, opts.tls);
    // YAML is a superset of JSON: the config is written as JSON.
    const config = {
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true }, maintenance: { uploadpurging: { enabled: false } } },
      http: { addr: `127.0.0.1:${port}`, secret: 'nx-fnbuild-test', ...(tls ? { tls: { certificate: tls.cert, key: tls.key } } : {}) },
      ...(htpasswd ? { auth: { htpasswd: { realm: 'test-realm', path: htpasswd } } } : {}),
      ...(opts.token ? { auth: { token: opts.token } } : {}),
    };
    const cfg = join(dir, 'config.yml');
    writeFileSync(cfg, JSON.stringify(config, null, 2));
    const child = spawn(REGISTRY_BIN, ['serve', cfg], { stdio: ['ignore', 'pipe', 'pipe'], env: baseEnv() });
    const proc = serverProcess(child);
    const { output } = proc;
    const stop = async () => {
      await proc.stop();
      removeDir(dir);
    };
    const scheme = tls ? 'https' : 'http';
    const deadline = Date.now() + 15_000;
    let ready = false;
    while (!ready && child.exitCode === null && Date.now() <= deadline) {
      const status = await probe(`${scheme}://127.0.0.1:${port}/v2/`);
      if (status === 200 || status === 401) ready = true;
      else await new Promise((r) => setTimeout(r, 50));
    }
    if (!ready) {
      await stop();
      if (attempt < 3 && /address already in use/.test(output())) continue;
      throw new Error(`docker-registry did not come up on 127.0.0.1:${port} within 15 s:\n${output()}`);
    }
    return { host: `127.0.0.1:${port}`, port, scheme, dir, caFile: tls?.cert, certDir: tls?.certDir, logs: output, stop };
  }
}

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
