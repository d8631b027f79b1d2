import { promises as fs } from 'node:fs';
import type { RemoteCache, RemoteCacheMode } from '../cache/remote';
import { sha256File, sha256Hex, type Digest } from '../util/hash';
import type { GoCacheCounters } from './counters';
import { decodeEntry, encodeEntry, type GoEntry } from './entry';
import { downloadPath, hasOutput, outputPath, readLocal, writeEntry, writeLocal, type GoCacheLayout } from './layout';
import { actionListKey, decodeActionList, eachConcurrently, encodeActionList } from './prefetch';
import { trimIfDue } from './trim';
import { UploadQueue } from './uploads';

export interface TieredGoCacheOptions {
  layout: GoCacheLayout;
  remote?: RemoteCache;
  mode: RemoteCacheMode;
  counters: GoCacheCounters;
  /** One line on stderr; the remote's first failure is the only one reported. */
  warn: (line: string) => void;
  uploadConcurrency?: number;
  /** Remote fetches ahead of go, from an earlier run's action list (prefetch.ts). */
  prefetchConcurrency?: number;
}

export interface GoCacheHit {
  entry: GoEntry;
  diskPath: string;
}

const blobDigest = (outputId: string): Digest => `sha256:${outputId}`;
/**
 * How many of a go command's first ActionIDs key its action list. The very first ones can
 * depend on the checkout's path (main-module actions); a few later ones are standard-library
 * actions every machine shares.
 */
const LIST_KEYS = 8;

/**
 * Go's cache in two tiers: the local folder (layout.ts) first, then the remote, read
 * through (a remote hit is downloaded, verified and written locally before go sees it) and
 * written behind (uploads.ts). The remote can only ever cost time: its first failure is one
 * warning line and turns it off for the rest of this go command, so a remote that is down
 * costs one deadline, not one per request.
 */
export class TieredGoCache {
  private remote: RemoteCache | undefined;
  private readonly uploads: UploadQueue;
  /** Puts being written, by ActionID: a get of the same action waits for its put (replies may otherwise overtake each other). */
  private readonly writing = new Map<string, Promise<unknown>>();
  /** Remote lookups by ActionID, go's and the prefetch's: each action crosses the network once. */
  private readonly fetching = new Map<string, Promise<GoCacheHit | undefined>>();
  /** Entries this program downloaded: go's get of one is a remote hit even when the prefetch got there first. */
  private readonly downloaded = new Set<string>();
  /** What this go command found or stored, in the order it asked: the action list for the next machine. */
  private readonly asked = new Set<string>();
  /** The first ActionIDs asked: the action list is published under each (prefetch.ts). */
  private readonly firstIds: string[] = [];
  private listFound = false;
  private closing = false;
  /** Some get was not answered locally: this run's action list is worth sharing. */
  private wentOut = false;

  constructor(private readonly opts: TieredGoCacheOptions) {
    this.remote = opts.remote;
    this.uploads = new UploadQueue(opts.uploadConcurrency ?? 4);
  }

  async get(actionId: string): Promise<GoCacheHit | undefined> {
    const c = this.opts.counters;
    c.gets++;
    const writing = this.writing.get(actionId);
    if (writing) await writing.catch(() => undefined);
    const local = readLocal(this.opts.layout, actionId);
    if (this.firstIds.length < LIST_KEYS && !this.firstIds.includes(actionId)) {
      this.firstIds.push(actionId);
      if (!local) void this.prefetch(actionId); // a warm machine needs no list
    }
    if (!local) this.wentOut = true;
    const hit = local ? { entry: local, diskPath: outputPath(this.opts.layout, local.outputId) } : await this.fromRemote(actionId);
    if (!hit) c.misses++;
    else if (this.downloaded.has(actionId)) c.hitsRemote++;
    else c.hitsLocal++;
    if (hit) this.asked.add(actionId);
    return hit;
  }

  /** Writes locally (the reply waits for that), then queues the upload. */
  async put(actionId: string, outputId: string, body: Buffer): Promise<string> {
    this.opts.counters.puts++;
    // cmd/go's OutputID is the sha256 of the body (cache/prog.go); a put that breaks this would poison every machine's cache.
    if (sha256Hex(body) !== outputId) throw new Error(`put ${actionId}: OutputID ${outputId} is not the sha256 of the ${body.length}-byte body`);
    const entry: GoEntry = { outputId, size: body.length, time: new Date() };
    const written = writeLocal(this.opts.layout, actionId, entry, body);
    this.writing.set(actionId, written);
    const diskPath = await written.finally(() => this.writing.get(actionId) === written && this.writing.delete(actionId));
    this.asked.add(actionId);
    if (this.remote && this.opts.mode === 'read-write') this.uploads.add(() => this.upload(actionId, entry, diskPath));
    return diskPath;
  }

  /** Waits for uploads (at most `uploadDeadlineMs`), trims the folder when due. */
  async close(opts: { uploadDeadlineMs: number }): Promise<void> {
    this.closing = true;
    const remote = this.remote;
    if (remote && this.opts.mode === 'read-write' && this.wentOut && this.asked.size) {
      const list = encodeActionList([...this.asked]);
      for (const id of this.firstIds)
        this.uploads.add(() => remote.putEntry('go', actionListKey(id), list).catch((err: unknown) => this.remoteFailed(remote, err)));
    }
    const skipped = await this.uploads.drain(opts.uploadDeadlineMs);
    if (skipped) {
      this.opts.counters.uploadsSkipped += skipped;
      this.opts.warn(
        `warning: Go cache: ${skipped} uploads to ${this.remote?.name ?? 'the remote cache'} did not finish in ${opts.uploadDeadlineMs} ms and were skipped`,
      );
    }
    // What really went up (blobs the remote had are not sent), entries included.
    if (this.opts.remote) this.opts.counters.bytesUp = this.opts.remote.stats().bytesUp;
    await this.opts.remote?.close?.().catch(() => undefined);
    await trimIfDue(this.opts.layout).catch(() => undefined);
  }

  /** One remote lookup per action, shared by go's get and the prefetch. */
  private fromRemote(actionId: string): Promise<GoCacheHit | undefined> {
    let lookup = this.fetching.get(actionId);
    if (!lookup) {
      lookup = this.fetchRemote(actionId);
      this.fetching.set(actionId, lookup);
    }
    return lookup;
  }

  private async fetchRemote(actionId: string): Promise<GoCacheHit | undefined> {
    const remote = this.remote;
    if (!remote) return undefined;
    try {
      const bytes = await remote.getEntry('go', actionId);
      const entry = bytes && decodeEntry(bytes);
      if (!entry) return undefined;
      const diskPath = outputPath(this.opts.layout, entry.outputId);
      if (!(await hasOutput(this.opts.layout, entry.outputId, entry.size)) && !(await this.download(remote, entry))) return undefined;
      await writeEntry(this.opts.layout, actionId, entry);
      this.downloaded.add(actionId);
      return { entry, diskPath };
    } catch (err) {
      this.remoteFailed(remote, err);
      return undefined;
    }
  }

  /** Looks for an earlier run's action list under one of the first ActionIDs; the first found is fetched ahead of go, until close. */
  private async prefetch(actionId: string): Promise<void> {
    const remote = this.remote;
    if (!remote || this.listFound) return;
    try {
      const bytes = await remote.getEntry('go', actionListKey(actionId));
      const ids = bytes && decodeActionList(bytes);
      if (!ids || this.listFound) return;
      this.listFound = true;
      const ahead = ids.filter((id) => !this.fetching.has(id) && !readLocal(this.opts.layout, id));
      this.opts.counters.prefetched += ahead.length;
      await eachConcurrently(
        ahead,
        this.opts.prefetchConcurrency ?? 16,
        () => this.closing || this.remote !== remote,
        async (id) => {
          await this.fromRemote(id);
        },
      );
    } catch (err) {
      this.remoteFailed(remote, err);
    }
  }

  /** The output into the local folder, checked here too (a remote tier's bug must not reach go); false when the remote lacks it. */
  private async download(remote: RemoteCache, entry: GoEntry): Promise<boolean> {
    const { temp, final } = await downloadPath(this.opts.layout, entry.outputId);
    try {
      if (!(await remote.getBlob(blobDigest(entry.outputId), temp))) return false;
      const got = await sha256File(temp);
      if (got.digest !== blobDigest(entry.outputId) || got.size !== entry.size) return false;
      await fs.chmod(temp, 0o444);
      await fs.rename(temp, final);
      this.opts.counters.bytesDown += got.size;
      return true;
    } finally {
      await fs.rm(temp, { force: true });
    }
  }

  private async upload(actionId: string, entry: GoEntry, path: string): Promise<void> {
    const remote = this.remote;
    const c = this.opts.counters;
    if (!remote) {
      c.uploadsSkipped++;
      return;
    }
    try {
      // The blob before the entry naming it: a reader never finds an entry whose blob is missing.
      // putBlob skips a blob the remote has (a HEAD); the entry names it, so a registry's GC keeps it.
      const blob = { digest: blobDigest(entry.outputId), size: entry.size };
      await remote.putBlob(blob.digest, blob.size, path);
      await remote.putEntry('go', actionId, encodeEntry(entry), [blob]);
      c.uploads++;
    } catch (err) {
      c.uploadsSkipped++;
      this.remoteFailed(remote, err);
    }
  }

  private remoteFailed(remote: RemoteCache, err: unknown): void {
    this.opts.counters.remoteErrors++;
    if (this.remote !== remote) return; // already off and reported
    this.remote = undefined;
    const message = err instanceof Error ? err.message : String(err);
    this.opts.warn(
      `warning: Go cache: ${message.includes(remote.name) ? message : `${remote.name}: ${message}`}; this go command continues without the remote cache`,
    );
  }
}
