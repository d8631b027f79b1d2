import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../cache/store';
import { directRunner, type Node } from './node';
import { buildRunner } from './runner';

let root: string;
let store: Store;
beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'fnb-runner-'));
  store = await Store.open(root);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('directRunner', () => {
  test('runs in a private scratch folder under the store, publishes named files, removes the scratch', async () => {
    let scratchSeen = '';
    const n: Node<number> = {
      kind: 'compile',
      id: 'c',
      label: 'c',
      async run(scratch) {
        scratchSeen = scratch;
        writeFileSync(join(scratch, 'bin'), 'ELF...');
        writeFileSync(join(scratch, 'unnamed'), 'left behind');
        return { data: 7, paths: { binary: join(scratch, 'bin') } };
      },
    };
    const out = await directRunner(store).run(n);
    expect(scratchSeen.startsWith(join(root, 'tmp', 'compile-'))).toBe(true);
    expect(existsSync(scratchSeen)).toBe(false);
    expect(out.data).toBe(7);
    expect(out.cached).toBe(false);
    expect(Object.keys(out.files)).toEqual(['binary']);
    expect(out.files.binary.size).toBe(6);
    expect(readFileSync(out.files.binary.path, 'utf8')).toBe('ELF...');
    expect(out.files.binary.path.startsWith(join(root, 'cas', 'sha256'))).toBe(true);
  });

  test('removes the scratch folder when the node fails', async () => {
    const n: Node<number> = {
      kind: 'compile',
      id: 'c',
      label: 'c',
      async run(scratch) {
        writeFileSync(join(scratch, 'partial'), 'x');
        throw new Error('go build failed');
      },
    };
    await expect(directRunner(store).run(n)).rejects.toThrow('go build failed');
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });
});

describe('buildRunner', () => {
  test('only real work is bounded: a cache hit does not wait behind a running node', async () => {
    const hitKey = '55'.repeat(32);
    await store.putAction(hitKey, { kind: 'compile', data: 'from cache', files: {} });
    const runner = buildRunner(store, { parallelism: 1, report: () => {} });
    const order: string[] = [];
    const slow: Node<string> = {
      kind: 'compile',
      id: 'slow',
      label: 'slow',
      key: async () => '66'.repeat(32),
      async run() {
        await sleep(500);
        order.push('slow done');
        return { data: 'slow' };
      },
    };
    const cachedNode: Node<string> = { kind: 'compile', id: 'hit', label: 'hit', key: async () => hitKey, run: jest.fn() };
    const pSlow = runner.run(slow);
    await sleep(10);
    const hit = await runner.run(cachedNode).then((o) => {
      order.push('hit done');
      return o;
    });
    await pSlow;
    expect(order).toEqual(['hit done', 'slow done']);
    expect(hit).toMatchObject({ cached: true, data: 'from cache' });
    expect(cachedNode.run).not.toHaveBeenCalled();
  });

  test('uncached work never exceeds the parallelism', async () => {
    let active = 0;
    let max = 0;
    const runner = buildRunner(store, { parallelism: 2, report: () => {} });
    const nodes = Array.from(
      { length: 8 },
      (_, i): Node<number> => ({
        kind: 'compile',
        id: `n${i}`,
        label: `n${i}`,
        key: async () => String(i).padStart(64, '0'),
        async run() {
          active++;
          max = Math.max(max, active);
          await sleep(10 + (i % 3) * 7);
          active--;
          return { data: i };
        },
      }),
    );
    const out = await Promise.all(nodes.map((n) => runner.run(n)));
    expect(out.map((o) => o.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(max).toBe(2);
  });
});

describe('the build signal', () => {
  const waiting = (id: string, gate: Promise<void>, seen: (AbortSignal | undefined)[]): Node<string> => ({
    kind: 'test',
    id,
    label: id,
    async run(_scratch, signal) {
      seen.push(signal);
      await gate;
      return { data: id };
    },
  });

  test('reaches the running node, stops the ones waiting for a slot, and starts none after', async () => {
    const controller = new AbortController();
    const runner = buildRunner(store, { parallelism: 1, report: () => {}, signal: controller.signal });
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const seen: (AbortSignal | undefined)[] = [];
    const running = runner.run(waiting('a', gate, seen));
    const queued = runner.run(waiting('b', gate, seen));
    await sleep(5);
    expect(seen).toEqual([controller.signal]); // a runs with the build's signal; b waits for the slot
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(queued).rejects.toBe(reason);
    open(); // a node that ignores its signal still finishes; its slot goes to nobody
    await expect(running).resolves.toMatchObject({ data: 'a' });
    await expect(runner.run(waiting('c', gate, seen))).rejects.toBe(reason);
    expect(seen).toHaveLength(1);
  });
});

describe("before: a node's prerequisites", () => {
  const K = 'ab'.repeat(32);
  const leaf = (id: string, ran: string[]): Node<string> => ({
    kind: 'test',
    id,
    label: id,
    key: async () => `${K.slice(0, 62)}${id.padStart(2, '0')}`,
    run: async () => {
      ran.push(id);
      return { data: id };
    },
  });

  test('run before the node only when it has to run, through the same runner, without holding its slot', async () => {
    // One slot: were the prerequisite awaited inside the node's slot, this would never finish.
    const runner = buildRunner(store, { parallelism: 1, report: () => {} });
    const ran: string[] = [];
    const node = (id: string): Node<string> => ({ ...leaf(id, ran), before: () => runner.run(leaf('p1', ran)) });
    expect((await runner.run(node('n1'))).data).toBe('n1');
    expect(ran).toEqual(['p1', 'n1']);
    // A cache hit needs none of its prerequisites: a fresh build (fresh runner) of the same node runs nothing.
    const again = buildRunner(store, { parallelism: 1, report: () => {} });
    const hit = await again.run({ ...leaf('n1', ran), before: () => again.run(leaf('p2', ran)) });
    expect(hit.cached).toBe(true);
    expect(ran).toEqual(['p1', 'n1']);
  });
});
