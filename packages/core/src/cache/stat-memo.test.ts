import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatMemo } from './stat-memo';

const digestOf = (data: string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const FAKE = `sha256:${'f'.repeat(64)}`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fnb-statmemo-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A memo file holding one hand-made entry for `path` that matches its current stat exactly. */
function memoFileWithEntry(path: string, digest: string, hashedAtMs: number): string {
  const st = statSync(path, { bigint: true });
  const file = join(dir, 'memo.json');
  writeFileSync(
    file,
    JSON.stringify({
      [path]: { size: Number(st.size), mtimeNs: st.mtimeNs.toString(), ctimeNs: st.ctimeNs.toString(), ino: Number(st.ino), digest, hashedAtMs },
    }),
  );
  return file;
}

describe('StatMemo', () => {
  test('digest and size of a regular file; undefined for a missing path, a directory, or a path under a file', async () => {
    const f = join(dir, 'a.txt');
    writeFileSync(f, 'hello');
    mkdirSync(join(dir, 'sub'));
    const memo = StatMemo.inMemory();
    expect(await memo.digest(f)).toEqual({ digest: digestOf('hello'), size: 5 });
    expect(await memo.digest(join(dir, 'missing'))).toBeUndefined();
    expect(await memo.digest(join(dir, 'sub'))).toBeUndefined();
    expect(await memo.digest(join(f, 'below-a-file'))).toBeUndefined();
  });

  test('follows a symlink to the file it names', async () => {
    writeFileSync(join(dir, 'target'), 'pointed-at');
    symlinkSync(join(dir, 'target'), join(dir, 'link'));
    expect(await StatMemo.inMemory().digest(join(dir, 'link'))).toEqual({ digest: digestOf('pointed-at'), size: 10 });
  });

  test('racy-clean: a same-size rewrite right after hashing is seen by the next build', async () => {
    const f = join(dir, 'main.go');
    const memoFile = join(dir, 'memo.json');
    writeFileSync(f, 'package main // v1');
    const first = await StatMemo.load(memoFile);
    expect(await first.digest(f)).toEqual({ digest: digestOf('package main // v1'), size: 18 });
    await first.save();

    writeFileSync(f, 'package main // v2'); // same size, same second
    const second = await StatMemo.load(memoFile);
    expect(await second.digest(f)).toEqual({ digest: digestOf('package main // v2'), size: 18 });
  });

  test("racy-clean: an entry recorded within 2 s of the file's mtime is not trusted even when the stat matches exactly", async () => {
    const f = join(dir, 'racy.go');
    writeFileSync(f, 'real content');
    const mtimeMs = Number(statSync(f, { bigint: true }).mtimeNs / 1_000_000n);
    // Stat identical to now, but hashed only 500 ms after the last write: the file could have changed within that tick.
    const memo = await StatMemo.load(memoFileWithEntry(f, FAKE, mtimeMs + 500));
    expect(await memo.digest(f)).toEqual({ digest: digestOf('real content'), size: 12 });
  });

  test('an entry recorded well after the file went quiet is trusted: the file is not re-read', async () => {
    const f = join(dir, 'quiet.go');
    writeFileSync(f, 'real content');
    const old = Date.now() / 1000 - 3600;
    utimesSync(f, old, old); // mtime an hour ago (ctime is now: the entry must be hashed after both)
    const st = statSync(f, { bigint: true });
    // biome-ignore lint/complexity/useMathMinMax: the operands are bigints, which Math.max does not take
    const newest = Number((st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs) / 1_000_000n);
    const memo = await StatMemo.load(memoFileWithEntry(f, FAKE, newest + 5000));
    // The memo answers from the entry, which proves no read happened (the content hashes differently).
    expect(await memo.digest(f)).toEqual({ digest: FAKE, size: 12 });
  });

  test('a trusted entry is dropped as soon as size, mtime or inode differ', async () => {
    const f = join(dir, 'x.go');
    writeFileSync(f, 'aaaa');
    const file = memoFileWithEntry(f, FAKE, Date.now() + 60_000);
    // Replace the file (new inode, new size): the memo must hash again.
    rmSync(f);
    writeFileSync(f, 'bbbbbb');
    const memo = await StatMemo.load(file);
    expect(await memo.digest(f)).toEqual({ digest: digestOf('bbbbbb'), size: 6 });
  });

  test('within one memo, concurrent requests for a path share one computation; invalidate forgets it', async () => {
    const f = join(dir, 'y.go');
    writeFileSync(f, 'one');
    const memo = StatMemo.inMemory();
    const [a, b] = [memo.digest(f), memo.digest(f)];
    expect(a).toBe(b);
    expect(await a).toEqual({ digest: digestOf('one'), size: 3 });
    writeFileSync(f, 'two!');
    memo.invalidate(f);
    expect(await memo.digest(f)).toEqual({ digest: digestOf('two!'), size: 4 });
  });

  test('save writes the entries and a reload answers from them; an unchanged memo is not rewritten', async () => {
    const f = join(dir, 'z.go');
    writeFileSync(f, 'zzz');
    const memoFile = join(dir, 'memo.json');
    const memo = await StatMemo.load(memoFile);
    await memo.digest(f);
    await memo.save();
    const saved = JSON.parse(readFileSync(memoFile, 'utf8')) as Record<string, { digest: string; size: number }>;
    expect(Object.keys(saved)).toEqual([f]);
    expect(saved[f]).toMatchObject({ digest: digestOf('zzz'), size: 3 });

    writeFileSync(memoFile, 'sentinel');
    await memo.save(); // nothing new: not dirty, must not write
    expect(readFileSync(memoFile, 'utf8')).toBe('sentinel');
  });

  test('a torn memo file loads as empty instead of failing the build', async () => {
    const memoFile = join(dir, 'memo.json');
    writeFileSync(memoFile, '{"half":');
    const f = join(dir, 'w.go');
    writeFileSync(f, 'w');
    const memo = await StatMemo.load(memoFile);
    expect(await memo.digest(f)).toEqual({ digest: digestOf('w'), size: 1 });
  });

  test('entries hashed more than 30 days ago are forgotten on save', async () => {
    const f = join(dir, 'old.go');
    const g = join(dir, 'new.go');
    writeFileSync(f, 'old');
    writeFileSync(g, 'new');
    const stf = statSync(f, { bigint: true });
    const memoFile = join(dir, 'memo.json');
    writeFileSync(
      memoFile,
      JSON.stringify({
        [f]: {
          size: 3,
          mtimeNs: stf.mtimeNs.toString(),
          ctimeNs: stf.ctimeNs.toString(),
          ino: Number(stf.ino),
          digest: FAKE,
          hashedAtMs: Date.now() - 31 * 24 * 3600 * 1000,
        },
      }),
    );
    const memo = await StatMemo.load(memoFile);
    await memo.digest(g); // makes the memo dirty
    await memo.save();
    expect(Object.keys(JSON.parse(readFileSync(memoFile, 'utf8')))).toEqual([g]);
  });
});
