/**
 * What a cache entry records for one Go action: the OutputID (the sha256 of the output
 * bytes, which is also its blob digest on the remote), its size, and when it was put
 * (cmd/go uses the time to expire cached test results). The same JSON is kept on local
 * disk and under the remote's 'go' area, keyed by the ActionID.
 */
export interface GoEntry {
  outputId: string;
  size: number;
  time: Date;
}

const HEX64 = /^[0-9a-f]{64}$/;

export function encodeEntry(entry: GoEntry): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, outputId: entry.outputId, size: entry.size, time: entry.time.toISOString() }));
}

/** undefined for anything that is not a well-formed entry (torn, foreign, or from another version): a miss. */
export function decodeEntry(bytes: Uint8Array): GoEntry | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
  const r = raw as { v?: unknown; outputId?: unknown; size?: unknown; time?: unknown } | null;
  if (r?.v !== 1 || typeof r.outputId !== 'string' || !HEX64.test(r.outputId)) return undefined;
  if (typeof r.size !== 'number' || !Number.isSafeInteger(r.size) || r.size < 0) return undefined;
  const time = typeof r.time === 'string' ? new Date(r.time) : new Date(NaN);
  return { outputId: r.outputId, size: r.size, time: Number.isNaN(time.getTime()) ? new Date() : time };
}
