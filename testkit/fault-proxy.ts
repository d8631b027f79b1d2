/**
 * A plain-HTTP reverse proxy in front of a plain-HTTP registry that records every request
 * (method, url, Range, the status answered) and fails the ones its plan says to.
 * Distribution builds upload Locations from the Host header, which is forwarded, so uploads
 * keep going through the proxy.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * What the proxy does with a request: pass it on; answer 503; answer 429 with Retry-After: 1;
 * destroy the socket before any answer; stall (hold it unanswered until released or
 * stopped); or cut the response off after its first kilobyte.
 */
export type Fault = 'pass' | 'unavailable' | 'throttle' | 'reset' | 'stall' | 'cut';

export interface ProxiedRequest {
  /** 1, 2, 3... in arrival order since the last reset(). */
  n: number;
  method: string;
  /** Path and query as sent. */
  url: string;
  /** The Range header, for resumed downloads. */
  range?: string;
  fault: Fault;
  /** The status the client got (the registry's, or the injected one); undefined when reset/stalled or not finished. */
  status?: number;
}

/** What a plan sees of a request. */
export type FaultRequest = Pick<ProxiedRequest, 'n' | 'method' | 'url' | 'range'>;

/** Decides each request's fate (default: pass). */
export type FaultPlan = (req: FaultRequest) => Fault;

export interface FaultProxy {
  /** "127.0.0.1:<port>": use it as the registry host (plain http: list it in insecureRegistries). */
  host: string;
  port: number;
  requests: ProxiedRequest[];
  /** Replaces the plan (none: back to pass-through). */
  setPlan(plan?: FaultPlan): void;
  /** Resolves when the first request is stalled. */
  stalled(): Promise<ProxiedRequest>;
  /** Drops every stalled request's connection. */
  releaseStalled(): void;
  /** Forgets the requests seen so far; n counts from 1 again. */
  reset(): void;
  /** Requests (method, and optionally a pattern on the url). */
  count(method: string, pattern?: RegExp): number;
  stop(): Promise<void>;
}

function answer(req: IncomingMessage, res: ServerResponse, entry: ProxiedRequest, status: number, code: string, headers: Record<string, string> = {}): void {
  req.resume();
  entry.status = status;
  res.writeHead(status, { 'Content-Type': 'application/json', Connection: 'close', ...headers });
  res.end(JSON.stringify({ errors: [{ code, message: `injected fault #${entry.n}` }] }));
}

/** Sends the first kilobyte of the upstream response, then drops both connections. */
function cutOff(up: IncomingMessage, req: IncomingMessage, res: ServerResponse): void {
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
}

export async function startFaultProxy(targetPort: number, initial?: FaultPlan): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  let plan = initial;
  const stalledSockets = new Set<Socket>();
  let onStall: ((r: ProxiedRequest) => void) | undefined;
  const firstStall = new Promise<ProxiedRequest>((r) => (onStall = r));
  const agent = new http.Agent({ keepAlive: true });
  const sockets = new Set<Socket>();

  const server = http.createServer((req, res) => {
    const seen: FaultRequest = {
      n: requests.length + 1,
      method: req.method ?? '',
      url: req.url ?? '',
      ...(req.headers.range ? { range: req.headers.range } : {}),
    };
    const entry: ProxiedRequest = { ...seen, fault: plan?.(seen) ?? 'pass' };
    requests.push(entry);
    const fault = entry.fault;
    if (fault === 'unavailable') return answer(req, res, entry, 503, 'UNAVAILABLE');
    if (fault === 'throttle') return answer(req, res, entry, 429, 'TOOMANYREQUESTS', { 'Retry-After': '1' });
    if (fault === 'reset') return void req.socket.destroy();
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
      if (fault === 'cut') cutOff(up, req, res);
      else up.pipe(res);
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
