import { spawn } from 'node:child_process';
import http from 'node:http';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { freePort } from '../../../testkit';

/**
 * Real servers for the remote cache tests, started and stopped by the tests themselves:
 * Debian's nginx with WebDAV PUT (the Bazel HTTP cache layout; moved to testkit/nginx.ts,
 * shared with the e2e tests), a fault-injecting HTTP proxy in front of nginx or Distribution,
 * and a server that accepts connections and never answers.
 */

export { NGINX_BIN, startNginx, type NginxOptions, type RunningNginx } from '../../../testkit/nginx';

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
