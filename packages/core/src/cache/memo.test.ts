import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snapshotDir, validatedMemo } from './memo';
import { StatMemo } from './stat-memo';
import { Store } from './store';

const KEY = '7a'.repeat(32);

let base: string;
let cache: string;
let src: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'fnb-memo-'));
  cache = join(base, 'cache');
  src = join(base, 'src');
  mkdirSync(join(src, 'pkg'), { recursive: true });
  writeFileSync(join(src, 'pkg', 'a.go'), 'package pkg // a');
  writeFileSync(join(src, 'pkg', 'b.go'), 'package pkg // b');
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

/**
 * One "build": opens the store as a new process would, asks for the memo, closes the
 * store. Returns what validatedMemo answered and how many times compute ran.
 */
async function ask(dirs: string[] = [join(src, 'pkg')], key = KEY) {
  const store = await Store.open(cache);
  let computed = 0;
  try {
    const r = await validatedMemo(store, key, async () => {
      computed++;
      return { value: { listed: computed }, dirs };
    });
    return { ...r, computed };
  } finally {
    await store.close();
  }
}

describe('validatedMemo', () => {
  test('computes once, then reuses while the folders are unchanged', async () => {
    expect(await ask()).toEqual({ value: { listed: 1 }, reused: false, computed: 1 });
    expect(await ask()).toEqual({ value: { listed: 1 }, reused: true, computed: 0 });
    expect(await ask()).toEqual({ value: { listed: 1 }, reused: true, computed: 0 });
  });

  test.each<[string, () => void]>([
    ['a file edited (same size)', () => writeFileSync(join(src, 'pkg', 'a.go'), 'package pkg // A')],
    ['a file added', () => writeFileSync(join(src, 'pkg', 'c.go'), 'package pkg')],
    ['a file removed', () => rmSync(join(src, 'pkg', 'b.go'))],
    ['a file renamed', () => renameSync(join(src, 'pkg', 'b.go'), join(src, 'pkg', 'b2.go'))],
    ['a sub-folder added', () => mkdirSync(join(src, 'pkg', 'sub'))],
  ])('recomputes when %s', async (_what, change) => {
    await ask();
    change();
    expect(await ask()).toEqual({ value: { listed: 1 }, reused: false, computed: 1 });
    expect(await ask()).toMatchObject({ reused: true, computed: 0 }); // and the new state is remembered
  });

  test('a folder that did not exist is part of the state: creating it recomputes', async () => {
    const later = join(src, 'later');
    await ask([join(src, 'pkg'), later]);
    expect(await ask([join(src, 'pkg'), later])).toMatchObject({ reused: true });
    mkdirSync(later);
    writeFileSync(join(later, 'x.go'), 'package later');
    expect(await ask([join(src, 'pkg'), later])).toMatchObject({ reused: false, computed: 1 });
  });

  test('a change in a folder that is not watched does not recompute', async () => {
    await ask();
    mkdirSync(join(src, 'other'));
    writeFileSync(join(src, 'other', 'x.go'), 'package other');
    writeFileSync(join(src, 'README'), 'not watched');
    expect(await ask()).toMatchObject({ reused: true, computed: 0 });
  });

  test('another key computes on its own', async () => {
    await ask();
    expect(await ask(undefined, '8b'.repeat(32))).toMatchObject({ reused: false, computed: 1 });
  });

  test('a torn or foreign memo file is recomputed, not trusted', async () => {
    await ask();
    const file = join(cache, 'memo', KEY.slice(0, 2), KEY);
    writeFileSync(file, '{"value":{"listed":99},"snap');
    expect(await ask()).toMatchObject({ value: { listed: 1 }, reused: false });
    writeFileSync(file, JSON.stringify({ value: { listed: 99 } })); // no snapshots
    expect(await ask()).toMatchObject({ value: { listed: 1 }, reused: false });
  });
});

describe('snapshotDir', () => {
  test('lists entries sorted, with file digests and "dir" for folders; a missing folder is empty', async () => {
    mkdirSync(join(src, 'pkg', 'zsub'));
    const memo = StatMemo.inMemory();
    const s = await snapshotDir(join(src, 'pkg'), memo);
    expect(s.dir).toBe(join(src, 'pkg'));
    expect(s.entries.map(([n]) => n)).toEqual(['a.go', 'b.go', 'zsub']);
    expect(s.entries[0][1]).toBe((await memo.digest(join(src, 'pkg', 'a.go')))!.digest);
    expect(s.entries[2][1]).toBe('dir');
    expect(await snapshotDir(join(src, 'nope'), memo)).toEqual({ dir: join(src, 'nope'), entries: [] });
  });
});
