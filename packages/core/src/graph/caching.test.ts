import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../cache/store';
import { cachingRunner } from './caching';
import { directRunner, type Node } from './node';

const digestOf = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

let root: string;
let store: Store;
beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'fnb-caching-'));
  store = await Store.open(root);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A node with a run spy: writes `content` to out.txt and returns `data`. */
function fileNode(key: string | undefined, content: string, data: unknown = { content }) {
  const run = jest.fn(async (scratch: string) => {
    const out = join(scratch, 'out.txt');
    writeFileSync(out, content);
    return { data, paths: { out } };
  });
  const node: Node<unknown> = { kind: 'compile', id: `n ${key}`, label: 'compile x', run, ...(key ? { key: async () => key } : {}) };
  return { node, run };
}

const K1 = '11'.repeat(32);
const K2 = '22'.repeat(32);

describe('cachingRunner', () => {
  test('miss: runs the node, publishes its files, records the entry; hit: returns it without running', async () => {
    const runner = cachingRunner(directRunner(store), store);
    const first = fileNode(K1, 'built once');
    const miss = await runner.run(first.node);
    expect(first.run).toHaveBeenCalledTimes(1);
    expect(miss.cached).toBe(false);
    expect(miss.data).toEqual({ content: 'built once' });
    expect(miss.files.out).toEqual({ digest: digestOf('built once'), size: 10, path: join(root, 'cas', 'sha256', digestOf('built once').slice(7)) });

    const second = fileNode(K1, 'would be different', { content: 'would be different' });
    const hit = await runner.run(second.node);
    expect(second.run).not.toHaveBeenCalled();
    expect(hit.cached).toBe(true);
    expect(hit.data).toEqual({ content: 'built once' });
    expect(hit.files).toEqual(miss.files);
    expect(readFileSync(hit.files.out.path, 'utf8')).toBe('built once');
    expect(hit.ms).toBeGreaterThanOrEqual(0);
  });

  test('a hit survives the process: a new store on the same folder answers it', async () => {
    await cachingRunner(directRunner(store), store).run(fileNode(K1, 'persisted').node);
    await store.close();
    const reopened = await Store.open(root);
    const again = fileNode(K1, 'x');
    const hit = await cachingRunner(directRunner(reopened), reopened).run(again.node);
    expect(again.run).not.toHaveBeenCalled();
    expect(hit).toMatchObject({ cached: true, data: { content: 'persisted' } });
  });

  test('another key runs', async () => {
    const runner = cachingRunner(directRunner(store), store);
    await runner.run(fileNode(K1, 'one').node);
    const other = fileNode(K2, 'two');
    const out = await runner.run(other.node);
    expect(other.run).toHaveBeenCalledTimes(1);
    expect(out.cached).toBe(false);
    expect(out.data).toEqual({ content: 'two' });
  });

  test('a node without a key is never cached and writes no entry', async () => {
    const runner = cachingRunner(directRunner(store), store);
    const a = fileNode(undefined, 'side effect');
    await runner.run(a.node);
    await runner.run(a.node);
    expect(a.run).toHaveBeenCalledTimes(2);
    expect(existsSync(join(root, 'ac'))).toBe(false);
  });

  test('a failure is not cached: the next run tries again', async () => {
    const runner = cachingRunner(directRunner(store), store);
    const failing: Node<unknown> = {
      kind: 'compile',
      id: 'f',
      label: 'f',
      key: async () => K1,
      run: jest.fn(async () => {
        throw new Error('compile error');
      }),
    };
    await expect(runner.run(failing)).rejects.toThrow('compile error');
    await expect(runner.run(failing)).rejects.toThrow('compile error');
    expect(failing.run).toHaveBeenCalledTimes(2);
    expect(await store.getAction(K1)).toBeUndefined();
  });

  test('a key that fails to compute fails the node without running it', async () => {
    const runner = cachingRunner(directRunner(store), store);
    const run = jest.fn();
    const n: Node<unknown> = { kind: 'compile', id: 'k', label: 'k', key: () => Promise.reject(new Error('go list failed')), run };
    await expect(runner.run(n)).rejects.toThrow('go list failed');
    expect(run).not.toHaveBeenCalled();
  });

  test('the entry records the node kind, data and file digests only (no scratch paths)', async () => {
    await cachingRunner(directRunner(store), store).run(fileNode(K1, 'abc').node);
    const dir = join(root, 'ac', K1.slice(0, 2));
    expect(readdirSync(dir)).toEqual([K1]);
    const raw = JSON.parse(readFileSync(join(dir, K1), 'utf8'));
    expect(raw).toEqual({
      v: 1,
      key: K1,
      kind: 'compile',
      data: { content: 'abc' },
      files: { out: { digest: digestOf('abc'), size: 3 } },
      sum: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });
});
