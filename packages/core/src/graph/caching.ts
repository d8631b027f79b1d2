import type { Store } from '../cache/store';
import type { Node, Outcome, Runner } from './node';

/** A node with a key whose entry is in the store is not run: its verified outputs are returned. */
export function cachingRunner(inner: Runner, store: Store): Runner {
  return {
    async run<T>(node: Node<T>, signal?: AbortSignal): Promise<Outcome<T>> {
      if (!node.key) return inner.run(node, signal);
      const started = performance.now();
      const key = await node.key();
      const hit = await store.getAction<T>(key);
      if (hit) return { data: hit.data, files: hit.blobs, cached: true, ms: performance.now() - started };
      const out = await inner.run(node, signal);
      const files = Object.fromEntries(Object.entries(out.files).map(([n, f]) => [n, { digest: f.digest, size: f.size }]));
      await store.putAction(key, { kind: node.kind, data: out.data, files });
      return out;
    },
  };
}
