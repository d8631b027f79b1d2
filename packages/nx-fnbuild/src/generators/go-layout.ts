import { posix } from 'node:path';
import type { Tree } from '@nx/devkit';
import { addWorkUse, localGoVersion, readModText } from '@nx-fnbuild/core/workspace';

/** Where new Go code goes and what it joins. All paths workspace-relative, "/"-separated. */
export interface Placement {
  /** The folder of the new package. */
  dir: string;
  /** The module it joins (an existing go.mod above it), if any. */
  module?: { dir: string; path: string };
  /** The go.work a new module joins, if any. */
  workFile?: string;
}

export function normalizeDirectory(directory: string): string {
  const d = posix
    .normalize(directory.replace(/\\/g, '/').trim())
    .replace(/^\.\/+/, '')
    .replace(/\/+$/, '');
  if (!d || d === '.' || d.startsWith('../') || d === '..' || posix.isAbsolute(d)) {
    throw new Error(`directory "${directory}" must be a folder inside the workspace, e.g. "services/api"`);
  }
  return d;
}

const parents = (dir: string): string[] => {
  const out: string[] = [];
  for (let d = posix.dirname(dir); ; d = posix.dirname(d)) {
    out.push(d);
    if (d === '.') return out;
  }
};

const join = (dir: string, file: string) => (dir === '.' ? file : `${dir}/${file}`);

/** The module path a go.mod's text declares (read by the core's go.mod reader). */
export const modulePathIn = (text: string): string | undefined => readModText(text).module;

/** The module and go.work around a new package folder (which must not exist as a module yet). */
export function placementFor(tree: Tree, dir: string): Placement {
  if (tree.exists(join(dir, 'go.mod'))) throw new Error(`${dir} already holds a Go module (${join(dir, 'go.mod')})`);
  const out: Placement = { dir };
  for (const d of parents(dir)) {
    const goMod = join(d, 'go.mod');
    if (!out.module && tree.exists(goMod)) out.module = { dir: d, path: modulePathIn(tree.read(goMod, 'utf8') ?? '') ?? d };
    if (!out.workFile && tree.exists(join(d, 'go.work'))) out.workFile = join(d, 'go.work');
  }
  return out;
}

/** "go 1.26" for a new go.mod: the go.work's, else the local toolchain's (major.minor), else 1.22. */
export async function goVersionFor(tree: Tree, workFile: string | undefined): Promise<string> {
  const fromWork = workFile ? readModText(tree.read(workFile, 'utf8') ?? '').go : undefined;
  if (fromWork && /^\d+\.\d+(\.\d+)?$/.test(fromWork)) return fromWork;
  const local = await localGoVersion(process.env);
  // No go command: a version every supported toolchain reads.
  return local ? local.join('.') : '1.22';
}

/**
 * A module path for a new module: next to the go.work's other modules (their common
 * prefix), else example.com/<name>.
 */
export function defaultModulePath(tree: Tree, workFile: string | undefined, dir: string): string {
  const name = posix.basename(dir);
  if (workFile) {
    const workDir = posix.dirname(workFile);
    for (const use of workUses(tree.read(workFile, 'utf8') ?? '')) {
      const goMod = join(posix.normalize(join(workDir, use)), 'go.mod');
      const path = tree.exists(goMod) ? modulePathIn(tree.read(goMod, 'utf8') ?? '') : undefined;
      if (path?.includes('/')) return `${path.slice(0, path.lastIndexOf('/'))}/${name}`;
    }
  }
  return `example.com/${name}`;
}

/** The folders a go.work's use directives name (single and block form). */
export const workUses = (text: string): string[] => readModText(text).use;

/** Adds `use ./<dir>` to a go.work (inside its use block when it has one); a no-op when already there. */
export function addToWork(tree: Tree, workFile: string, moduleDir: string): void {
  const text = tree.read(workFile, 'utf8') ?? '';
  const use = `./${posix.relative(posix.dirname(workFile), moduleDir)}`;
  if (workUses(text).some((u) => posix.normalize(u) === posix.normalize(use))) return;
  tree.write(workFile, addWorkUse(text, use));
}

/** A Go package name from a folder name: lower case letters and digits ("shared-utils" → "sharedutils"). */
export function packageNameFor(dir: string): string {
  const name = posix
    .basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '');
  return /^[a-z_]/.test(name) ? name : `pkg${name}`;
}

/** Writes go.mod for a new module at placement.dir and joins the go.work around it. */
export async function createModule(tree: Tree, p: Placement, modulePath: string | undefined): Promise<string> {
  const path = modulePath ?? defaultModulePath(tree, p.workFile, p.dir);
  if (!/^[A-Za-z0-9][A-Za-z0-9._~/-]*$/.test(path)) throw new Error(`module path "${path}" is not a valid Go module path (e.g. example.com/team/api)`);
  tree.write(join(p.dir, 'go.mod'), `module ${path}\n\ngo ${await goVersionFor(tree, p.workFile)}\n`);
  if (p.workFile) addToWork(tree, p.workFile, p.dir);
  return path;
}
