import type { Node, Outcome, Runner } from './node';

/**
 * Nodes with the same id run once per build; later callers share the first one's outcome
 * (and the first caller's signal: within one build every caller has the build's).
 */
export function dedupingRunner(inner: Runner): Runner {
  const seen = new Map<string, Promise<Outcome<unknown>>>();
  return {
    run<T>(node: Node<T>, signal?: AbortSignal): Promise<Outcome<T>> {
      let p = seen.get(node.id);
      if (!p) {
        p = inner.run(node, signal) as Promise<Outcome<unknown>>;
        seen.set(node.id, p);
      }
      return p as Promise<Outcome<T>>;
    },
  };
}
