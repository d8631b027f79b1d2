import { promises as fs } from 'node:fs';

/** What one cache program saw: how much a go command really built, and what crossed the network. */
export interface GoCacheCounters {
  gets: number;
  hitsLocal: number;
  hitsRemote: number;
  misses: number;
  puts: number;
  bytesDown: number;
  bytesUp: number;
  uploads: number;
  /** Uploads dropped: the remote failed, or close came before they finished (bounded wait). */
  uploadsSkipped: number;
  remoteErrors: number;
  /** Remote lookups started ahead of go from an earlier run's action list (prefetch.ts). */
  prefetched: number;
}

export function newCounters(): GoCacheCounters {
  return { gets: 0, hitsLocal: 0, hitsRemote: 0, misses: 0, puts: 0, bytesDown: 0, bytesUp: 0, uploads: 0, uploadsSkipped: 0, remoteErrors: 0, prefetched: 0 };
}

export function formatCounters(c: GoCacheCounters): string {
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  return (
    `gocacheprog: ${c.gets} gets (${c.hitsLocal} local, ${c.hitsRemote} remote, ${c.misses} missed), ${c.puts} puts; ` +
    `remote ${kib(c.bytesDown)} down, ${kib(c.bytesUp)} up in ${c.uploads} uploads` +
    (c.prefetched ? `, ${c.prefetched} prefetched` : '') +
    (c.uploadsSkipped ? `, ${c.uploadsSkipped} skipped` : '') +
    (c.remoteErrors ? `, ${c.remoteErrors} errors` : '')
  );
}

/**
 * Appends one JSON line per go command to `path`: many go commands (and their cache
 * programs) may end at once, and an O_APPEND write of one short line lands whole.
 */
export async function appendCounters(path: string, c: GoCacheCounters): Promise<void> {
  await fs.appendFile(path, JSON.stringify({ pid: process.pid, ...c }) + '\n');
}

/** Sums the lines appendCounters wrote: what a whole build (every go command of it) did. */
export function sumCounters(lines: string): GoCacheCounters {
  const total = newCounters();
  for (const line of lines.split('\n')) {
    if (!line.trim()) continue;
    const c = JSON.parse(line) as Partial<GoCacheCounters>;
    for (const k of Object.keys(total) as (keyof GoCacheCounters)[]) total[k] += c[k] ?? 0;
  }
  return total;
}
