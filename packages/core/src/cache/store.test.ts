import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachingRunner } from '../graph/caching';
import { directRunner, type Node } from '../graph/node';
import type { Digest } from '../util/hash';
import { Store } from './store';

const digestOf = (data: string | Buffer): Digest => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const KEY = 'a1'.repeat(32);
const OUTPUT = 'binary bytes: 0123456789abcdef';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'fnb-store-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const entryPath = (key: string) => join(root, 'ac', key.slice(0, 2), key);
const blobPath = (digest: Digest) => join(root, 'cas', 'sha256', digest.slice(7));

/** A keyed node that writes OUTPUT to a file; counts its runs. */
function outputNode(key = KEY, content = OUTPUT) {
  const node: Node<{ n: number }> & { runs: number } = {
    kind: 'compile',
    id: `compile ${key}`,
    label: 'compile test',
    runs: 0,
    key: async () => key,
    async run(scratch) {
      node.runs++;
      const out = join(scratch, 'out.bin');
      writeFileSync(out, content);
      return { data: { n: 42 }, paths: { binary: out } };
    },
  };
  return node;
}

/** One "build": a fresh Store on the same root (as the next process would open it), closed afterwards. */
async function build<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await Store.open(root);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

const runCached = (node: Node<{ n: number }>) => build((store) => cachingRunner(directRunner(store), store).run(node));

describe('Store blobs', () => {
  test('putFile copies a file to cas/sha256/<hex>, read-only, and keeps the source', async () => {
    const src = join(root, 'src.bin');
    writeFileSync(src, 'abc');
    const ref = await build((s) => s.putFile(src, { move: false }));
    expect(ref).toEqual({ digest: digestOf('abc'), size: 3, path: blobPath(digestOf('abc')) });
    expect(readFileSync(ref.path, 'utf8')).toBe('abc');
    expect(statSync(ref.path).mode & 0o777).toBe(0o444);
    expect(existsSync(src)).toBe(true);
  });

  test('putFile with move takes the source away, also when the blob is already stored', async () => {
    const a = join(root, 'a.bin');
    const b = join(root, 'b.bin');
    writeFileSync(a, 'same');
    writeFileSync(b, 'same');
    await build(async (s) => {
      const r1 = await s.putFile(a, { move: true });
      const r2 = await s.putFile(b, { move: true });
      expect(r2).toEqual(r1);
    });
    expect(existsSync(a)).toBe(false);
    expect(existsSync(b)).toBe(false);
    expect(readdirSync(join(root, 'cas', 'sha256'))).toEqual([digestOf('same').slice(7)]);
  });

  test('putBytes stores bytes under their digest; hasBlob checks presence', async () => {
    const bytes = Buffer.from('layer');
    await build(async (s) => {
      expect(await s.hasBlob(digestOf(bytes))).toBe(false);
      const ref = await s.putBytes(bytes, digestOf(bytes));
      expect(ref).toEqual({ digest: digestOf(bytes), size: 5, path: blobPath(digestOf(bytes)) });
      expect(await s.hasBlob(digestOf(bytes))).toBe(true);
    });
    expect(readFileSync(blobPath(digestOf(bytes)), 'utf8')).toBe('layer');
  });

  test('hasBlob deletes a blob whose bytes do not match its name', async () => {
    const wrong = digestOf('expected');
    mkdirSync(join(root, 'cas', 'sha256'), { recursive: true });
    writeFileSync(blobPath(wrong), 'something else');
    expect(await build((s) => s.hasBlob(wrong))).toBe(false);
    expect(existsSync(blobPath(wrong))).toBe(false);
  });
});

describe('Store action entries', () => {
  test('putAction then getAction returns the data, the files and verified blob paths', async () => {
    await runCached(outputNode());
    const hit = await build((s) => s.getAction<{ n: number }>(KEY));
    expect(hit).toEqual({
      kind: 'compile',
      data: { n: 42 },
      files: { binary: { digest: digestOf(OUTPUT), size: OUTPUT.length } },
      blobs: { binary: { digest: digestOf(OUTPUT), size: OUTPUT.length, path: blobPath(digestOf(OUTPUT)) } },
    });
  });

  test('an unknown key is a miss', async () => {
    expect(await build((s) => s.getAction('b2'.repeat(32)))).toBeUndefined();
  });

  test('an entry with no files round-trips', async () => {
    await build((s) => s.putAction(KEY, { kind: 'modules', data: { modules: [], vendored: false }, files: {} }));
    expect(await build((s) => s.getAction(KEY))).toEqual({ kind: 'modules', data: { modules: [], vendored: false }, files: {}, blobs: {} });
  });
});

describe('Store integrity: a corrupt cache is a miss, never a wrong result, and heals on the next run', () => {
  /** Seeds the entry, applies the damage, checks the miss, then re-runs through the caching runner. */
  async function damageThenHeal(damage: () => void, after: { blobGone?: boolean; entryGone?: boolean } = {}) {
    const first = outputNode();
    expect((await runCached(first)).cached).toBe(false);
    expect(first.runs).toBe(1);
    // A whole-second mtime, so a damage step can put it back exactly.
    utimesSync(blobPath(digestOf(OUTPUT)), BLOB_MTIME, BLOB_MTIME);
    expect(await build((s) => s.getAction(KEY))).toBeDefined();
    ageStatMemo();

    damage();
    expect(await build((s) => s.getAction(KEY))).toBeUndefined();
    if (after.blobGone) expect(existsSync(blobPath(digestOf(OUTPUT)))).toBe(false);
    if (after.entryGone) expect(existsSync(entryPath(KEY))).toBe(false);

    const again = outputNode();
    const outcome = await runCached(again);
    expect(again.runs).toBe(1);
    expect(outcome.cached).toBe(false);
    expect(outcome.data).toEqual({ n: 42 });

    const healed = await build((s) => s.getAction<{ n: number }>(KEY));
    expect(healed?.data).toEqual({ n: 42 });
    expect(readFileSync(healed!.blobs.binary.path, 'utf8')).toBe(OUTPUT);

    const third = outputNode();
    expect((await runCached(third)).cached).toBe(true);
    expect(third.runs).toBe(0);
  }

  const writable = (p: string) => chmodSync(p, 0o644);
  const BLOB_MTIME = Math.floor(Date.now() / 1000) - 100;

  /**
   * As if the next build ran 10 s later: the stat memo now trusts what it recorded (past
   * the racy window), so the damage must be caught by comparing the stat, not by luck.
   */
  function ageStatMemo() {
    const file = join(root, 'stat-memo.json');
    const memo = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { hashedAtMs: number }>;
    expect(Object.keys(memo)).toContain(blobPath(digestOf(OUTPUT)));
    for (const e of Object.values(memo)) e.hashedAtMs += 10_000;
    writeFileSync(file, JSON.stringify(memo));
  }

  test('truncated blob', async () => {
    await damageThenHeal(
      () => {
        const p = blobPath(digestOf(OUTPUT));
        writable(p);
        truncateSync(p, 5);
      },
      { blobGone: true },
    );
  });

  test('one flipped byte in a blob (same size)', async () => {
    await damageThenHeal(
      () => {
        const p = blobPath(digestOf(OUTPUT));
        const bytes = readFileSync(p);
        bytes[3] ^= 0x01;
        writable(p);
        writeFileSync(p, bytes);
      },
      { blobGone: true },
    );
  });

  test('flipped byte with the mtime put back (only ctime tells)', async () => {
    await damageThenHeal(
      () => {
        const p = blobPath(digestOf(OUTPUT));
        const bytes = readFileSync(p);
        bytes[0] ^= 0x20;
        writable(p);
        writeFileSync(p, bytes); // same inode, same size
        utimesSync(p, BLOB_MTIME, BLOB_MTIME); // same mtime, to the nanosecond
      },
      { blobGone: true },
    );
  });

  test('entry file that is not JSON (torn write)', async () => {
    await damageThenHeal(() => {
      const p = entryPath(KEY);
      writeFileSync(p, readFileSync(p, 'utf8').slice(0, 20));
    });
  });

  test('hand-edited entry (valid JSON, data changed, checksum not)', async () => {
    await damageThenHeal(
      () => {
        const p = entryPath(KEY);
        const entry = JSON.parse(readFileSync(p, 'utf8'));
        entry.data.n = 43;
        writeFileSync(p, JSON.stringify(entry));
      },
      { entryGone: true },
    );
  });

  test('hand-edited entry pointing at another blob', async () => {
    await damageThenHeal(
      () => {
        const p = entryPath(KEY);
        const entry = JSON.parse(readFileSync(p, 'utf8'));
        entry.files.binary.digest = digestOf('other');
        writeFileSync(p, JSON.stringify(entry));
      },
      { entryGone: true },
    );
  });

  test('entry copied to another key (its key field does not match its name)', async () => {
    const other = 'c3'.repeat(32);
    await runCached(outputNode());
    mkdirSync(join(root, 'ac', 'c3'), { recursive: true });
    writeFileSync(entryPath(other), readFileSync(entryPath(KEY)));
    expect(await build((s) => s.getAction(other))).toBeUndefined();
    expect(existsSync(entryPath(other))).toBe(false);
  });

  test('entry of a future format version', async () => {
    await damageThenHeal(
      () => {
        const p = entryPath(KEY);
        const entry = JSON.parse(readFileSync(p, 'utf8'));
        entry.v = 2;
        writeFileSync(p, JSON.stringify(entry));
      },
      { entryGone: true },
    );
  });

  test('entry naming a blob that is gone', async () => {
    await damageThenHeal(() => rmSync(blobPath(digestOf(OUTPUT))));
  });

  test('entry that is valid JSON but not an object', async () => {
    await damageThenHeal(() => writeFileSync(entryPath(KEY), 'null'));
  });
});

describe('Store atomicity', () => {
  const tmpNames = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.tmp') || n.startsWith('.'));

  test('after a put, ac/ and cas/ hold only final names', async () => {
    await runCached(outputNode());
    await runCached(outputNode('d4'.repeat(32), 'second output'));
    expect(readdirSync(join(root, 'ac')).sort()).toEqual([KEY.slice(0, 2), 'd4']);
    expect(readdirSync(join(root, 'ac', KEY.slice(0, 2)))).toEqual([KEY]);
    expect(readdirSync(join(root, 'ac', 'd4'))).toEqual(['d4'.repeat(32)]);
    expect(readdirSync(join(root, 'cas', 'sha256')).sort()).toEqual([digestOf(OUTPUT).slice(7), digestOf('second output').slice(7)].sort());
    expect(readdirSync(join(root, 'tmp'))).toEqual([]); // node scratch directories are removed too
  });

  test('a failed putAction leaves no temp file behind and no entry', async () => {
    // A non-empty directory where the entry should go makes the final rename fail.
    mkdirSync(join(entryPath(KEY), 'blocker'), { recursive: true });
    await expect(build((s) => s.putAction(KEY, { kind: 'k', data: 1, files: {} }))).rejects.toThrow();
    expect(readdirSync(join(root, 'ac', KEY.slice(0, 2)))).toEqual([KEY]);
    expect(tmpNames(join(root, 'ac', KEY.slice(0, 2)))).toEqual([]);
  });

  test('a failed putFile leaves no temp file in cas/', async () => {
    const src = join(root, 'src.bin');
    writeFileSync(src, 'payload');
    mkdirSync(join(blobPath(digestOf('payload')), 'blocker'), { recursive: true });
    await expect(build((s) => s.putFile(src, { move: false }))).rejects.toThrow();
    expect(readdirSync(join(root, 'cas', 'sha256'))).toEqual([digestOf('payload').slice(7)]);
  });

  test('a reader racing a writer of one key only ever sees a whole entry', async () => {
    const big = 'x'.repeat(256 * 1024); // large enough that a non-atomic write would be observed half-done
    const writerStore = await Store.open(root);
    const readerStore = await Store.open(root);
    await writerStore.putAction(KEY, { kind: 'k', data: { v: 0, big }, files: {} });
    let writing = true;
    const writes = (async () => {
      for (let i = 1; i <= 150; i++) await writerStore.putAction(KEY, { kind: 'k', data: { v: i, big }, files: {} });
      writing = false;
    })();
    const seen: (number | undefined)[] = [];
    const reads = (async () => {
      while (writing) {
        const hit = await readerStore.getAction<{ v: number; big: string }>(KEY);
        seen.push(hit && hit.data.big === big ? hit.data.v : undefined);
      }
    })();
    await Promise.all([writes, reads]);
    expect(seen.length).toBeGreaterThan(10);
    expect(seen.filter((v) => v === undefined).length).toBe(0); // (toEqual([]) would accept [undefined, ...])
    expect(tmpNames(join(root, 'ac', KEY.slice(0, 2)))).toEqual([]);
    expect((await readerStore.getAction<{ v: number }>(KEY))?.data.v).toBe(150);
  });

  test('two stores (two processes) publishing the same output at once both succeed', async () => {
    const [a, b] = await Promise.all([Store.open(root), Store.open(root)]);
    const [oa, ob] = await Promise.all([cachingRunner(directRunner(a), a).run(outputNode()), cachingRunner(directRunner(b), b).run(outputNode())]);
    expect(oa.files.binary.digest).toBe(digestOf(OUTPUT));
    expect(ob.files.binary.digest).toBe(digestOf(OUTPUT));
    expect(readdirSync(join(root, 'cas', 'sha256'))).toEqual([digestOf(OUTPUT).slice(7)]);
    expect((await build((s) => s.getAction<{ n: number }>(KEY)))?.data).toEqual({ n: 42 });
  });
});

describe('Store LRU marks and memos', () => {
  test('a hit on an entry last used over an hour ago marks it used now', async () => {
    await runCached(outputNode());
    const twoHoursAgo = Date.now() / 1000 - 7200;
    utimesSync(entryPath(KEY), twoHoursAgo, twoHoursAgo);
    const before = Date.now();
    await build((s) => s.getAction(KEY));
    expect(statSync(entryPath(KEY)).mtimeMs).toBeGreaterThanOrEqual(before - 1000);
  });

  test('a hit on an entry used within the hour does not write to it', async () => {
    await runCached(outputNode());
    const tenMinutesAgo = Math.floor(Date.now() / 1000) - 600;
    utimesSync(entryPath(KEY), tenMinutesAgo, tenMinutesAgo);
    await build((s) => s.getAction(KEY));
    expect(Math.round(statSync(entryPath(KEY)).mtimeMs / 1000)).toBe(tenMinutesAgo);
  });

  test('putMemo/getMemo round-trip; a missing or torn memo reads as undefined', async () => {
    const key = 'e5'.repeat(32);
    await build((s) => s.putMemo(key, { value: [1, 'two'] }));
    expect(await build((s) => s.getMemo(key))).toEqual({ value: [1, 'two'] });
    writeFileSync(join(root, 'memo', 'e5', key), '{"value":[1,');
    expect(await build((s) => s.getMemo(key))).toBeUndefined();
    expect(await build((s) => s.getMemo('f6'.repeat(32)))).toBeUndefined();
  });

  test('tempDir gives a fresh private folder under tmp/ with a sanitized label', async () => {
    const [a, b] = await build((s) => Promise.all([s.tempDir('compile server linux/arm64'), s.tempDir('compile server linux/arm64')]));
    expect(a).not.toBe(b);
    expect(a.startsWith(join(root, 'tmp', 'compile_server_linux_arm64-'))).toBe(true);
    expect(statSync(a).isDirectory()).toBe(true);
  });
});
