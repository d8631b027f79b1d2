import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../cache/store';
import { cachingRunner } from './caching';
import { limitingRunner } from './limiting';
import { directRunner, type Node, type Outcome, type Runner } from './node';
import type { NodeEvent } from './reporting';
import { buildRunner } from './runner';
import { singleFlightRunner } from './single-flight';

let root: string;
let store: Store;
beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'fnb-single-flight-'));
  store = await Store.open(root);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const K1 = '11'.repeat(32);
const K2 = '22'.repeat(32);

/** A promise with its resolve exposed: lets a test hold a node's run open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** A node that records when it runs, waits for `hold`, and writes out.txt. */
function node(key: string | undefined, log: string[], name: string, hold?: Promise<void>): Node<string> {
  return {
    kind: 'compile',
    id: `compile ${name}`,
    label: `compile ${name}`,
    ...(key ? { key: async () => key } : {}),
    async run(scratch) {
      log.push(`start ${name}`);
      await hold;
      log.push(`end ${name}`);
      const out = join(scratch, 'out.txt');
      writeFileSync(out, `by ${name}`);
      return { data: name, paths: { out } };
    },
  };
}

/** The production stack's order without the in-process dedupe: each call is like another process. */
const stack = (slots = 4, report?: (e: NodeEvent) => void): Runner =>
  singleFlightRunner(cachingRunner(limitingRunner(directRunner(store), slots), store), store, report);

const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
};

test('a miss runs under the key’s lock, held until the entry is recorded; a hit takes no lock at all', async () => {
  const log: string[] = [];
  const lockPath = store.lockPath(K1);
  let lockedDuringRun = false;
  const n = node(K1, log, 'a');
  const spy: Node<string> = {
    ...n,
    run: async (s) => {
      lockedDuringRun = existsSync(lockPath);
      return n.run(s);
    },
  };
  const miss = await stack().run(spy);
  expect([miss.cached, miss.data, lockedDuringRun, existsSync(lockPath)]).toEqual([false, 'a', true, false]);
  expect(await store.getAction(K1)).toMatchObject({ data: 'a' });

  rmSync(join(root, 'locks'), { recursive: true });
  const hit = await stack().run(node(K1, log, 'b'));
  expect([hit.cached, hit.data]).toEqual([true, 'a']);
  expect(existsSync(join(root, 'locks'))).toBe(false); // not even a lock directory: the hit never went near a lock
  expect(log).toEqual(['start a', 'end a']);
});

test('two builds wanting one key at once: the work runs once, the second waits, says so, and reports it cached', async () => {
  const log: string[] = [];
  const events: NodeEvent[] = [];
  const hold = gate();
  const first = stack().run(node(K1, log, 'a', hold.promise));
  await until(() => log.includes('start a'));
  const second = stack(4, (e) => events.push(e)).run(node(K1, log, 'b'));
  await new Promise((r) => setTimeout(r, 50));
  expect(log).toEqual(['start a']); // b is waiting, not running
  hold.open();
  const [a, b] = await Promise.all([first, second]);
  expect([a.cached, b.cached, b.data, b.files.out.digest]).toEqual([false, true, 'a', a.files.out.digest]);
  expect(log).toEqual(['start a', 'end a']);
  // Held by this same process, so no "waiting" line (it is for another process's work).
  expect(events).toEqual([]);
});

test('a waiter holds no concurrency slot: with one slot, other work runs while it waits', async () => {
  const log: string[] = [];
  const hold = gate();
  const elsewhere = stack().run(node(K1, log, 'held elsewhere', hold.promise));
  await until(() => log.includes('start held elsewhere'));
  const ours = stack(1);
  const waiting = ours.run(node(K1, log, 'waiter'));
  const other = await ours.run(node(K2, log, 'other'));
  expect(other.data).toBe('other');
  expect(log).toEqual(['start held elsewhere', 'start other', 'end other']);
  hold.open();
  expect((await waiting).cached).toBe(true);
  await elsewhere;
});

test('a keyed node that records nothing is still single-flighted: the runs follow each other, never overlap', async () => {
  const log: string[] = [];
  const hold = gate();
  const bare = () => singleFlightRunner(directRunner(store), store);
  const first = bare().run(node(K1, log, 'a', hold.promise));
  await until(() => log.includes('start a'));
  const second = bare().run(node(K1, log, 'b'));
  await new Promise((r) => setTimeout(r, 50));
  hold.open();
  await Promise.all([first, second]);
  expect(log).toEqual(['start a', 'end a', 'start b', 'end b']);
});

test('the holder fails: the lock is released and the waiter runs the work itself', async () => {
  const log: string[] = [];
  const hold = gate();
  const failing: Node<string> = {
    ...node(K1, log, 'a'),
    run: async () => {
      log.push('start a');
      await hold.promise;
      throw new Error('compile failed');
    },
  };
  const first = stack().run(failing);
  await until(() => log.includes('start a'));
  const second = stack().run(node(K1, log, 'b'));
  hold.open();
  await expect(first).rejects.toThrow('compile failed');
  expect(await second).toMatchObject({ cached: false, data: 'b' });
  expect(existsSync(store.lockPath(K1))).toBe(false);
});

test('nodes without a key pass straight through; an abort signal reaches the inner runner and stops a wait', async () => {
  const seen: (AbortSignal | undefined)[] = [];
  const inner = {
    async run<T>(n: Node<T>, signal?: AbortSignal): Promise<Outcome<T>> {
      seen.push(signal);
      return { data: (await n.run('')).data, files: {}, cached: false, ms: 0 };
    },
  };
  const ac = new AbortController();
  const sf = singleFlightRunner(inner, store) as { run<T>(n: Node<T>, s?: AbortSignal): Promise<Outcome<T>> };
  const log: string[] = [];
  const plain = { ...node(undefined, log, 'x'), run: async () => ({ data: 'x' }) };
  expect((await sf.run(plain, ac.signal)).data).toBe('x');
  expect(seen).toEqual([ac.signal]);
  expect(existsSync(join(root, 'locks'))).toBe(false);

  const hold = gate();
  const holder = stack().run(node(K2, log, 'holder', hold.promise));
  await until(() => log.includes('start holder'));
  const waiting = sf.run({ ...node(K2, log, 'aborted'), run: async () => ({ data: 'never' }) }, ac.signal);
  ac.abort(new Error('build cancelled'));
  await expect(waiting).rejects.toThrow('build cancelled');
  hold.open();
  await holder;
});

test('buildRunner has the single-flight in its stack: a held key makes a build wait, then report cached', async () => {
  const log: string[] = [];
  const events: NodeEvent[] = [];
  const hold = gate();
  const first = buildRunner(store, { parallelism: 2, report: () => {} }).run(node(K1, log, 'a', hold.promise));
  await until(() => log.includes('start a'));
  // Pretend the holder is another process: rewrite the lock's pid to a live one that is not us (our parent).
  const lockPath = store.lockPath(K1);
  const owner = JSON.parse(readFileSync(lockPath, 'utf8')) as { pid: number; start: string | null };
  writeFileSync(lockPath, JSON.stringify({ ...owner, pid: process.ppid, start: null }));
  const second = buildRunner(store, { parallelism: 2, report: (e) => events.push(e) }).run(node(K1, log, 'b'));
  await until(() => events.length > 0);
  expect(events).toEqual([{ state: 'waiting', kind: 'compile', label: 'compile b', holder: { pid: process.ppid, host: expect.any(String) } }]);
  hold.open();
  await first;
  // The first's release left the rewritten file alone (not ours any more): the waiter stays put until it goes.
  expect(existsSync(lockPath)).toBe(true);
  rmSync(lockPath);
  expect(await second).toMatchObject({ cached: true, data: 'a' });
  expect(events.map((e) => e.state)).toEqual(['waiting', 'done']);
});
