/** A Go module proxy on disk (GOPROXY=file://<dir>) laid out from fixture sources, and go.sum lines. */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { crc32 } from 'node:zlib';
import { sha256Hex } from './hash';

/** A zip of stored (uncompressed) entries, dated 1980-01-01: all a module proxy's .zip needs. */
export function storedZip(entries: { name: string; data: Buffer }[]): Buffer {
  const DOS_DATE = (1 << 5) | 1;
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const n = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4); // made by
    central.writeUInt16LE(20, 6); // needed
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(n.length, 28);
    // extra, comment, disk, internal and external attributes: 0
    central.writeUInt32LE(offset, 42);
    locals.push(local, n, data);
    centrals.push(central, n);
    offset += local.length + n.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** The folders named <module>@<version> under sources (example.com/quote@v1.0.0), as module and version. */
function sourceModules(sources: string, dir = sources): { path: string; version: string }[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => {
      if (!e.name.includes('@')) return sourceModules(sources, join(dir, e.name));
      const [path = '', version = ''] = relative(sources, join(dir, e.name)).split(sep).join('/').split('@');
      return [{ path, version }];
    });
}

/**
 * Lays out `<dir>/<module>/@v/{list, vX.info, vX.mod, vX.zip}` from the source folders
 * `<sources>/<module>@<version>/` (all of them, or only `modules`), the zip's paths prefixed
 * `<module>@<version>/`. Returns the GOPROXY value, file://<dir>.
 */
export function moduleProxy(sources: string, dir: string, opts: { modules?: { path: string; version: string }[] } = {}): string {
  for (const m of opts.modules ?? sourceModules(sources)) {
    const src = join(sources, `${m.path}@${m.version}`);
    // The proxy protocol's case encoding: an upper-case letter is "!" and its lower case.
    const at = join(
      dir,
      m.path.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`),
      '@v',
    );
    mkdirSync(at, { recursive: true });
    const listFile = join(at, 'list');
    const listed = existsSync(listFile) ? readFileSync(listFile, 'utf8').split('\n').filter(Boolean) : [];
    writeFileSync(listFile, [...new Set([...listed, m.version])].map((v) => `${v}\n`).join(''));
    writeFileSync(join(at, `${m.version}.info`), JSON.stringify({ Version: m.version, Time: '2024-01-01T00:00:00Z' }));
    writeFileSync(join(at, `${m.version}.mod`), readFileSync(join(src, 'go.mod')));
    const entries = filesUnder(src)
      .sort()
      .map((f) => ({ name: `${m.path}@${m.version}/${relative(src, f).split(sep).join('/')}`, data: readFileSync(f) }));
    writeFileSync(join(at, `${m.version}.zip`), storedZip(entries));
  }
  return `file://${dir}`;
}

/**
 * A real go.sum line for a module's go.mod (dirhash "h1": sha256 over "<sha256 hex>  go.mod\n"),
 * as `go mod download` would write it.
 */
export function goModSumLine(module: string, version: string, goModText: string): string {
  const h1 = Buffer.from(sha256Hex(`${sha256Hex(goModText)}  go.mod\n`), 'hex').toString('base64');
  return `${module} ${version}/go.mod h1:${h1}`;
}
