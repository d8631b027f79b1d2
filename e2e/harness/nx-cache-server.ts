import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CacheRequest {
  method: string;
  hash: string;
  status: number;
}

/**
 * Nx's self-hosted remote cache API on loopback, in memory: GET /v1/cache/{hash} answers
 * the stored tar (200) or 404; PUT /v1/cache/{hash} stores it (200), never overwrites
 * (409). Both need `Authorization: Bearer <token>` (401 without, 403 with another).
 */
export class NxCacheServer {
  readonly entries = new Map<string, Buffer>();
  readonly requests: CacheRequest[] = [];

  private constructor(
    private readonly server: Server,
    readonly token: string,
  ) {}

  static async start(token: string): Promise<NxCacheServer> {
    let self: NxCacheServer | undefined;
    const server = createServer((req, res) => {
      void self!.handle(req).then(({ status, body }) => {
        res.writeHead(status, body ? { 'content-type': 'application/octet-stream', 'content-length': body.length } : {});
        res.end(body);
      });
    });
    self = new NxCacheServer(server, token);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The environment that points Nx at this server. */
  env(): Record<string, string> {
    return { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: this.url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: this.token };
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body?: Buffer }> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const m = /^\/v1\/cache\/([A-Za-z0-9_.-]+)$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
    const hash = m?.[1] ?? '';
    const reply = (status: number, body?: Buffer) => {
      this.requests.push({ method: req.method ?? '', hash, status });
      return { status, body };
    };
    if (!m) return reply(404);
    const auth = req.headers.authorization;
    if (!auth) return reply(401);
    if (auth !== `Bearer ${this.token}`) return reply(403);
    if (req.method === 'GET') {
      const body = this.entries.get(hash);
      return body ? reply(200, body) : reply(404);
    }
    if (req.method === 'PUT') {
      if (this.entries.has(hash)) return reply(409);
      this.entries.set(hash, Buffer.concat(chunks));
      return reply(200);
    }
    return reply(405);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
