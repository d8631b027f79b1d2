import { appendFileSync, chmodSync, mkdirSync, readFileSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collect, run, tarListing, tempDir } from './__fixtures__/tools';
import { normalizeEntries, tarStream, type TarEntry } from './tar';

jest.setTimeout(30_000);

let root: string;
beforeEach(() => {
  root = tempDir('tar');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const BIN = Buffer.from('#!/bin/sh\necho hello\n');
const CONFIG = Buffer.from('{"port": 8080}\n'.repeat(50)); // > 512 bytes: padding path

/** Writes the source files into a fresh folder under the given umask and mtime; returns the entries. */
function sources(dir: string, umask: number, mtime: number): TarEntry[] {
  const old = process.umask(umask);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'server'), BIN, { mode: 0o777 });
    writeFileSync(join(dir, 'config.json'), CONFIG, { mode: 0o666 });
  } finally {
    process.umask(old);
  }
  utimesSync(join(dir, 'server'), mtime, mtime);
  utimesSync(join(dir, 'config.json'), mtime, mtime);
  return [
    { path: '/app/bin/server', type: 'file', mode: 0o755, source: join(dir, 'server') },
    { path: '/etc/app/config.json', type: 'file', mode: 0o644, source: join(dir, 'config.json') },
    { path: '/app/server', type: 'symlink', mode: 0o777, linkname: 'bin/server' },
    { path: '/etc/motd', type: 'file', mode: 0o644, content: Buffer.from('hi\n') },
  ];
}

function save(bytes: Buffer, name = 'out.tar'): string {
  const file = join(root, name);
  writeFileSync(file, bytes);
  return file;
}

describe('tarStream', () => {
  test("gives identical bytes across runs, whatever the sources' mtimes, on-disk modes and the umask", async () => {
    const a = await collect(tarStream(sources(join(root, 'a'), 0o022, 1_600_000_000), { mtime: 1_700_000_000 }));
    const b = await collect(tarStream(sources(join(root, 'b'), 0o077, 1_000), { mtime: 1_700_000_000 }));
    expect(b.equals(a)).toBe(true);
    // ... and the inputs that should matter do.
    const c = await collect(tarStream(sources(join(root, 'c'), 0o022, 1_000), { mtime: 1_700_000_001 }));
    expect(c.equals(a)).toBe(false);
  });

  test('GNU tar lists sorted entries with parents first, owners 0/0, the given mtime and modes', async () => {
    const file = save(await collect(tarStream(sources(join(root, 's'), 0o077, 1_000), { mtime: 1_700_000_000 })));
    const when = '2023-11-14 22:13:20';
    expect(tarListing(file)).toEqual([
      { mode: 'drwxr-xr-x', owner: '0/0', size: 0, when, name: 'app/' },
      { mode: 'drwxr-xr-x', owner: '0/0', size: 0, when, name: 'app/bin/' },
      { mode: '-rwxr-xr-x', owner: '0/0', size: BIN.length, when, name: 'app/bin/server' },
      { mode: 'lrwxrwxrwx', owner: '0/0', size: 0, when, name: 'app/server', link: 'bin/server' },
      { mode: 'drwxr-xr-x', owner: '0/0', size: 0, when, name: 'etc/' },
      { mode: 'drwxr-xr-x', owner: '0/0', size: 0, when, name: 'etc/app/' },
      { mode: '-rw-r--r--', owner: '0/0', size: CONFIG.length, when, name: 'etc/app/config.json' },
      { mode: '-rw-r--r--', owner: '0/0', size: 3, when, name: 'etc/motd' },
    ]);
    // Empty uname/gname: GNU tar prints the numeric ids even without --numeric-owner (a "root" name would print as root/root).
  });

  test('defaults mtime to 0 and keeps explicit owners and special bits only when given', async () => {
    const entries: TarEntry[] = [
      { path: 'home/nonroot', type: 'dir', mode: 0o700, uid: 65532, gid: 65532 },
      { path: 'tmp', type: 'dir', mode: 0o1777 },
      { path: 'bin/su', type: 'file', mode: 0o4755, content: Buffer.from('x') },
      { path: 'bin/plain', type: 'file', mode: 0o100755, content: Buffer.from('y') }, // st_mode with S_IFREG: type bits dropped
    ];
    const list = tarListing(save(await collect(tarStream(entries))));
    const by = Object.fromEntries(list.map((e) => [e.name, e]));
    expect(by['home/nonroot/']).toMatchObject({ mode: 'drwx------', owner: '65532/65532', when: '1970-01-01 00:00:00' });
    expect(by['home/']).toMatchObject({ mode: 'drwxr-xr-x', owner: '0/0' });
    expect(by['tmp/']).toMatchObject({ mode: 'drwxrwxrwt' });
    expect(by['bin/su']).toMatchObject({ mode: '-rwsr-xr-x' });
    expect(by['bin/plain']).toMatchObject({ mode: '-rwxr-xr-x' });
  });

  test('sorts byte-wise (UTF-8), not by locale or UTF-16', () => {
    const names = ['b', 'a/b', 'a-b', 'B', '\u00e9', '\u{1F600}', '\uFF21'].map((path) => ({
      path,
      type: 'file' as const,
      mode: 0o644,
      content: Buffer.alloc(0),
    }));
    expect(normalizeEntries(names).map((e) => e.path)).toEqual(['B', 'a', 'a-b', 'a/b', 'b', '\u00e9', '\uFF21', '\u{1F600}']);
  });

  test('a path that fits ustar name+prefix gets no PAX header; one that does not gets only a path record', async () => {
    const splittable = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(90)}`; // 212 bytes: prefix + name
    const long = `top/${'x'.repeat(150)}`; // a 150-byte last segment fits no ustar field
    const link = `l/${'y'.repeat(120)}`;
    const plain = await collect(tarStream([{ path: splittable, type: 'file', mode: 0o644, content: Buffer.from('s') }], { mtime: 5 }));
    expect(plain.includes(Buffer.from('PaxHeaders'))).toBe(false);
    expect(tarListing(save(plain, 'plain.tar')).map((e) => e.name)).toEqual([`${'d'.repeat(60)}/`, `${'d'.repeat(60)}/${'e'.repeat(60)}/`, splittable]);

    const bytes = await collect(
      tarStream(
        [
          { path: long, type: 'file', mode: 0o644, content: Buffer.from('long') },
          { path: 'link', type: 'symlink', mode: 0o777, linkname: link },
          { path: 'caf\u00e9', type: 'file', mode: 0o644, content: Buffer.from('utf8') },
        ],
        { mtime: 5 },
      ),
    );
    const text = bytes.toString('latin1');
    expect(text).toContain(` path=${long}\n`);
    expect(text).toContain(` linkpath=${link}\n`);
    expect(bytes.includes(Buffer.from(' path=caf\u00e9\n', 'utf8'))).toBe(true);
    for (const key of ['mtime=', 'atime=', 'ctime=', 'uid=', 'gid=', 'uname=', 'gname=', 'size=']) expect(text).not.toContain(key);

    const file = save(bytes);
    const names = tarListing(file).map((e) => e.name + (e.link ? ` -> ${e.link}` : ''));
    expect(names).toEqual(['caf\\303\\251' /* GNU tar escapes non-ASCII under LC_ALL=C */, `link -> ${link}`, 'top/', long]);
    const out = join(root, 'x');
    mkdirSync(out);
    run('tar', ['-xf', file, '-C', out]);
    expect(readFileSync(join(out, long), 'utf8')).toBe('long');
    expect(readFileSync(join(out, 'caf\u00e9'), 'utf8')).toBe('utf8');
  });

  test('ends with two zero blocks, every member padded to 512 bytes', async () => {
    const bytes = await collect(tarStream([{ path: 'a', type: 'file', mode: 0o644, content: Buffer.from('abc') }]));
    expect(bytes.length).toBe(512 + 512 + 1024); // header, padded content, end
    expect(bytes.subarray(512, 515).toString()).toBe('abc');
    expect(bytes.subarray(515).equals(Buffer.alloc(bytes.length - 515))).toBe(true);
    expect(bytes.subarray(257, 265).toString('latin1')).toBe('ustar\u000000');
    const empty = await collect(tarStream([]));
    expect(empty.equals(Buffer.alloc(1024))).toBe(true);
  });

  test('a header checksum GNU tar accepts, for the archive it lists and extracts with exact bytes', async () => {
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251));
    const src = join(root, 'data.bin');
    writeFileSync(src, data);
    const file = save(await collect(tarStream([{ path: '/srv/data.bin', type: 'file', mode: 0o600, source: src }])));
    const out = join(root, 'x');
    mkdirSync(out);
    run('tar', ['-xf', file, '-C', out]);
    expect(readFileSync(join(out, 'srv/data.bin')).equals(data)).toBe(true);
  });

  test('a file that grows while it is streamed is an error', async () => {
    const src = join(root, 'growing.bin');
    writeFileSync(src, Buffer.alloc(1 << 20, 1));
    const iterate = async () => {
      let n = 0;
      for await (const chunk of tarStream([{ path: 'g', type: 'file', mode: 0o644, source: src }])) {
        if (n++ === 1) appendFileSync(src, Buffer.alloc(4096, 2)); // after the header and the first chunk
        void chunk;
      }
    };
    await expect(iterate()).rejects.toThrow(/g": .*growing\.bin changed while it was being read \(1048576 bytes when opened, 1052672 now\)/);
  });

  test('a file that shrinks while it is streamed is an error', async () => {
    const src = join(root, 'shrinking.bin');
    writeFileSync(src, Buffer.alloc(1 << 20, 1));
    const iterate = async () => {
      let n = 0;
      for await (const _ of tarStream([{ path: 's', type: 'file', mode: 0o644, source: src }])) if (n++ === 1) truncateSync(src, 1000);
    };
    await expect(iterate()).rejects.toThrow(/changed while it was being read/);
  });

  test('rejects entries that would escape, collide or nest under a file', async () => {
    const file = (path: string): TarEntry => ({ path, type: 'file', mode: 0o644, content: Buffer.alloc(0) });
    expect(() => normalizeEntries([file('/a/../../etc/passwd')])).toThrow(/contains "\.\."/);
    expect(() => normalizeEntries([file('/a'), file('a')])).toThrow(/"a" is listed twice/);
    expect(() => normalizeEntries([file('/a'), file('/a/b')])).toThrow(/"a\/b" is inside "a", which is a file/);
    expect(() => normalizeEntries([file('/')])).toThrow(/names the root/);
    expect(() => normalizeEntries([{ path: 'x', type: 'file', mode: 0o644 }])).toThrow(/exactly one of source/);
    expect(() => normalizeEntries([{ path: 'x', type: 'symlink', mode: 0o777 }])).toThrow(/needs a linkname/);
    await expect(collect(tarStream([file('a')], { mtime: -1 }))).rejects.toThrow(/mtime -1/);
    const dir = join(root, 'd');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    await expect(collect(tarStream([{ path: 'x', type: 'file', mode: 0o644, source: dir }]))).rejects.toThrow(/not a regular file/);
  });
});
