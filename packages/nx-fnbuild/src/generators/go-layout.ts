import { execFileSync } from 'node:child_process';
import { posix } from 'node:path';
import type { Tree } from '@nx/devkit';

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
  const d = posix.normalize(directory.replace(/\\/g, '/').trim()).replace(/^\.\/+/, '').replace(/\/+$/, '');
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

export function modulePathIn(text: string): string | undefined {
  for (const raw of text.split('\n')) {
    const m = /^module\s+("?)([^"\s]+)\1$/.exec(raw.replace(/\/\/.*$/, '').trim());
    if (m) return m[2];
  }
  return undefined;
}

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

/** "go 1.26" for a new go.mod: the go.work's, else the toolchain's (major.minor), else 1.22. */
export function goVersionFor(tree: Tree, workFile: string | undefined): string {
  const fromWork = workFile && /^go\s+(\d+\.\d+(?:\.\d+)?)\s*$/m.exec(tree.read(workFile, 'utf8') ?? '')?.[1];
  if (fromWork) return fromWork;
  try {
    const go = process.env.GO?.trim() || 'go';
    const v = execFileSync(go, ['env', 'GOVERSION'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 }).trim();
    const m = /^go(\d+)\.(\d+)/.exec(v);
    if (m) return `${m[1]}.${m[2]}`;
  } catch {
    // no go command: a version every supported toolchain reads
  }
  return '1.22';
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
export function workUses(text: string): string[] {
  const out: string[] = [];
  const lines = text.split('\n').map((l) => l.replace(/\/\/.*$/, '').trim());
  for (let i = 0; i < lines.length; i++) {
    if (/^use\s*\($/.test(lines[i])) {
      for (i++; i < lines.length && lines[i] !== ')'; i++) if (lines[i]) out.push(lines[i].replace(/^"(.*)"$/, '$1'));
    } else {
      const m = /^use\s+(\S+)$/.exec(lines[i]);
      if (m && m[1] !== '(') out.push(m[1].replace(/^"(.*)"$/, '$1'));
    }
  }
  return out;
}

/** Adds `use ./<dir>` to a go.work (inside its use block when it has one); a no-op when already there. */
export function addToWork(tree: Tree, workFile: string, moduleDir: string): void {
  const text = tree.read(workFile, 'utf8') ?? '';
  const rel = posix.relative(posix.dirname(workFile), moduleDir);
  const use = `./${rel}`;
  if (workUses(text).some((u) => posix.normalize(u) === posix.normalize(use))) return;
  const block = /^use\s*\(\s*$/m.exec(text);
  if (block) {
    const close = text.indexOf('\n)', block.index);
    if (close >= 0) {
      tree.write(workFile, `${text.slice(0, close)}\n\t${use}${text.slice(close)}`);
      return;
    }
  }
  tree.write(workFile, `${text}${text.endsWith('\n') ? '' : '\n'}\nuse ${use}\n`);
}

/** A Go package name from a folder name: lower case letters and digits ("shared-utils" → "sharedutils"). */
export function packageNameFor(dir: string): string {
  const name = posix.basename(dir).toLowerCase().replace(/[^a-z0-9_]/g, '');
  return /^[a-z_]/.test(name) ? name : `pkg${name}`;
}

/** Writes go.mod for a new module at placement.dir and joins the go.work around it. */
export function createModule(tree: Tree, p: Placement, modulePath: string | undefined): string {
  const path = modulePath ?? defaultModulePath(tree, p.workFile, p.dir);
  if (!/^[A-Za-z0-9][A-Za-z0-9._~/-]*$/.test(path)) throw new Error(`module path "${path}" is not a valid Go module path (e.g. example.com/team/api)`);
  tree.write(join(p.dir, 'go.mod'), `module ${path}\n\ngo ${goVersionFor(tree, p.workFile)}\n`);
  if (p.workFile) addToWork(tree, p.workFile, p.dir);
  return path;
}
