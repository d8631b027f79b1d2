import { promises as fs, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { hasReplaceDirective, readModText } from './modfile';
import { constraintExcludesAlways, parseGoHead } from './source';
import { commandFolders, goWorkFinder, readGoFolder, relDir, type GoFolder } from './workspace-folders';

type Env = Record<string, string | undefined>;

// The go commands (and the process layer) load on first use: a warm inference never runs one.
const graph = (): typeof import('./graph') => require('./graph');

/** What the go command says about one module of a workspace; paths workspace-relative, "/"-separated, "." for the root. */
export interface GoModuleFacts {
  /** The module folder (holds go.mod). */
  dir: string;
  /** The module path (go.mod's module line; the folder's name when it has none). */
  path: string;
  /** The module folder itself is a main package. */
  rootIsMain: boolean;
  /** Main packages at or under cmd/ (nested modules left out), as folders, sorted. */
  cmdMains: string[];
  /** The module folder has Go files of its own (tests included). */
  rootHasGo: boolean;
  /** Its sub-folders that can hold packages (not cmd/, bin/, hidden, testdata, vendor). */
  subDirs: string[];
  /** The go.work that uses this module, if any. */
  workFile?: string;
  /** Folders inside the workspace of the local modules joined by `replace` directives (go.mod's and go.work's), sorted. */
  replaces: string[];
}

/** A module looked at cheaply: what its facts depend on, and how to compute them. */
export interface GoModuleScan {
  /** Everything the facts depend on (plain JSON): equal inputs, equal facts. */
  inputs: unknown;
  /** No Go file was modified too recently for its stamp to be trusted (see RACY_MS): inputs may be memoized. */
  stable: boolean;
  /** The module folder's listing. */
  root: GoFolder;
  /** The folders at and under cmd/ with Go files. */
  commands: GoFolder[];
  /** Reads the Go file heads, and the go.work and go.mod replace directives through the go command when there are any. */
  facts: () => Promise<GoModuleFacts>;
}

export interface ScanOptions {
  env: Env;
  /** The go.work in effect for a module folder (default: goWorkFinder; share one across modules). */
  findWork?: (moduleDir: string) => Promise<string | undefined>;
  /** A go.work's text (many modules share one). */
  readWorkText?: (file: string) => string | undefined;
  /** `go work edit -json` of a go.work, absolute paths (default: readGoWork; share a memoized one across modules). */
  readWork?: (file: string) => Promise<{ use: string[]; replace: string[] }>;
}

/** Files modified this recently may still change within the same timestamp tick (git's "racily clean"): never trust a stamp of them. */
const RACY_MS = 2000;

const stamp = (file: string) => {
  const st = statSync(file, { bigint: true, throwIfNoEntry: false });
  return st ? [st.size.toString(), st.mtimeNs.toString(), st.ino.toString()] : null;
};

const readText = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/** The module path a go.mod's text declares. */
export const modulePathOf = (goMod: string): string | undefined => readModText(goMod).module;

/** A folder is a main package when its first buildable file that is not `//go:build ignore` says `package main`. */
export async function isMainPackage(folder: GoFolder): Promise<boolean> {
  for (const f of folder.goFiles) {
    const head = parseGoHead(await fs.readFile(join(folder.dir, f), 'utf8').catch(() => ''));
    if (!head.packageName || constraintExcludesAlways(head.buildConstraint)) continue;
    return head.packageName === 'main';
  }
  return false;
}

/** The folders a go.mod's local replace directives point at (absolute): `go mod edit -json`, run only when the file has a replace directive. */
export async function moduleReplaces(goModFile: string, text: string, env: Env): Promise<string[]> {
  return hasReplaceDirective(text) ? graph().readModReplaces(goModFile, env) : [];
}

/**
 * Looks at a module (directory listings, stats, go.mod and go.work texts) and says what
 * its facts depend on; the facts themselves read Go file heads and, where go.mod or
 * go.work has replace or use directives, ask the go command.
 */
export async function scanGoModule(workspaceRoot: string, goModRel: string, options: ScanOptions): Promise<GoModuleScan> {
  const { env } = options;
  const goModFile = join(workspaceRoot, goModRel);
  const dir = dirname(goModFile);
  const goMod = readFileSync(goModFile, 'utf8');
  const root = readGoFolder(dir);
  const commands = root.subDirs.includes('cmd') ? commandFolders(join(dir, 'cmd')) : [];
  const workFile = await (options.findWork ?? goWorkFinder(workspaceRoot, env))(dir);
  const workText = workFile ? (options.readWorkText ?? readText)(workFile) : undefined;
  const subDirs = root.subDirs.filter((name) => name !== 'cmd' && name !== 'bin');
  const stamps = [root, ...commands].flatMap((d) => d.goFiles.map((f) => [join(d.dir, f), stamp(join(d.dir, f))] as const));
  const now = Date.now();
  const stable = stamps.every(([, s]) => !s || now - Number(BigInt(s[1]) / 1_000_000n) > RACY_MS);
  const rel = (abs: string) => relDir(workspaceRoot, abs);
  const inputs = {
    goModRel,
    goMod,
    rootHasGo: root.hasGo,
    subDirs,
    stamps: stamps.map(([f, s]) => [rel(f), s]),
    work: workFile ? [rel(workFile), workText ?? null] : null,
  };

  const facts = async (): Promise<GoModuleFacts> => {
    const mains = await Promise.all([root, ...commands].map(isMainPackage));
    const replaces = new Set(await moduleReplaces(goModFile, goMod, env));
    let usedBy: string | undefined;
    if (workFile && workText !== undefined) {
      const work = await (options.readWork ?? ((f: string) => graph().readGoWork(f, env)))(workFile);
      if (work.use.includes(dir)) {
        usedBy = rel(workFile);
        for (const r of work.replace) replaces.add(r);
      }
    }
    return {
      dir: rel(dir),
      path: modulePathOf(goMod) ?? basename(dir),
      rootIsMain: mains[0],
      cmdMains: commands
        .filter((_, i) => mains[i + 1])
        .map((d) => rel(d.dir))
        .sort(),
      rootHasGo: root.hasGo,
      subDirs,
      ...(usedBy && { workFile: usedBy }),
      replaces: [...replaces]
        .filter((r) => r.startsWith(workspaceRoot + sep) || r === workspaceRoot)
        .map(rel)
        .sort(),
    };
  };
  return { inputs, stable, root, commands, facts };
}
