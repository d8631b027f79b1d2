import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import type { GoImportGraph } from './graph';
import { goWorkFinder, relDir } from './workspace-folders';

type Env = Record<string, string | undefined>;

// go list and the toolchain load on first use: a warm graph runs neither.
const graph = (): typeof import('./graph') => require('./graph');
const toolchain = (): typeof import('./toolchain') => require('./toolchain');

/**
 * Where `go list` runs: a go.work with the modules it uses, or a module no go.work uses.
 * Paths are workspace-relative except cwd.
 */
export interface ListingRoot {
  id: string;
  /** Absolute. */
  cwd: string;
  /** Environment on top of the caller's (GOWORK=off for a module its go.work does not use). */
  env: Record<string, string>;
  /** The modules listed here (one pattern each). */
  members: string[];
  /** Modules whose go.mod and package folders decide how imports resolve: the members and their local replacements. */
  resolution: string[];
  workFile?: string;
}

export interface ListingReaders {
  /** A go.work's use and local replace folders, workspace-relative (memoize it: many modules share one). */
  work: (workFile: string) => Promise<{ use: string[]; replace: string[] }>;
  /** A module's local replace folders, workspace-relative. */
  replaces: (moduleDir: string) => Promise<string[]>;
}

/** The listing roots of some modules (workspace-relative folders): each go.work with the modules it uses, and each module no go.work uses. */
export async function listingRoots(workspaceRoot: string, moduleDirs: string[], req: { env: Env; read: ListingReaders }): Promise<ListingRoot[]> {
  const byWork = new Map<string, ListingRoot>();
  const roots: ListingRoot[] = [];
  const findWork = goWorkFinder(workspaceRoot, req.env);
  for (const dir of moduleDirs) {
    const workFile = await findWork(join(workspaceRoot, dir));
    const w = workFile ? await req.read.work(workFile) : undefined;
    const replaces = await req.read.replaces(dir);
    if (workFile && w?.use.includes(dir)) {
      const rel = relDir(workspaceRoot, workFile);
      let r = byWork.get(rel);
      if (!r) {
        r = { id: `work:${rel}`, cwd: dirname(workFile), env: {}, members: [], resolution: [...w.replace], workFile: rel };
        byWork.set(rel, r);
        roots.push(r);
      }
      r.members.push(dir);
      r.resolution.push(dir, ...replaces);
    } else {
      // A module under a go.work that does not use it builds only without the workspace.
      const env: Record<string, string> = workFile ? { GOWORK: 'off' } : {};
      roots.push({ id: `module:${dir}`, cwd: join(workspaceRoot, dir), env, members: [dir], resolution: [dir, ...replaces] });
    }
  }
  return roots;
}

/** Which go binary runs, by path and stat (no process): a new toolchain can change which files a package has. Null when there is none. */
export async function goBinaryStamp(env: Env): Promise<[string, number, number] | null> {
  const go = await toolchain()
    .findGo(env)
    .catch(() => undefined);
  if (!go) return null;
  const st = await fs.stat(await fs.realpath(go).catch(() => go)).catch(() => undefined);
  return st ? [go, st.size, st.mtimeMs] : null;
}

export type ImportGraphRequest = Parameters<typeof import('./graph').goImportGraph>[0];

/** goImportGraph for several listings, `concurrency` at a time (each is a go process that keeps a core busy). */
export async function goImportGraphs(requests: ImportGraphRequest[], options: { concurrency: number }): Promise<GoImportGraph[]> {
  const out: GoImportGraph[] = new Array(requests.length);
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const i = next++;
      out[i] = await graph().goImportGraph(requests[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, requests.length) }, worker));
  return out;
}
