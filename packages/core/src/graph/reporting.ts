import type { Node, Outcome, Runner } from './node';

export type NodeEvent =
  | { state: 'done'; kind: string; label: string; cached: boolean; remote?: boolean; ms: number }
  | { state: 'failed'; kind: string; label: string; ms: number; error: unknown }
  /** Another process is running this node's work: this one waits for its result. */
  | { state: 'waiting'; kind: string; label: string; holder: { pid: number; host: string } };

export type Reporter = (event: NodeEvent) => void;

/** Tells the reporter how each node ended: built or cached, and how long it took. */
export function reportingRunner(inner: Runner, report: Reporter): Runner {
  return {
    async run<T>(node: Node<T>, signal?: AbortSignal): Promise<Outcome<T>> {
      const started = performance.now();
      try {
        const out = await inner.run(node, signal);
        report({ state: 'done', kind: node.kind, label: node.label, cached: out.cached, ...(out.remote ? { remote: true } : {}), ms: out.ms });
        return out;
      } catch (error) {
        report({ state: 'failed', kind: node.kind, label: node.label, ms: performance.now() - started, error });
        throw error;
      }
    },
  };
}
