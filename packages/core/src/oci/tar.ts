/**
 * A deterministic, streaming tar writer for image layers. The same entries and mtime always give the
 * same bytes, whatever the files' mtimes, owners and modes on disk and whatever the process umask:
 *
 * - paths are relative ("/app/x" becomes "app/x"), sorted byte-wise (UTF-8), with every missing parent
 *   directory added (0755, owned by 0:0) before its children;
 * - uid/gid 0 unless an entry says otherwise; uname/gname left empty, as ko (Go's archive/tar with a
 *   zero Header) writes them, so extractors use the numeric ids and never map a name through the
 *   host's /etc/passwd;
 * - one mtime for every entry (SOURCE_DATE_EPOCH or the commit time; default 0);
 * - ustar headers; a PAX header only for a path or link target that ustar cannot hold (too long or not
 *   ASCII), and then only `path` / `linkpath` records: never atime/ctime/mtime;
 * - file sizes come from fstat when the file is opened and are enforced while streaming;
 * - the archive ends with two zero blocks.
 */
import { promises as fs } from 'node:fs';
import { FnbuildError } from '../util/errors';

export type TarEntryType = 'file' | 'dir' | 'symlink';

export interface TarEntry {
  /** Path inside the image; a leading "/" is dropped. */
  path: string;
  type: TarEntryType;
  /** Permission bits (0o7777 mask: setuid/setgid/sticky only when given). */
  mode: number;
  /** A file on disk, streamed. */
  source?: string;
  /** Or the file's bytes. */
  content?: Buffer;
  /** Target of a symlink. */
  linkname?: string;
  /** Owner ids; default 0. */
  uid?: number;
  gid?: number;
}

export interface TarOptions {
  /** Seconds since the epoch, written as every entry's mtime. Default 0. */
  mtime?: number;
}

/** An entry after normalization: the archive's own view of it. */
export interface NormalizedEntry {
  path: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  source?: string;
  content?: Buffer;
  linkname?: string;
}

/** A user-actionable error (shown without a stack, like every FnbuildError). */
export class TarError extends FnbuildError {
  override name = 'TarError';
}

const BLOCK = 512;
const CHUNK = 256 * 1024;
const MAX_OCTAL_12 = 0o77777777777; // size and mtime fields: 11 octal digits
const MAX_OCTAL_8 = 0o7777777; // uid and gid fields: 7 octal digits
const IMPLICIT_DIR_MODE = 0o755;

const TYPEFLAG: Record<TarEntryType | 'pax', string> = { file: '0', dir: '5', symlink: '2', pax: 'x' };

/** "/a//b/./c" -> "a/b/c"; rejects "..", NUL and the root itself. */
export function normalizePath(path: string): string {
  if (path.includes('\0')) throw new TarError(`tar entry path ${JSON.stringify(path)} contains a NUL byte`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new TarError(`tar entry path "${path}" contains "..": paths must stay inside the image`);
  if (parts.length === 0) throw new TarError(`tar entry path "${path}" names the root; give a file or directory inside it`);
  return parts.join('/');
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function checkId(value: number, what: string, path: string): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_OCTAL_8) {
    throw new TarError(`tar entry "${path}": ${what} ${value} is not an integer in 0..${MAX_OCTAL_8}`);
  }
  return value;
}

function normalizeEntry(e: TarEntry): NormalizedEntry {
  const path = normalizePath(e.path);
  if (!Number.isInteger(e.mode) || e.mode < 0) throw new TarError(`tar entry "${path}": mode ${e.mode} is not a non-negative integer`);
  const out: NormalizedEntry = {
    path,
    type: e.type,
    mode: e.mode & 0o7777,
    uid: checkId(e.uid ?? 0, 'uid', path),
    gid: checkId(e.gid ?? 0, 'gid', path),
  };
  switch (e.type) {
    case 'file':
      if ((e.source === undefined) === (e.content === undefined)) {
        throw new TarError(`tar entry "${path}": a file needs exactly one of source (a path on disk) or content (bytes)`);
      }
      if (e.linkname !== undefined) throw new TarError(`tar entry "${path}": linkname is only for symlinks`);
      if (e.source !== undefined) out.source = e.source;
      if (e.content !== undefined) out.content = e.content;
      break;
    case 'dir':
      if (e.source !== undefined || e.content !== undefined || e.linkname !== undefined) {
        throw new TarError(`tar entry "${path}": a directory takes no source, content or linkname`);
      }
      break;
    case 'symlink':
      if (!e.linkname) throw new TarError(`tar entry "${path}": a symlink needs a linkname`);
      if (e.linkname.includes('\0')) throw new TarError(`tar entry "${path}": linkname contains a NUL byte`);
      if (e.source !== undefined || e.content !== undefined) throw new TarError(`tar entry "${path}": a symlink takes no source or content`);
      out.linkname = e.linkname;
      break;
    default:
      throw new TarError(`tar entry "${path}": unknown type ${JSON.stringify((e as { type: unknown }).type)}; use file, dir or symlink`);
  }
  return out;
}

/** Normalizes paths, adds missing parent directories, rejects duplicates and sorts byte-wise. */
export function normalizeEntries(entries: readonly TarEntry[]): NormalizedEntry[] {
  const byPath = new Map<string, NormalizedEntry>();
  for (const e of entries) {
    const n = normalizeEntry(e);
    if (byPath.has(n.path)) throw new TarError(`tar entry "${n.path}" is listed twice`);
    byPath.set(n.path, n);
  }
  for (const n of [...byPath.values()]) {
    const parts = n.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const existing = byPath.get(parent);
      if (!existing) byPath.set(parent, { path: parent, type: 'dir', mode: IMPLICIT_DIR_MODE, uid: 0, gid: 0 });
      else if (existing.type !== 'dir') throw new TarError(`tar entry "${n.path}" is inside "${parent}", which is a ${existing.type}, not a dir`);
    }
  }
  return [...byPath.values()].sort((a, b) => byteCompare(a.path, b.path));
}

function isAscii(s: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is ASCII without NUL, which would end a tar header field
  return /^[\x01-\x7f]*$/.test(s);
}

function writeString(block: Buffer, offset: number, width: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > width) throw new TarError(`internal: "${value}" does not fit a ${width}-byte tar field`);
  bytes.copy(block, offset);
}

function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  writeString(block, offset, width, value.toString(8).padStart(width - 1, '0') + '\0');
}

/** Splits a path into ustar's prefix (155) + name (100), or undefined when it cannot. */
function ustarName(full: string): { name: string; prefix: string } | undefined {
  if (!isAscii(full)) return undefined;
  if (full.length <= 100) return { name: full, prefix: '' };
  // The rightmost usable slash gives the shortest name; if that name is too long, every split is.
  for (let i = Math.min(full.length - 2, 155); i > 0; i--) {
    if (full[i] !== '/') continue;
    const name = full.slice(i + 1);
    return name.length <= 100 ? { name, prefix: full.slice(0, i) } : undefined;
  }
  return undefined;
}

/** A byte-truncated ASCII stand-in for a name field whose real value is in a PAX record. */
function placeholder(value: string, width: number): string {
  return value.replace(/[^\x20-\x7e]/g, '_').slice(0, width);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body, 'utf8');
  let length = bodyLength + 1;
  while (String(length).length + bodyLength !== length) length = String(length).length + bodyLength;
  return `${length}${body}`;
}

interface HeaderFields {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  type: string;
  linkname: string;
}

function headerBlock(f: HeaderFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, 100, f.name);
  writeOctal(block, 100, 8, f.mode);
  writeOctal(block, 108, 8, f.uid);
  writeOctal(block, 116, 8, f.gid);
  writeOctal(block, 124, 12, f.size);
  writeOctal(block, 136, 12, f.mtime);
  block.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  writeString(block, 156, 1, f.type);
  writeString(block, 157, 100, f.linkname);
  writeString(block, 257, 6, 'ustar\0');
  writeString(block, 263, 2, '00');
  // uname (265..297) and gname (297..329) stay empty: numeric ids only.
  writeOctal(block, 329, 8, 0);
  writeOctal(block, 337, 8, 0);
  writeString(block, 345, 155, f.prefix);
  let sum = 0;
  for (const byte of block) sum += byte;
  writeString(block, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return block;
}

function padding(size: number): Buffer | undefined {
  const rest = size % BLOCK;
  return rest === 0 ? undefined : Buffer.alloc(BLOCK - rest);
}

/** The header block(s) of one entry: an optional PAX header (+ its records), then the ustar header. */
function entryHeader(e: NormalizedEntry, size: number, mtime: number): Buffer {
  if (size > MAX_OCTAL_12) throw new TarError(`tar entry "${e.path}" is ${size} bytes; ustar holds at most ${MAX_OCTAL_12} (8 GiB)`);
  const full = e.type === 'dir' ? `${e.path}/` : e.path;
  const split = ustarName(full);
  const link = e.linkname ?? '';
  const linkFits = isAscii(link) && link.length <= 100;
  const records: string[] = [];
  if (!linkFits) records.push(paxRecord('linkpath', link));
  if (!split) records.push(paxRecord('path', full));
  const base: HeaderFields = {
    name: split?.name ?? placeholder(full, 100),
    prefix: split?.prefix ?? '',
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    size,
    mtime,
    type: TYPEFLAG[e.type],
    linkname: linkFits ? link : placeholder(link, 100),
  };
  if (records.length === 0) return headerBlock(base);
  const body = Buffer.from(records.join(''), 'utf8');
  const baseName = placeholder(e.path.slice(e.path.lastIndexOf('/') + 1), 100 - 'PaxHeaders.0/'.length);
  const pax = headerBlock({
    name: `PaxHeaders.0/${baseName}`,
    prefix: '',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime,
    type: TYPEFLAG.pax,
    linkname: '',
  });
  return Buffer.concat([pax, body, padding(body.length) ?? Buffer.alloc(0), headerBlock(base)]);
}

function checkMtime(mtime: number): number {
  if (!Number.isInteger(mtime) || mtime < 0 || mtime > MAX_OCTAL_12) {
    throw new TarError(`tar mtime ${mtime} must be whole seconds since the epoch, 0..${MAX_OCTAL_12}`);
  }
  return mtime;
}

async function* fileBody(e: NormalizedEntry & { source: string }, mtime: number): AsyncGenerator<Buffer> {
  const fh = await fs.open(e.source, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new TarError(`tar entry "${e.path}": source ${e.source} is not a regular file`);
    yield entryHeader(e, st.size, mtime);
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(CHUNK);
      const { bytesRead } = await fh.read(buf, 0, CHUNK, total);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > st.size) break;
      yield bytesRead === CHUNK ? buf : buf.subarray(0, bytesRead);
    }
    const after = await fh.stat();
    if (total !== st.size || after.size !== st.size || after.mtimeMs !== st.mtimeMs) {
      throw new TarError(
        `tar entry "${e.path}": ${e.source} changed while it was being read (${st.size} bytes when opened, ` +
          `${after.size} now); the layer would not match the file. Rebuild once nothing is writing it.`,
      );
    }
    const pad = padding(st.size);
    if (pad) yield pad;
  } finally {
    await fh.close();
  }
}

/**
 * The archive as a stream of chunks. Files given by `source` are read in 256 KiB chunks, so memory
 * stays bounded whatever their size. Validation errors surface on the first read.
 */
export async function* tarStream(entries: readonly TarEntry[], opts: TarOptions = {}): AsyncGenerator<Buffer> {
  const mtime = checkMtime(opts.mtime ?? 0);
  const sorted = normalizeEntries(entries);
  for (const e of sorted) {
    if (e.type === 'file' && e.source !== undefined) {
      yield* fileBody(e as NormalizedEntry & { source: string }, mtime);
    } else if (e.type === 'file') {
      const content = e.content ?? Buffer.alloc(0);
      yield entryHeader(e, content.length, mtime);
      if (content.length > 0) yield content;
      const pad = padding(content.length);
      if (pad) yield pad;
    } else {
      yield entryHeader(e, 0, mtime);
    }
  }
  yield Buffer.alloc(2 * BLOCK);
}
