import { acquireLock } from '../cache/lock';
import type { Store } from '../cache/store';
import type { Node, Outcome, Runner } from './node';
import type { Reporter } from './reporting';

/** The runner shape with the optional abort signal a run may carry; a plain Runner is one. */
interface SignalRunner {
  run<T>(node: Node<T>, signal?: AbortSignal): Promise<Outcome<T>>;
}

/**
 * Single-flight across processes sharing the store: a keyed node's work runs in one process
 * at a time. An entry already in the store is answered here, as the cache below would, with
 * no lock (a no-op build reads each entry once and takes no lock); otherwise the key's lock
 * is taken, and only then does the inner runner look in the store again (another process
 * may have finished it while we waited: reported cached), run and record. The lock is held until the entry is recorded, so it sits outside the cache.
 * It also sits outside the concurrency limit: a waiter holds no slot.
 *
 * Any keyed node is locked, including one whose key only names the work and that records
 * nothing: then the second process runs it after the first, never beside it.
 */
export function singleFlightRunner(inner: Runner, store: Store, report?: Reporter): Runner {
  const next: SignalRunner = inner;
  return {
    async run<T>(node: Node<T>, signal?: AbortSignal): Promise<Outcome<T>> {
      if (!node.key) return next.run(node, signal);
      const started = performance.now();
      const key = await node.key();
      const hit = await store.getAction<T>(key);
      if (hit) return { data: hit.data, files: hit.blobs, cached: true, ms: performance.now() - started };
      const keyed: Node<T> = { ...node, key: async () => key };
      const lock = await acquireLock(store.lockPath(key), {
        signal,
        // Held by this very process (another node with the same key): nothing to tell.
        onWait: ({ pid, host }) => pid !== process.pid && report?.({ state: 'waiting', kind: node.kind, label: node.label, holder: { pid, host } }),
      });
      try {
        return await next.run(keyed, signal);
      } finally {
        await lock.release();
      }
    },
  };
}
