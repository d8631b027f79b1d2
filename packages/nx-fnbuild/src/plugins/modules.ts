import { readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { keyOf, readGoFolder, relDir, scanGoModule, type GoFolder, type GoModuleFacts } from '@nx-fnbuild/core/workspace';
import { lazyCore } from '../utils/lazy-core';

/**
 * What inference needs to know about one Go module: the go command's facts (from the
 * core) and the Nx and function ones (project.json names, func.yaml folders). Paths are
 * workspace-relative, "/"-separated, "." for the root.
 */
export interface ModuleFacts extends GoModuleFacts {
  /** Folders (the module's, a main package's or a function's) with a project.json, and the name it gives (null: none). */
  projectJson: Record<string, string | null>;
  /** Function folders (holding a func.yaml; the module's own included), and the image name func.yaml gives (null: unreadable). */
  functions: Record<string, string | null>;
  /** Listings of the module folder and the folders between it and its function folders (only when it has function sub-folders). */
  folders?: Record<string, Folder>;
}

/** What a folder holds, for the test patterns around the projects inside a module. */
export interface Folder {
  /** It has Go files of its own (tests included). */
  hasGo: boolean;
  /** Its sub-folders that can hold packages. */
  subDirs: string[];
}

const readText = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/** func.yaml's name (the image name), or null when the file is malformed: inference carries on and the build reports it. */
function imageNameIn(text: string, path: string): string | null {
  try {
    return lazyCore().parseFuncYaml(text, path).data.name;
  } catch {
    return null;
  }
}

/** The name a project.json gives, or null (an unreadable project.json is Nx's to report). */
function projectJsonName(text: string): string | null {
  try {
    const n = (JSON.parse(text) as { name?: unknown }).name;
    return typeof n === 'string' && n ? n : null;
  } catch {
    return null;
  }
}

/**
 * The listings of the module folder and of every folder between it and a function folder
 * below it: what the module's `go test` patterns need to leave those projects out.
 * Undefined when no function sits below the module folder.
 */
function functionFolders(root: GoFolder, functionDirs: string[]): Map<string, Folder> | undefined {
  const moduleDir = root.dir;
  const below = functionDirs.filter((d) => d.startsWith(moduleDir + sep));
  if (!below.length) return undefined;
  const out = new Map<string, Folder>([[moduleDir, { hasGo: root.hasGo, subDirs: root.subDirs.filter((n) => n !== 'bin') }]]);
  for (const fn of below) {
    for (let d = dirname(fn); d !== moduleDir && d.startsWith(moduleDir + sep); d = dirname(d)) {
      if (out.has(d)) continue;
      const f = readGoFolder(d);
      out.set(d, { hasGo: f.hasGo, subDirs: f.subDirs });
    }
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

export interface Scan {
  /** Changes whenever anything the facts depend on may have changed. */
  fingerprint: string;
  /** Safe to memoize (no file was modified too recently to trust its stamp). */
  stable: boolean;
  compute: () => Promise<ModuleFacts>;
}

export interface ScanContext {
  env: Record<string, string | undefined>;
  /** `go work edit -json` of a go.work (absolute paths). */
  readWork: (file: string) => Promise<{ use: string[]; replace: string[] }>;
  findWork?: (moduleDir: string) => Promise<string | undefined>;
  /** A go.work's text (many modules share one). */
  readWorkText?: (file: string) => string | undefined;
  /** The func.yaml files (workspace-relative) whose nearest go.mod is this module's. */
  funcYamls?: string[];
}

/**
 * Looks at a module cheaply (the core's scan: listings, stats, go.mod and go.work texts;
 * plus project.json and func.yaml contents) and returns a fingerprint of everything its
 * facts depend on, and how to compute them.
 */
export async function scanModule(workspaceRoot: string, goModRel: string, ctx: ScanContext): Promise<Scan> {
  const go = await scanGoModule(workspaceRoot, goModRel, ctx);
  const rel = (abs: string) => relDir(workspaceRoot, abs);
  // Function folders: func.yaml's text decides the image name; the folders on the way down decide the module's test patterns.
  const functions = (ctx.funcYamls ?? []).map((f) => [dirname(join(workspaceRoot, f)), readText(join(workspaceRoot, f)) ?? ''] as const);
  const goDirs = [go.root, ...go.commands];
  const fnDirs = functions
    .map(([d]) => d)
    .filter((d) => !goDirs.some((g) => g.dir === d))
    .map(readGoFolder);
  const folders = functionFolders(
    go.root,
    functions.map(([d]) => d),
  );
  const projectJsons = [...goDirs, ...fnDirs]
    .filter((d) => d.files.includes('project.json'))
    .map((d) => [d.dir, readText(join(d.dir, 'project.json')) ?? ''] as const);
  const fingerprint = keyOf({
    v: 4,
    go: go.inputs,
    projectJsons: projectJsons.map(([d, text]) => [rel(d), keyOf(text)]),
    functions: functions.map(([d, text]) => [rel(d), keyOf(text)]),
    folders: folders && [...folders].map(([d, f]) => [rel(d), f]),
  });

  const compute = async (): Promise<ModuleFacts> => {
    const facts = await go.facts();
    const functionDirs = new Set(functions.map(([d]) => rel(d)));
    return {
      ...facts,
      // A function folder is a function project, even if it also holds a main package (its build says what is wrong).
      cmdMains: facts.cmdMains.filter((d) => !functionDirs.has(d)),
      projectJson: Object.fromEntries(projectJsons.map(([d, text]) => [rel(d), projectJsonName(text)])),
      functions: Object.fromEntries(functions.map(([d, text]) => [rel(d), imageNameIn(text, join(d, 'func.yaml'))])),
      ...(folders && { folders: Object.fromEntries([...folders].map(([d, f]) => [rel(d), f])) }),
    };
  };
  return { fingerprint, stable: go.stable, compute };
}
