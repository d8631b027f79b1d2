import { promises as fs, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';

/**
 * Where Nx keeps per-checkout data (the project graph cache): NX_WORKSPACE_DATA_DIRECTORY,
 * else .nx/workspace-data. Our inference memos live there too, so `nx reset` clears them
 * with Nx's own. (Not the task cache folder: Nx reports unknown files there in CI.)
 */
export function workspaceDataDir(workspaceRoot: string): string {
  const configured = process.env.NX_WORKSPACE_DATA_DIRECTORY ?? process.env.NX_PROJECT_GRAPH_CACHE_DIRECTORY;
  if (configured) return isAbsolute(configured) ? configured : join(workspaceRoot, configured);
  return join(workspaceRoot, '.nx', 'workspace-data');
}

/**
 * A small JSON memo file: read once, written (temp file + rename, so a concurrent Nx
 * process never reads half a file) only when something changed. A file of another
 * format version reads as empty. Keys inside are the core's keyOf (stable JSON).
 */
export class JsonMemo<T extends object> {
  private changed = false;

  private constructor(
    private readonly file: string,
    private readonly version: number,
    readonly data: T,
  ) {}

  static open<T extends object>(file: string, version: number, empty: () => T): JsonMemo<T> {
    try {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { v?: number; data?: T };
      if (saved.v === version && saved.data && typeof saved.data === 'object') return new JsonMemo(file, version, saved.data);
    } catch {
      // missing or unreadable: start empty
    }
    return new JsonMemo(file, version, empty());
  }

  touch(): void {
    this.changed = true;
  }

  async save(): Promise<void> {
    if (!this.changed) return;
    try {
      await fs.mkdir(dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.${Date.now()}.tmp`;
      await fs.writeFile(tmp, JSON.stringify({ v: this.version, data: this.data }));
      await fs.rename(tmp, this.file);
      this.changed = false;
    } catch {
      // A memo that cannot be written only costs time next run.
    }
  }
}
