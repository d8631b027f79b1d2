import { readdirSync, statSync, type Dirent } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { isBuildableGoFile } from './source';

/**
 * The folders of a Go workspace as the go command sees them. Inference runs on every Nx
 * command: these are many tiny file system calls, made synchronously (a thread-pool round
 * trip each would cost more than the call).
 */

export const toPosix = (p: string) => p.split(sep).join('/');
/** A path relative to the workspace root, "/"-separated, "." for the root itself. */
export const relDir = (root: string, abs: string) => toPosix(relative(root, abs)) || '.';
/** The folder of a workspace-relative path ("." above a top-level one). */
export const parentOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '.');

/** Folders the go command never treats as packages of this module (and node's). */
export const isSkippedDir = (name: string) =>
  name.startsWith('.') || name.startsWith('_') || name === 'testdata' || name === 'vendor' || name === 'node_modules';

/** A go.mod (or func.yaml) in a fixture or vendored copy (workspace-relative), not a module of the workspace. */
export function isIgnoredGoMod(rel: string): boolean {
  return rel
    .split('/')
    .slice(0, -1)
    .some((seg) => isSkippedDir(seg));
}

/** The nearest of `dirs` (workspace-relative) at or above `dir`, if any. */
export function nearestFolder(dirs: ReadonlySet<string> | ReadonlyMap<string, unknown>, dir: string): string | undefined {
  for (let d = dir; ; d = parentOf(d)) {
    if (dirs.has(d)) return d;
    if (d === '.') return undefined;
  }
}

/** One folder's listing, as far as Go cares. */
export interface GoFolder {
  /** Absolute. */
  dir: string;
  /** The files a build of this folder's package compiles (isBuildableGoFile), sorted. */
  goFiles: string[];
  /** It has Go files of its own, tests included. */
  hasGo: boolean;
  /** Its sub-folders that can hold packages, sorted. */
  subDirs: string[];
  /** Its other entries that are not folders (project.json, func.yaml, go.mod, …). */
  files: string[];
}

function readdir(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

const isGoName = (name: string) => name.endsWith('.go') && !name.startsWith('.') && !name.startsWith('_');

function folderOf(dir: string, entries: Dirent[]): GoFolder {
  const files = entries.filter((e) => !e.isDirectory()).map((e) => e.name);
  return {
    dir,
    goFiles: files.filter(isBuildableGoFile).sort(),
    hasGo: files.some(isGoName),
    subDirs: entries
      .filter((e) => e.isDirectory() && !isSkippedDir(e.name))
      .map((e) => e.name)
      .sort(),
    files: files.filter((n) => !isGoName(n)),
  };
}

/** A folder's listing (empty when it cannot be read). */
export const readGoFolder = (dir: string): GoFolder => folderOf(dir, readdir(dir));

/** The folders at and under `dir` (a module's cmd/) with buildable Go files, stopping at nested modules (each its own project). */
export function commandFolders(dir: string, own = readGoFolder(dir)): GoFolder[] {
  const out: GoFolder[] = own.goFiles.length ? [own] : [];
  for (const name of own.subDirs) {
    const sub = readGoFolder(join(dir, name));
    if (sub.files.includes('go.mod')) continue;
    out.push(...commandFolders(sub.dir, sub));
  }
  return out;
}

const isFile = (path: string) => statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;

/** The go.work in effect for a module folder: $GOWORK (off / a file), else the nearest go.work at or above it inside the workspace. */
export async function findGoWork(workspaceRoot: string, moduleDir: string, env: Record<string, string | undefined>): Promise<string | undefined> {
  return goWorkFinder(workspaceRoot, env)(moduleDir);
}

/** findGoWork for many modules: each folder on the way up is looked at once. */
export function goWorkFinder(workspaceRoot: string, env: Record<string, string | undefined>): (moduleDir: string) => Promise<string | undefined> {
  const gowork = env.GOWORK?.trim();
  const seen = new Map<string, string | undefined>();
  const at = (d: string): string | undefined => {
    if (seen.has(d)) return seen.get(d);
    const candidate = join(d, 'go.work');
    const found = isFile(candidate) ? candidate : d === workspaceRoot || dirname(d) === d || !d.startsWith(workspaceRoot) ? undefined : at(dirname(d));
    seen.set(d, found);
    return found;
  };
  return async (moduleDir) => (gowork === 'off' ? undefined : gowork ? resolve(workspaceRoot, gowork) : at(moduleDir));
}
