import { RequestReader } from './frames';
import { helloLine, ProtocolError, responseLine, type GoCacheRequest } from './protocol';
import type { TieredGoCache } from './tiered-cache';

export interface ProgramIo {
  stdin: AsyncIterable<Buffer | string>;
  /** Protocol JSON only: cmd/go parses every byte written here. */
  stdout: { write(line: string): unknown };
  stderr: { write(line: string): unknown };
}

export interface ServeOptions {
  io: ProgramIo;
  cache: TieredGoCache;
  /** After `close` and before its reply (or after stdin closed without one): wait for uploads, write counters. */
  finish: (how: { closed: boolean }) => Promise<void>;
}

async function answer(cache: TieredGoCache, req: GoCacheRequest): Promise<string> {
  try {
    if ('unknown' in req) return responseLine({ id: req.id, error: `unknown command "${req.command}": this cache program knows get, put and close` });
    if (req.command === 'get') {
      const hit = await cache.get(req.actionId);
      return responseLine(
        hit ? { id: req.id, outputId: hit.entry.outputId, size: hit.entry.size, time: hit.entry.time, diskPath: hit.diskPath } : { id: req.id, miss: true },
      );
    }
    if (req.command === 'put') return responseLine({ id: req.id, diskPath: await cache.put(req.actionId, req.outputId, req.body) });
    return responseLine({ id: req.id });
  } catch (err) {
    // The go command reports a failed request (a put that cannot be written: disk full, ...) as its own error.
    return responseLine({ id: req.id, error: (err as Error).message });
  }
}

/**
 * The cache program's loop: announce the commands, then answer requests as they come,
 * concurrently and in any order (cmd/go matches replies by ID). `close` waits for every
 * request in flight, then `finish`, then replies and returns 0. Input that breaks the
 * protocol is one line on stderr and exit code 1: cmd/go then stops with "GOCACHEPROG
 * exited pre-Close", which is what it expects of a broken helper. stdin closing without a
 * `close` (go list never sends one; or go died) ends the loop the same way: `finish` still
 * runs (local entries are complete, and their uploads are worth finishing).
 */
export async function serve(opts: ServeOptions): Promise<number> {
  const { io, cache } = opts;
  io.stdout.write(helloLine());
  const reader = new RequestReader();
  const inFlight = new Set<Promise<void>>();
  try {
    for await (const chunk of io.stdin) {
      const batch: GoCacheRequest[] = [];
      let broken: unknown;
      try {
        reader.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, (req) => batch.push(req));
      } catch (err) {
        broken = err; // answer what came before it first
      }
      for (const req of batch) {
        if (req.command === 'close') {
          await Promise.all(inFlight);
          await opts.finish({ closed: true });
          io.stdout.write(responseLine({ id: req.id }));
          return 0;
        }
        const reply: Promise<void> = answer(cache, req).then((line) => {
          io.stdout.write(line);
          inFlight.delete(reply);
        });
        inFlight.add(reply);
      }
      if (broken) throw broken;
    }
    reader.end();
    await Promise.all(inFlight);
    await opts.finish({ closed: false });
    return 0;
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    io.stderr.write(`gocacheprog: ${err.message}\n`);
    await Promise.allSettled(inFlight);
    await opts.finish({ closed: false }).catch(() => undefined);
    return 1;
  }
}
