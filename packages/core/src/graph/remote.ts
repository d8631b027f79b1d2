import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { RemoteCacheError, type RemoteBlob, type RemoteCache, type RemoteCacheMode, type RemoteStats } from '../cache/remote';
import type { BlobRef, Store } from '../cache/store';
import { hexOf, keyOf, sha256File, type Digest } from '../util/hash';
import { formatMs } from './console-reporter';
import type { Node, Outcome, Runner } from './node';

export interface RemoteTierOptions {
  store: Store;
  remote: RemoteCache;
  /** `read`: look up, never write (untrusted builds). */
  mode: RemoteCacheMode;
  /** Gets one line, at most once per tier (per build): why the remote is off from then on. */
  warn: (line: string) => void;
  /** Entries uploaded at once (default 4) and blobs downloaded at once (default 8). */
  uploads?: number;
  downloads?: number;
  /**
   * Kinds the remote neither serves nor stores: nodes whose work lands outside the store, so
   * an entry from another machine would skip work this one needs. Default ['modules']
   * (`go mod download` fills GOMODCACHE). Every other kind's data must mean the same on any
   * machine that computes the same key (no absolute paths the key does not cover).
   */
  localKinds?: readonly string[];
  /** A guard above the remote's own deadlines: a lookup (entry and blobs) longer than this turns the remote off. Default 10 min. */
  lookupMs?: number;
}

export interface RemoteTierStats extends RemoteStats {
  /** Nodes served from the remote, and entries written to it. */
  fetched: number;
  uploaded: number;
  /** Why the remote was turned off for the rest of the build, if it was. */
  off?: string;
}

/** The tier is a runner; the build awaits flush() at its end (write-behind uploads, bounded). */
export interface RemoteTier extends Runner {
  flush(opts?: { timeoutMs?: number }): Promise<void>;
  stats(): RemoteTierStats;
}

type Files = Record<string, RemoteBlob>;

/** What the tier keeps under a node's key in the remote's 'ac' area: the local entry, keyed and summed. */
interface RemoteEntry {
  v: 1;
  key: string;
  kind: string;
  data: unknown;
  files: Files;
  sum: string;
}

export function encodeRemoteEntry(key: string, kind: string, data: unknown, files: Files): Uint8Array {
  const rest = { v: 1 as const, key, kind, data, files };
  return Buffer.from(JSON.stringify({ ...rest, sum: keyOf(rest) }));
}

/** The entry if it is well-formed, for this key and kind, and its checksum holds; else undefined (a miss). */
export function decodeRemoteEntry(bytes: Uint8Array, key: string, kind: string): RemoteEntry | undefined {
  let e: RemoteEntry;
  try {
    e = JSON.parse(Buffer.from(bytes).toString('utf8')) as RemoteEntry;
  } catch {
    return undefined;
  }
  if (!e || typeof e !== 'object' || e.v !== 1 || e.key !== key || e.kind !== kind || !e.files || typeof e.files !== 'object') return undefined;
  const { sum, ...rest } = e;
  if (keyOf(rest) !== sum) return undefined;
  const ok = Object.values(e.files).every((f) => /^sha256:[0-9a-f]{64}$/.test(String(f?.digest)) && Number.isSafeInteger(f.size) && f.size >= 0);
  return ok ? e : undefined;
}

/** At most `n` tasks at once. */
function gate(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    else active++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

export const DEFAULT_LOCAL_KINDS: readonly string[] = ['modules'];

/** One tier's state for one build: the remote, its gates, the uploads in flight, and whether it is off. */
interface Tier {
  opts: RemoteTierOptions;
  uploads: <T>(task: () => Promise<T>) => Promise<T>;
  downloads: <T>(task: () => Promise<T>) => Promise<T>;
  pending: Set<Promise<void>>;
  counts: { fetched: number; uploaded: number };
  off?: string;
  offSignal: Promise<undefined>;
  signalOff: () => void;
}

function turnOff(t: Tier, err: unknown): void {
  if (t.off !== undefined) return;
  t.off = err instanceof RemoteCacheError ? err.message : `remote cache ${t.opts.remote.name}: ${(err as Error)?.message ?? String(err)}`;
  t.opts.warn(`warning: ${t.off}; the remote cache is off for the rest of this build`);
  t.signalOff();
}

/** A blob of an entry, from the store if it has it, else downloaded and verified; undefined when the remote lost it. */
async function fetchBlob(t: Tier, f: RemoteBlob, dir: string): Promise<BlobRef | undefined> {
  const { store, remote } = t.opts;
  if (await store.hasBlob(f.digest)) return { ...f, path: store.blobPath(f.digest) };
  const tmp = join(dir, hexOf(f.digest));
  if (!(await t.downloads(() => remote.getBlob(f.digest, tmp)))) {
    // Gone (collected) is a miss; there but failing verification is a remote serving wrong bytes.
    if (await remote.hasBlob(f.digest)) throw new RemoteCacheError(remote.name, `blob ${f.digest} does not match its digest`);
    return undefined;
  }
  const got = await sha256File(tmp);
  if (got.digest !== f.digest || got.size !== f.size)
    throw new RemoteCacheError(remote.name, `blob ${f.digest} (${f.size} bytes) arrived as ${got.digest} (${got.size} bytes)`);
  return store.putFile(tmp, { move: true, known: got });
}

/** The entry and every blob it names into the local store, then the local entry; undefined on a miss. */
async function fetchEntry<T>(t: Tier, node: Node<T>, key: string, abandoned: () => boolean): Promise<Outcome<T> | undefined> {
  const started = performance.now();
  const { store, remote } = t.opts;
  const bytes = await remote.getEntry('ac', key);
  const entry = bytes && decodeRemoteEntry(bytes, key, node.kind);
  if (!entry) return undefined;
  const dir = await store.tempDir('remote');
  try {
    const named = Object.entries(entry.files);
    const got = await Promise.allSettled(named.map(([, f]) => fetchBlob(t, f, dir)));
    const failed = got.find((g): g is PromiseRejectedResult => g.status === 'rejected');
    if (failed) throw failed.reason;
    const files: Record<string, BlobRef> = {};
    for (const [i, [name]] of named.entries()) {
      const ref = (got[i] as PromiseFulfilledResult<BlobRef | undefined>).value;
      if (!ref) return undefined; // an entry whose blobs are missing is a miss
      files[name] = ref;
    }
    if (abandoned()) return undefined;
    await store.putAction(key, { kind: entry.kind, data: entry.data, files: entry.files });
    t.counts.fetched++;
    return { data: entry.data as T, files, cached: true, remote: true, ms: performance.now() - started };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The remote's outcome, or undefined on a miss, a fault (then the tier is off), the guard, or the tier going off meanwhile. */
async function lookup<T>(t: Tier, node: Node<T>, key: string): Promise<Outcome<T> | undefined> {
  let gaveUp = false;
  let timer: NodeJS.Timeout | undefined;
  const limit = t.opts.lookupMs ?? 600_000;
  const guard = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      turnOff(t, new RemoteCacheError(t.opts.remote.name, `a lookup took longer than ${formatMs(limit)}`));
      resolve(undefined);
    }, limit);
  });
  const work = fetchEntry(t, node, key, () => gaveUp);
  try {
    const got = await Promise.race([work, guard, t.offSignal]);
    gaveUp = !got;
    return got;
  } catch (err) {
    gaveUp = true;
    turnOff(t, err);
    return undefined;
  } finally {
    clearTimeout(timer);
    work.catch(() => {});
  }
}

/** Write-behind: the blobs, then the entry (so an entry never names a missing blob), in the background. */
function upload(t: Tier, kind: string, key: string, out: Outcome<unknown>): void {
  const { remote } = t.opts;
  const files: Files = Object.fromEntries(Object.entries(out.files).map(([n, f]) => [n, { digest: f.digest, size: f.size }]));
  const blobs = [...new Map(Object.values(out.files).map((f) => [f.digest, f] as [Digest, BlobRef])).values()];
  const task = t
    .uploads(async () => {
      for (const b of blobs) {
        if (t.off !== undefined) return;
        await remote.putBlob(b.digest, b.size, b.path);
      }
      if (t.off !== undefined) return;
      await remote.putEntry(
        'ac',
        key,
        encodeRemoteEntry(key, kind, out.data, files),
        blobs.map((b) => ({ digest: b.digest, size: b.size })),
      );
      t.counts.uploaded++;
    })
    .catch((err: unknown) => turnOff(t, err));
  t.pending.add(task);
  void task.finally(() => t.pending.delete(task));
}

async function flush(t: Tier, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)));
  const done = (async () => {
    while (t.pending.size) await Promise.allSettled([...t.pending]);
    return false;
  })();
  if (await Promise.race([done, late]))
    turnOff(t, new RemoteCacheError(t.opts.remote.name, `${t.pending.size} upload(s) not finished within ${formatMs(timeoutMs)}, left undone`));
  clearTimeout(timer);
}

/**
 * The remote tier, a wrapper around the node runner. Its place in the stack is right under
 * caching (the local store stays L1) and above single-flight and limiting:
 *   deduping → reporting → caching → remote → single-flight → limiting → direct
 * A node with a key that misses locally is looked up remotely: the entry, then each blob it
 * names, downloaded and verified into the local store, then the local entry; the outcome is
 * cached with `remote: true`. A node built here is uploaded behind the build's back;
 * flush() awaits that, bounded (call it at the build's end, failed builds included).
 * The remote never fails a build: the first fault (down, slow, refused, wrong bytes) is one
 * warning and the remote is off for the rest of the tier's life; lookups in flight give up.
 * Create one tier per build.
 */
export function remoteCachingRunner(inner: Runner, opts: RemoteTierOptions): RemoteTier {
  let signalOff!: () => void;
  const offSignal = new Promise<undefined>((resolve) => (signalOff = () => resolve(undefined)));
  const local = new Set(opts.localKinds ?? DEFAULT_LOCAL_KINDS);
  const t: Tier = {
    opts,
    uploads: gate(opts.uploads ?? 4),
    downloads: gate(opts.downloads ?? 8),
    pending: new Set(),
    counts: { fetched: 0, uploaded: 0 },
    offSignal,
    signalOff,
  };
  return {
    async run<T>(node: Node<T>): Promise<Outcome<T>> {
      if (!node.key || t.off !== undefined || local.has(node.kind)) return inner.run(node);
      const key = await node.key();
      const hit = await lookup(t, node, key);
      if (hit) return hit;
      const out = await inner.run(node);
      if (opts.mode === 'read-write' && !out.cached && t.off === undefined) upload(t, node.kind, key, out);
      return out;
    },
    flush: ({ timeoutMs = 120_000 } = {}) => flush(t, timeoutMs),
    stats: () => ({ ...opts.remote.stats(), ...t.counts, ...(t.off !== undefined ? { off: t.off } : {}) }),
  };
}

function mb(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.round(bytes / 1e3)} kB`;
}

/** The summary line: `remote cache oci://host/repo: 3 fetched (12.3 MB), 2 uploaded (4.1 MB), 1.2s`. */
export function remoteSummary(name: string, s: RemoteTierStats): string {
  return `remote cache ${name}: ${s.fetched} fetched (${mb(s.bytesDown)}), ${s.uploaded} uploaded (${mb(s.bytesUp)}), ${formatMs(s.ms)}${s.off ? ', turned off after an error' : ''}`;
}
