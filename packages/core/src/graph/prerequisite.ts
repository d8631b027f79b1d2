import type { Node, Outcome, Runner } from './node';

/**
 * Awaits a node's `before` work when the node is to run: inside the cache (a hit needs
 * none of it) and outside the limit (a node waiting for it holds no slot, and the work
 * it waits for can take one).
 */
export function prerequisiteRunner(inner: Runner): Runner {
  return {
    async run<T>(node: Node<T>, signal?: AbortSignal): Promise<Outcome<T>> {
      await node.before?.();
      return inner.run(node, signal);
    },
  };
}
