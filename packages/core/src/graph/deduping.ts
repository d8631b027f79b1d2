import type { Node, Outcome, Runner } from './node';

/** Nodes with the same id run once per build; later callers share the first one's outcome. */
export function dedupingRunner(inner: Runner): Runner {
  const seen = new Map<string, Promise<Outcome<unknown>>>();
  return {
    run<T>(node: Node<T>): Promise<Outcome<T>> {
      let p = seen.get(node.id);
      if (!p) {
        p = inner.run(node) as Promise<Outcome<unknown>>;
        seen.set(node.id, p);
      }
      return p as Promise<Outcome<T>>;
    },
  };
}
