import { hostname } from 'node:os';
import type { NodeEvent, Reporter } from './reporting';

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms)}ms`;
}

/**
 * Planning nodes (what go list says, which platforms go knows, the function's package) are
 * not what the user asked for: their lines would bury the compiles. A failing one fails
 * the compiles that need it, which say so. stdlib(P) shows when it really builds.
 */
const QUIET_KINDS = new Set(['go-list', 'dist-list', 'function-package', 'stdlib']);

function shown(e: NodeEvent): boolean {
  if (!QUIET_KINDS.has(e.kind)) return true;
  return e.kind === 'stdlib' && (e.state === 'waiting' || (e.state === 'done' && !e.cached));
}

/**
 * One line per finished node: "  built   compile server linux/arm64   12.3s" (`remote` for a
 * cached one fetched from the remote tier), and one for a node waiting on another process.
 */
export function consoleReporter(write: (line: string) => void): Reporter {
  return (e: NodeEvent) => {
    if (!shown(e)) return;
    if (e.state === 'waiting')
      return write(`  waiting ${e.label.padEnd(44)} another build has it (pid ${e.holder.pid}${e.holder.host === hostname() ? '' : ` on ${e.holder.host}`})`);
    const state = e.state === 'failed' ? 'failed' : e.cached ? (e.remote ? 'remote' : 'cached') : e.kind === 'export' ? 'done' : 'built';
    write(`  ${state.padEnd(7)} ${e.label.padEnd(44)} ${formatMs(e.ms).padStart(7)}`);
  };
}
