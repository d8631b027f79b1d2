import { hostname } from 'node:os';
import type { NodeEvent, Reporter } from './reporting';

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms)}ms`;
}

/** One line per finished node: "  built   compile server linux/arm64   12.3s"; `remote` for a cached one fetched from the remote tier; one more for a node that waits on another process. */
export function consoleReporter(write: (line: string) => void): Reporter {
  return (e: NodeEvent) => {
    if (e.state === 'waiting') return write(`  waiting ${e.label.padEnd(44)} another build has it (pid ${e.holder.pid}${e.holder.host === hostname() ? '' : ` on ${e.holder.host}`})`);
    const state = e.state === 'failed' ? 'failed' : e.cached ? (e.remote ? 'remote' : 'cached') : e.kind === 'export' ? 'done' : 'built';
    write(`  ${state.padEnd(7)} ${e.label.padEnd(44)} ${formatMs(e.ms).padStart(7)}`);
  };
}
