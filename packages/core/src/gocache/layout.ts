import { promises as fs, readFileSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { tempPathFor, writeFileAtomic } from '../util/fs-atomic';
import { decodeEntry, encodeEntry, type GoEntry } from './entry';

/**
 * Go's cache on local disk, inside the store folder:
 *   <cacheDir>/go/o/<kk>/<outputId>   output bytes, named by their sha256 (the DiskPath go reads)
 *   <cacheDir>/go/a/<kk>/<actionId>   entry: which output an action produced (entry.ts)
 *
 * Outputs are written before the entries naming them, each by temp file + rename, so any
 * number of go commands and cache programs share the folder: a reader sees a whole file or
 * none. Like cmd/go's own disk cache, a read checks sizes, not content (a put checked the
 * digest, a download was verified).
 */
export interface GoCacheLayout {
  /** <cacheDir>/go */
  root: string;
}

export function layoutUnder(cacheDir: string): GoCacheLayout {
  return { root: join(cacheDir, 'go') };
}

export function outputPath(layout: GoCacheLayout, outputId: string): string {
  return join(layout.root, 'o', outputId.slice(0, 2), outputId);
}

export function entryPath(layout: GoCacheLayout, actionId: string): string {
  return join(layout.root, 'a', actionId.slice(0, 2), actionId);
}

/**
 * The entry and its output, when both are here and agree on the size. Synchronous on
 * purpose: a warm build asks this hundreds of times, one request at a time along go's
 * action graph, and a few direct syscalls answer sooner than trips through libuv's pool.
 */
export function readLocal(layout: GoCacheLayout, actionId: string): GoEntry | undefined {
  const path = entryPath(layout, actionId);
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return undefined;
  const entry = decodeEntry(readFileSync(path));
  const out = entry && statSync(outputPath(layout, entry.outputId), { throwIfNoEntry: false });
  if (!entry || !out?.isFile() || out.size !== entry.size) return undefined;
  touch(path, st.mtimeMs);
  touch(outputPath(layout, entry.outputId), out.mtimeMs);
  return entry;
}

export async function hasOutput(layout: GoCacheLayout, outputId: string, size: number): Promise<boolean> {
  const st = await fs.stat(outputPath(layout, outputId)).catch(() => undefined);
  return !!st && st.isFile() && st.size === size;
}

/** Writes the output (unless an identical one is here) and then the entry. */
export async function writeLocal(layout: GoCacheLayout, actionId: string, entry: GoEntry, body: Uint8Array): Promise<string> {
  const path = outputPath(layout, entry.outputId);
  if (!(await hasOutput(layout, entry.outputId, entry.size))) await writeFileAtomic(path, body, 0o444);
  await writeEntry(layout, actionId, entry);
  return path;
}

export async function writeEntry(layout: GoCacheLayout, actionId: string, entry: GoEntry): Promise<void> {
  await writeFileAtomic(entryPath(layout, actionId), encodeEntry(entry));
}

/** A temp path beside an output, for a download that is renamed into place once verified. */
export async function downloadPath(layout: GoCacheLayout, outputId: string): Promise<{ temp: string; final: string }> {
  const final = outputPath(layout, outputId);
  await fs.mkdir(join(final, '..'), { recursive: true });
  return { temp: tempPathFor(final), final };
}

/** Marks a file as used for trim.ts; at most once an hour, like cmd/go, so hits stay cheap. */
function touch(path: string, mtimeMs: number): void {
  const now = Date.now();
  if (now - mtimeMs < 3600_000) return;
  try {
    utimesSync(path, now / 1000, now / 1000);
  } catch {
    /* raced with a trim: the next get is a miss, harmless */
  }
}
