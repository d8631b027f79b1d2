import type { Node, Outcome, Runner } from './node';

export type NodeEvent =
  | { state: 'done'; kind: string; label: string; cached: boolean; ms: number }
  | { state: 'failed'; kind: string; label: string; ms: number; error: unknown };

export type Reporter = (event: NodeEvent) => void;

/** Tells the reporter how each node ended: built or cached, and how long it took. */
export function reportingRunner(inner: Runner, report: Reporter): Runner {
  return {
    async run<T>(node: Node<T>, signal?: AbortSignal): Promise<Outcome<T>> {
      const started = performance.now();
      try {
        const out = await inner.run(node, signal);
        report({ state: 'done', kind: node.kind, label: node.label, cached: out.cached, ms: out.ms });
        return out;
      } catch (error) {
        report({ state: 'failed', kind: node.kind, label: node.label, ms: performance.now() - started, error });
        throw error;
      }
    },
  };
}
