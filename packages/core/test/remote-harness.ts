import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { freePort, tempDir } from './registry/harness';

/**
 * Real servers for the remote cache tests, started and stopped by the tests themselves:
 * Debian's nginx with WebDAV PUT (the Bazel HTTP cache layout), a fault-injecting HTTP proxy
 * in front of nginx or Distribution, and a server that accepts connections and never answers.
 */

export const NGINX_BIN = '/usr/sbin/nginx';

export interface NginxOptions {
  /** Basic auth (nginx's {PLAIN} password scheme). */
  basic?: { user: string; password: string };
  /** A header every request must carry, e.g. ['X-Cache-Token', 'secret']. */
  header?: [string, string];
  tls?: { cert: string; key: string };
}

export interface RunningNginx {
  /** http(s)://127.0.0.1:port/cache/ */
  url: string;
  port: number;
  /** The folder nginx serves `/cache/` from: ac/ and cas/ appear in it. */
  data: string;
  /** Files under data, relative ("ac/…", "cas/…"), sorted. */
  files(): string[];
  stop(): Promise<void>;
}

function nginxConfig(dir: string, port: number, o: NginxOptions): string {
  const auth = o.basic ? `auth_basic "cache"; auth_basic_user_file ${join(dir, 'htpasswd')};` : '';
  const header = o.header ? `if ($http_${o.header[0].toLowerCase().replace(/-/g, '_')} != "${o.header[1]}") { return 401; }` : '';
  const tls = o.tls ? `ssl_certificate ${o.tls.cert}; ssl_certificate_key ${o.tls.key};` : '';
  return `
${process.getuid?.() === 0 ? 'user root;' : ''}
daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'tmp', 'body')};
  proxy_temp_path ${join(dir, 'tmp', 'proxy')};
  fastcgi_temp_path ${join(dir, 'tmp', 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'tmp', 'uwsgi')};
  scgi_temp_path ${join(dir, 'tmp', 'scgi')};
  server {
    listen 127.0.0.1:${port}${o.tls ? ' ssl' : ''};
    ${tls}
    root ${join(dir, 'www')};
    client_max_body_size 0;
    location /cache/ {
      ${auth}
      ${header}
      dav_methods PUT DELETE;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
`;
}

async function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const mod = url.startsWith('https') ? https : http;
    const req = mod.get(url, { rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(1000, () => req.destroy());
  });
}

function walk(root: string, dir = root): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(root, p) : [relative(root, p)];
  });
}

/** nginx on 127.0.0.1 with a free port and every path of its own under a temp dir. */
export async function startNginx(o: NginxOptions = {}): Promise<RunningNginx> {
  for (let attempt = 1; ; attempt++) {
    const dir = tempDir('nginx');
    const data = join(dir, 'www', 'cache');
    mkdirSync(data, { recursive: true });
    mkdirSync(join(dir, 'tmp'), { recursive: true });
    if (o.basic) writeFileSync(join(dir, 'htpasswd'), `${o.basic.user}:{PLAIN}${o.basic.password}\n`);
    const port = await freePort();
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, nginxConfig(dir, port, o));
    const child = spawn(NGINX_BIN, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    const url = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}/cache/`;
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (!ready && child.exitCode === null && Date.now() < deadline) {
      ready = await answers(url);
      if (!ready) await new Promise((r) => setTimeout(r, 50));
    }
    if (!ready) {
      await stop();
      if (attempt < 3 && /Address already in use/i.test(output)) continue;
      throw new Error(`nginx did not start:\n${output}`);
    }
    return { url, port, data, files: () => walk(data).sort(), stop };
  }
}

/* ---------------------------------------------------------------- faults */

export type RemoteFault = 'pass' | 'unavailable' | 'cut' | 'stall' | 'corrupt' | 'hang';

export interface FaultingProxy {
  port: number;
  host: string;
  requests: { method: string; url: string; fault: RemoteFault }[];
  stop(): Promise<void>;
}

/**
 * A plain HTTP proxy in front of a real server that fails chosen requests: 503, a body cut
 * off halfway (the declared length kept, the connection dropped), a body that stops halfway
 * with the connection left open, a body with its bytes flipped (same length), or no answer. The faults are picked per request by `plan`.
 */
export async function startFaultingProxy(targetPort: number, plan: (method: string, url: string) => RemoteFault): Promise<FaultingProxy> {
  const requests: FaultingProxy['requests'] = [];
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const fault = plan(req.method!, req.url!);
    requests.push({ method: req.method!, url: req.url!, fault });
    if (fault === 'hang') return req.resume();
    if (fault === 'unavailable') {
      req.resume();
      res.writeHead(503, { 'Content-Type': 'text/plain', Connection: 'close' });
      return res.end('injected 503');
    }
    const up = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      if (fault === 'pass' || req.method === 'HEAD') return answer.pipe(res);
      const length = Number(answer.headers['content-length'] ?? 0);
      let seen = 0;
      answer.on('data', (chunk: Buffer) => {
        if (fault === 'corrupt') return res.write(Buffer.from(chunk.map((b) => b ^ 0xff)));
        const room = Math.max(0, Math.floor(length / 2) - seen);
        seen += chunk.length;
        if (room > 0) res.write(chunk.subarray(0, room));
        if (seen >= length / 2) {
          answer.destroy();
          if (fault === 'cut') res.socket?.destroy();
        }
      });
      answer.on('end', () => fault !== 'stall' && res.end());
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    host: `127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface SilentServer {
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  stop(): Promise<void>;
}

/** Accepts connections and reads requests, and never answers: a remote that hangs. */
export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    connections: () => count,
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * Answers every request with a large declared body and sends it one byte every `everyMs`:
 * never idle, never done (a remote too slow to be worth waiting for).
 */
export async function startTrickleServer(everyMs = 100): Promise<SilentServer> {
  let count = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    count++;
    req.resume();
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(1 << 30) });
    const timer = setInterval(() => res.write(Buffer.from('x')), everyMs);
    timers.add(timer);
    res.on('close', () => {
      clearInterval(timer);
      timers.delete(timer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    connections: () => count,
    stop: () =>
      new Promise<void>((r) => {
        timers.forEach(clearInterval);
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A listener whose accept queue is full: python binds with backlog 0 and never accepts, one
 * connection fills the queue, and every later SYN is dropped, so a connect never completes.
 */
export async function startFullBacklog(): Promise<{ port: number; stop(): Promise<void> }> {
  const child = spawn(
    'python3',
    ['-u', '-c', 'import socket,time\ns=socket.socket();s.bind(("127.0.0.1",0));s.listen(0);print(s.getsockname()[1]);time.sleep(120)'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim())));
    child.once('exit', (code) => reject(new Error(`python3 exited ${code}`)));
  });
  const filler = netConnect(port, '127.0.0.1');
  filler.on('error', () => {});
  await new Promise<void>((r) => filler.once('connect', () => r()));
  return {
    port,
    stop: async () => {
      filler.destroy();
      child.kill('SIGKILL');
    },
  };
}

/** A port nothing listens on (taken, then released). */
export const closedPort = freePort;
