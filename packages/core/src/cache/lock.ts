import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync, promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { tempPathFor } from '../util/fs-atomic';
import { sha256Hex } from '../util/hash';

/**
 * Per-key locks between processes sharing one store (two Nx tasks, an Nx task and the CLI).
 *
 * A lock is a file created atomically (a temp file hard-linked into place, so it never
 * appears half-written) holding its owner: pid, the process's start time (Linux: field 22
 * of /proc/<pid>/stat, so a recycled pid is not mistaken for the owner), hostname and a
 * nonce. A waiter polls; a lock whose owner is dead is taken over at once, never waited out.
 * Removing a dead lock is itself guarded by a lock named after the dead one's contents, so
 * two waiters noticing the same death never remove each other's fresh lock.
 */

/** Who holds a lock, as written in its file. */
export interface LockOwner {
  pid: number;
  /** The process's start time in clock ticks since boot (Linux), or null where there is no /proc. */
  start: string | null;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  nonce: string;
}

export interface HeldLock {
  readonly path: string;
  /** Removes the lock file if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

export interface AcquireOptions {
  /** Stops waiting (rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Called once, when the lock is found held by a live owner and this caller starts waiting. */
  onWait?: (holder: LockOwner) => void;
  /** Called when this caller removed a dead owner's lock (why: what made it dead). */
  onTakeOver?: (why: string) => void;
}

/** A lock file as a waiter sees it; `token` names its exact contents. */
export type LockState =
  | { state: 'free' }
  | { state: 'live'; owner: LockOwner; token: string; mtimeMs: number }
  /** Unreadable but very young: possibly being written where there are no hard links. */
  | { state: 'writing'; token: string; mtimeMs: number }
  | { state: 'dead'; token: string; why: string };

/** Polls start fast and back off to this: a dead owner is noticed well within a second. */
const MAX_POLL_MS = 100;
/** A holder touches its lock this often, so waiters on another host can tell it is alive. */
const HEARTBEAT_MS = 5_000;
/**
 * A lock from another host (a store on a network share) whose file has not changed for this
 * long is dead: well above the heartbeat and NFS's attribute caching (up to 60 s). Taking over
 * wrongly costs duplicate work, never a broken entry (entries are written whole, by rename).
 */
const FOREIGN_STALE_MS = 120_000;
/** An unreadable lock file younger than this may be one being written without hard links: wait for it. */
const GARBAGE_GRACE_MS = 1_000;

const HOST = hostname();
const hasProc = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

/** State letter and start time (field 3 and 22) of a live pid from /proc; undefined when there is no such process. */
function procStat(pid: number): { state: string; start: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], start: fields[19] };
}

const SELF_START = hasProc ? (procStat(process.pid)?.start ?? null) : null;

/** kill(pid, 0): is there such a process at all (EPERM: yes, another user's)? */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the process that wrote this owner record is still running (same host only). */
export function ownerAlive(owner: Pick<LockOwner, 'pid' | 'start'>): boolean {
  if (!hasProc) return pidExists(owner.pid);
  const st = procStat(owner.pid);
  // Not in /proc yet alive: another user's process behind hidepid; its start time cannot be read.
  if (!st) return pidExists(owner.pid);
  // Z and X: killed, not yet reaped by its parent. It will never release the lock.
  if (st.state === 'Z' || st.state === 'X') return false;
  return owner.start === null || st.start === owner.start;
}

function parseOwner(raw: Buffer): LockOwner | undefined {
  try {
    const o = JSON.parse(raw.toString('utf8')) as Partial<LockOwner>;
    const pidOk = Number.isSafeInteger(o.pid) && (o.pid as number) > 0;
    const ok = pidOk && (o.start === null || typeof o.start === 'string') && typeof o.host === 'string' && typeof o.nonce === 'string';
    return ok ? (o as LockOwner) : undefined;
  } catch {
    return undefined;
  }
}

/** Names one lock file's contents: tokens of two different acquisitions never collide (nonce). */
const tokenOf = (raw: Buffer) => sha256Hex(raw).slice(0, 16);

async function readRaw(path: string): Promise<{ raw: Buffer; mtimeMs: number } | undefined> {
  try {
    const [raw, st] = await Promise.all([fs.readFile(path), fs.stat(path)]);
    return { raw, mtimeMs: st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** What a waiter on another host has seen of a foreign lock: its token and mtime, and since when unchanged. */
interface ForeignSighting {
  token: string;
  mtimeMs: number;
  since: number;
}

/**
 * Reads a lock file and judges it. `sighting` carries what the caller saw before, for a lock
 * from another host: its pid cannot be checked, so it is dead once its heartbeat stops.
 */
export async function inspectLock(path: string, sighting: { last?: ForeignSighting } = {}): Promise<LockState> {
  const file = await readRaw(path);
  if (!file) return { state: 'free' };
  const token = tokenOf(file.raw);
  const owner = parseOwner(file.raw);
  const mtimeMs = file.mtimeMs;
  if (!owner) {
    if (Date.now() - mtimeMs < GARBAGE_GRACE_MS) return { state: 'writing', token, mtimeMs };
    return { state: 'dead', token, why: 'the lock file is not a lock record' };
  }
  if (owner.host !== HOST) {
    const seen = sighting.last;
    if (!seen || seen.token !== token || seen.mtimeMs !== mtimeMs) sighting.last = { token, mtimeMs, since: Date.now() };
    else if (Date.now() - seen.since > FOREIGN_STALE_MS)
      return { state: 'dead', token, why: `no heartbeat from ${owner.host} for ${FOREIGN_STALE_MS / 1000}s` };
    return { state: 'live', owner, token, mtimeMs };
  }
  if (!ownerAlive(owner)) return { state: 'dead', token, why: `process ${owner.pid} (started ${owner.start ?? '?'}) is gone` };
  return { state: 'live', owner, token, mtimeMs };
}

/** Creates the lock file with these bytes if there is none; false if there is one. */
async function tryCreate(path: string, bytes: Buffer): Promise<boolean> {
  const tmp = tempPathFor(path);
  try {
    await fs.writeFile(tmp, bytes, { mode: 0o644 });
    try {
      await fs.link(tmp, path);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw err;
    }
    // No hard links on this filesystem: exclusive create (a reader may briefly see it empty: the garbage grace covers that).
    await fs.writeFile(path, bytes, { flag: 'wx', mode: 0o644 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/**
 * Removes the lock file at `path` if it still holds the dead contents named by `token`.
 * Every remover of that one dead lock must first hold the lock `<path>.<token>.break`, and
 * the owner of a dead lock never releases it, so between the check and the removal nobody
 * else can replace the file: the removal never hits a fresh lock.
 */
export async function breakLock(path: string, token: string, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
  const guard = await acquireLock(`${path}.${token}.break`, { signal: opts.signal });
  try {
    const now = await readRaw(path);
    if (!now || tokenOf(now.raw) !== token) return false; // another waiter removed it first
    await fs.rm(path, { force: true });
    return true;
  } finally {
    await guard.release();
  }
}

const held = new Map<string, Buffer>();
let exitHook = false;

/** On a normal exit (process.exit with work in flight) the locks this process holds go with it. */
function releaseAllSync(): void {
  for (const [path, bytes] of held) {
    try {
      if (readFileSync(path).equals(bytes)) unlinkSync(path);
    } catch {
      /* gone already */
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Takes the lock at `path`, waiting while a live process holds it and taking it over from a dead one. */
export async function acquireLock(path: string, opts: AcquireOptions = {}): Promise<HeldLock> {
  const owner: LockOwner = { pid: process.pid, start: SELF_START, host: HOST, since: new Date().toISOString(), nonce: randomBytes(8).toString('hex') };
  const bytes = Buffer.from(JSON.stringify(owner) + '\n');
  await fs.mkdir(dirname(path), { recursive: true });
  const sighting: { last?: ForeignSighting } = {};
  let delay = 5;
  let announced = false;
  for (;;) {
    opts.signal?.throwIfAborted();
    if (await tryCreate(path, bytes)) return hold(path, bytes);
    const seen = await inspectLock(path, sighting);
    if (seen.state === 'free') continue; // released in between: try again at once
    if (seen.state === 'dead') {
      if (await breakLock(path, seen.token, opts)) opts.onTakeOver?.(seen.why);
      continue;
    }
    if (!announced && seen.state === 'live') {
      announced = true;
      opts.onWait?.(seen.owner);
    }
    await sleep(delay, opts.signal);
    delay = Math.min(delay * 2, MAX_POLL_MS);
  }
}

function hold(path: string, bytes: Buffer): HeldLock {
  held.set(path, bytes);
  if (!exitHook) {
    process.on('exit', releaseAllSync);
    exitHook = true;
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    fs.utimes(path, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      held.delete(path);
      const now = await readRaw(path);
      if (now?.raw.equals(bytes)) await fs.rm(path, { force: true });
    },
  };
}

/**
 * For pruning: removes the lock at `path` if its owner is dead, or if it is another host's
 * and untouched for `foreignMaxAgeMs` (its heartbeat stopped long ago). Never a live one.
 */
export async function removeIfDead(path: string, opts: { foreignMaxAgeMs: number }): Promise<boolean> {
  const seen = await inspectLock(path);
  const dead = seen.state === 'dead' || (seen.state === 'live' && seen.owner.host !== HOST && Date.now() - seen.mtimeMs > opts.foreignMaxAgeMs);
  return dead && breakLock(path, seen.token);
}
