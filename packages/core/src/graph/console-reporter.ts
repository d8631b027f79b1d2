import type { NodeEvent, Reporter } from './reporting';

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms)}ms`;
}

/** One line per finished node: "  built   compile server linux/arm64   12.3s"; `remote` for a cached one fetched from the remote tier. */
export function consoleReporter(write: (line: string) => void): Reporter {
  return (e: NodeEvent) => {
    const state = e.state === 'failed' ? 'failed' : e.cached ? (e.remote ? 'remote' : 'cached') : e.kind === 'export' ? 'done' : 'built';
    write(`  ${state.padEnd(7)} ${e.label.padEnd(44)} ${formatMs(e.ms).padStart(7)}`);
  };
}
