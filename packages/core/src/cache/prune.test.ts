import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Digest } from '../util/hash';
import { acquireLock } from './lock';
import { parseSize, pruneIfDue, pruneStore } from './prune';
import { Store } from './store';

const HOUR = 3600;
const nowS = () => Date.now() / 1000;
const digestOf = (data: string | Buffer): Digest => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const keyFor = (name: string) => createHash('sha256').update(name).digest('hex');

let root: string;
let store: Store;
beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'fnb-prune-'));
  store = await Store.open(root);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const entryPath = (key: string) => join(root, 'ac', key.slice(0, 2), key);
const blobPath = (d: Digest) => join(root, 'cas', 'sha256', d.slice(7));
const setAge = (path: string, secondsAgo: number) => utimesSync(path, nowS() - secondsAgo, nowS() - secondsAgo);

/** A blob of exactly `size` bytes, last modified `secondsAgo`. */
async function blob(fill: string, size: number, secondsAgo: number): Promise<Digest> {
  const bytes = Buffer.alloc(size, fill);
  const d = digestOf(bytes);
  await store.putBytes(bytes, d);
  setAge(blobPath(d), secondsAgo);
  return d;
}

/** An action entry naming the given blobs, last used `secondsAgo`. */
async function entry(name: string, blobs: Digest[], secondsAgo: number): Promise<string> {
  const key = keyFor(name);
  const files = Object.fromEntries(blobs.map((d, i) => [`f${i}`, { digest: d, size: 0 }]));
  await store.putAction(key, { kind: 'compile', data: { name }, files });
  setAge(entryPath(key), secondsAgo);
  return key;
}

describe('pruneStore', () => {
  test('drops least-recently-used entries and their unreferenced blobs down to 80% of maxBytes; keeps recent ones and young blobs', async () => {
    const A = await blob('a', 300, HOUR);
    const B = await blob('b', 300, HOUR);
    const C = await blob('c', 300, HOUR);
    const D = await blob('d', 300, HOUR);
    const young = await blob('e', 50, 60); // unreferenced, written a minute ago: another process may be about to record it
    const eA = await entry('A', [A], 1 * HOUR);
    const eB = await entry('B', [B], 2 * HOUR);
    const eC = await entry('C', [C], 3 * HOUR);
    const eD = await entry('D', [D], 4 * HOUR);
    const eA2 = await entry('A again', [A], 5 * HOUR); // oldest, but its blob is already kept: costs nothing

    const r = await pruneStore(root, 1000);

    // Newest first: A 300, B 600, C would be 900 > 800 (drop), D 900 (drop), A-again +0 (keep).
    expect(r).toEqual({ entriesRemoved: 2, blobsRemoved: 2, bytesBefore: 1250, bytesAfter: 650 });
    for (const k of [eA, eB, eA2]) expect(existsSync(entryPath(k))).toBe(true);
    for (const k of [eC, eD]) expect(existsSync(entryPath(k))).toBe(false);
    for (const d of [A, B, young]) expect(existsSync(blobPath(d))).toBe(true);
    for (const d of [C, D]) expect(existsSync(blobPath(d))).toBe(false);

    // What is left still reads back through the store.
    const fresh = await Store.open(root);
    expect((await fresh.getAction(eA))?.data).toEqual({ name: 'A' });
    expect((await fresh.getAction(eA2))?.data).toEqual({ name: 'A again' });
    expect(await fresh.getAction(eC)).toBeUndefined();
  });

  test('recency decides, not creation order', async () => {
    const X = await blob('x', 600, HOUR);
    const Y = await blob('y', 600, HOUR);
    const eX = await entry('X', [X], 10 * HOUR); // created first...
    const eY = await entry('Y', [Y], 1 * HOUR);
    setAge(entryPath(eX), 60); // ...but used a minute ago
    const r = await pruneStore(root, 1000);
    expect(r).toEqual({ entriesRemoved: 1, blobsRemoved: 1, bytesBefore: 1200, bytesAfter: 600 });
    expect(existsSync(entryPath(eX))).toBe(true);
    expect(existsSync(entryPath(eY))).toBe(false);
    expect(existsSync(blobPath(X))).toBe(true);
    expect(existsSync(blobPath(Y))).toBe(false);
  });

  test('under maxBytes nothing is removed', async () => {
    const A = await blob('a', 300, 10 * HOUR);
    const orphan = await blob('o', 100, 10 * HOUR);
    const eA = await entry('A', [A], 100 * HOUR);
    expect(await pruneStore(root, 1000)).toEqual({ entriesRemoved: 0, blobsRemoved: 0, bytesBefore: 400, bytesAfter: 400 });
    expect(existsSync(entryPath(eA))).toBe(true);
    expect(existsSync(blobPath(orphan))).toBe(true);
  });

  test('an unreadable entry is dropped; an entry over the budget goes with its blob', async () => {
    const A = await blob('a', 900, HOUR);
    const eA = await entry('A', [A], 2 * HOUR);
    const torn = keyFor('torn');
    mkdirSync(join(root, 'ac', torn.slice(0, 2)), { recursive: true });
    writeFileSync(entryPath(torn), '{"v":1,');
    setAge(entryPath(torn), 60);
    const r = await pruneStore(root, 800);
    expect(r.entriesRemoved).toBe(2); // the torn one, and A (900 > 640)
    expect(existsSync(entryPath(torn))).toBe(false);
    expect(existsSync(entryPath(eA))).toBe(false);
    expect(existsSync(blobPath(A))).toBe(false);
    expect(r.bytesAfter).toBe(0);
  });

  // BUG (prune.ts:73): `hexes.length && ...` treats an entry that names no blobs (every
  // modules(M) entry) like an unreadable one, so any prune drops the most recently used
  // modules entries and the next build re-runs `go mod download`.
  test('a recently used entry that names no blobs (a modules entry) is kept', async () => {
    const A = await blob('a', 1200, HOUR);
    await entry('old', [A], 10 * HOUR);
    const modulesKey = keyFor('modules');
    await store.putAction(modulesKey, { kind: 'modules', data: { modules: [], vendored: false }, files: {} });
    setAge(entryPath(modulesKey), 60);
    await pruneStore(root, 1000);
    expect(existsSync(entryPath(modulesKey))).toBe(true);
  });

  test('stale temp files (over a day) and old memos (over 30 days) go, fresh ones stay', async () => {
    const A = await blob('a', 10, HOUR);
    await entry('A', [A], HOUR);
    const oldTmp = join(root, 'tmp', 'compile-old', 'out');
    const newTmp = join(root, 'tmp', 'compile-new', 'out');
    for (const f of [oldTmp, newTmp]) {
      mkdirSync(join(f, '..'), { recursive: true });
      writeFileSync(f, 'partial');
    }
    setAge(oldTmp, 25 * HOUR);
    await store.putMemo(keyFor('m-old'), { value: 1 });
    await store.putMemo(keyFor('m-new'), { value: 2 });
    const memoPath = (k: string) => join(root, 'memo', k.slice(0, 2), k);
    setAge(memoPath(keyFor('m-old')), 31 * 24 * HOUR);
    setAge(memoPath(keyFor('m-new')), 29 * 24 * HOUR);

    await pruneStore(root, 1e9);
    expect(existsSync(oldTmp)).toBe(false);
    expect(existsSync(newTmp)).toBe(true);
    expect(existsSync(memoPath(keyFor('m-old')))).toBe(false);
    expect(existsSync(memoPath(keyFor('m-new')))).toBe(true);
  });

  test('an empty or missing store prunes to nothing without failing', async () => {
    expect(await pruneStore(join(root, 'does-not-exist'), 0)).toEqual({ entriesRemoved: 0, blobsRemoved: 0, bytesBefore: 0, bytesAfter: 0 });
  });
});

describe('pruneIfDue', () => {
  test('prunes at most once an hour, keeping a marker', async () => {
    await blob('a', 500, HOUR);
    const first = await pruneIfDue(root, 100);
    expect(first).toEqual({ entriesRemoved: 0, blobsRemoved: 1, bytesBefore: 500, bytesAfter: 0 });
    await blob('b', 500, HOUR);
    expect(await pruneIfDue(root, 100)).toBeUndefined(); // not due yet
    expect(readdirSync(join(root, 'cas', 'sha256'))).toHaveLength(1);
    setAge(join(root, 'last-prune'), 2 * HOUR);
    expect(await pruneIfDue(root, 100)).toEqual({ entriesRemoved: 0, blobsRemoved: 1, bytesBefore: 500, bytesAfter: 0 });
  });
});

describe('parseSize', () => {
  test.each([
    ['5GiB', 5 * 1024 ** 3],
    ['500MB', 500e6],
    ['1e9', 1e9],
    ['1.5 kib', 1536],
    [' 42 ', 42],
    ['10b', 10],
  ])('%j → %d', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  test.each(['', 'lots', '5 GB free', '-1', '5XB'])('%j is refused with an example of what works', (text) => {
    expect(() => parseSize(text)).toThrow(`cache size "${text}" is not a size\n  Write it like 5GiB, 500MB or 1000000000.`);
  });
});

test('git checkouts and function entrypoints unused for 30 days go; recently used ones stay', async () => {
  const checkout = (name: string, daysAgo: number) => {
    const dir = join(root, 'sources', 'u1', name);
    mkdirSync(join(dir, '.git'), { recursive: true });
    writeFileSync(join(dir, '.git', 'fnbuild-complete'), name);
    setAge(join(dir, '.git', 'fnbuild-complete'), daysAgo * 24 * HOUR);
    return dir;
  };
  const entrypoint = (name: string, daysAgo: number) => {
    const dir = join(root, 'entrypoints', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'overlay.json'), '{}');
    setAge(join(dir, 'overlay.json'), daysAgo * 24 * HOUR);
    return dir;
  };
  const [oldC, newC, oldE, newE] = [checkout('a'.repeat(40), 31), checkout('b'.repeat(40), 29), entrypoint('old', 31), entrypoint('new', 1)];
  await pruneStore(root, 1e12);
  expect([oldC, newC, oldE, newE].map(existsSync)).toEqual([false, true, false, true]);
});

describe('locks', () => {
  const lockFile = (key: string) => join(root, 'locks', key.slice(0, 2), key);
  const plant = (key: string, owner: Record<string, unknown>, secondsAgo: number) => {
    mkdirSync(join(root, 'locks', key.slice(0, 2)), { recursive: true });
    writeFileSync(lockFile(key), JSON.stringify({ start: null, host: hostname(), since: '', nonce: key.slice(0, 8), ...owner }));
    setAge(lockFile(key), secondsAgo);
  };

  test('a live lock is never pruned, however old; a dead owner’s lock and another host’s silent one go', async () => {
    const live = keyFor('live');
    const dead = keyFor('dead');
    const foreignFresh = keyFor('foreign fresh');
    const foreignSilent = keyFor('foreign silent');
    plant(live, { pid: process.pid }, 40 * 24 * HOUR);
    plant(dead, { pid: spawnSync(process.execPath, ['-e', '0']).pid }, 60);
    plant(foreignFresh, { pid: 1, host: `not-${hostname()}` }, 60);
    plant(foreignSilent, { pid: 1, host: `not-${hostname()}` }, 2 * 24 * HOUR);
    await pruneStore(root, 1e12);
    expect([live, dead, foreignFresh, foreignSilent].map((k) => existsSync(lockFile(k)))).toEqual([true, false, true, false]);
  });

  test('a lock held through lock.ts survives pruning and is released afterwards', async () => {
    const key = keyFor('held');
    const lock = await acquireLock(store.lockPath(key));
    await pruneStore(root, 0);
    expect(existsSync(store.lockPath(key))).toBe(true);
    await lock.release();
    expect(existsSync(store.lockPath(key))).toBe(false);
  });
});
