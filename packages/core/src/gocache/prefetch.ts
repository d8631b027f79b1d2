import { sha256Hex } from '../util/hash';

/**
 * A go command's action list: the ActionIDs it found or stored, in the order it asked.
 * cmd/go asks for one action at a time along its graph, so a clean machine fetching from a
 * remote pays two round trips per action in sequence (~570 actions for examples/hello: at
 * 10 ms a call, 11 s). The list of an earlier run of the same command lets the program
 * fetch them all at once, ahead of go. It is published under each of the command's first
 * ActionIDs (tiered-cache.ts): those of standard-library actions are the same on every
 * machine with the same toolchain, platform and flags, whatever the sources. Only a hint: every
 * entry it names is fetched and verified like any other, so a stale or foreign list costs
 * bandwidth, never correctness.
 */
const MAX_IDS = 50_000;
const HEX64 = /^[0-9a-f]{64}$/;

export function actionListKey(firstActionId: string): string {
  return sha256Hex(`gocacheprog action list v1 ${firstActionId}`);
}

export function encodeActionList(ids: readonly string[]): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ids: ids.slice(0, MAX_IDS) }));
}

export function decodeActionList(bytes: Uint8Array): string[] | undefined {
  try {
    const r = JSON.parse(Buffer.from(bytes).toString('utf8')) as { v?: unknown; ids?: unknown };
    if (r.v !== 1 || !Array.isArray(r.ids)) return undefined;
    return r.ids.slice(0, MAX_IDS).filter((id): id is string => typeof id === 'string' && HEX64.test(id));
  } catch {
    return undefined;
  }
}

/** Runs `job` over `items`, `concurrency` at a time, until done or `stopped()`. */
export async function eachConcurrently<T>(items: readonly T[], concurrency: number, stopped: () => boolean, job: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stopped()) await job(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
