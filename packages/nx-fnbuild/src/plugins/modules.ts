import { promises as fs, readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { lazyCore } from '../utils/lazy-core';
import { hashOf } from '../utils/workspace-data';

/** What inference needs to know about one Go module; paths are workspace-relative, "/"-separated, "." for the root. */
export interface ModuleFacts {
  /** The module folder (holds go.mod). */
  dir: string;
  /** The module path (go.mod's module line). */
  path: string;
  /** The module folder itself is a main package. */
  rootIsMain: boolean;
  /** Main packages under cmd/, as folders. */
  cmdMains: string[];
  /** The module folder has Go files of its own (tests included). */
  rootHasGo: boolean;
  /** Its sub-folders that can hold packages (not cmd/, bin/, hidden, testdata, vendor). */
  subDirs: string[];
  /** Folders (the module's, a main package's or a function's) with a project.json, and the name it gives (null: none). */
  projectJson: Record<string, string | null>;
  /** Function folders (holding a func.yaml; the module's own included), and the image name func.yaml gives (null: unreadable). */
  functions: Record<string, string | null>;
  /** Listings of the module folder and the folders between it and its function folders (only when it has function sub-folders). */
  folders?: Record<string, Folder>;
  /** The go.work that uses this module, if any. */
  workFile?: string;
  /** Folders of the local modules joined by `replace` directives (go.mod's and go.work's). */
  replaces: string[];
}

/** What a folder holds, for the test patterns around the projects inside a module. */
export interface Folder {
  /** It has Go files of its own (tests included). */
  hasGo: boolean;
  /** Its sub-folders that can hold packages. */
  subDirs: string[];
}

/** Folders the go command never treats as packages of this module (and node's). */
const SKIP_DIR = (name: string) => name.startsWith('.') || name.startsWith('_') || name === 'testdata' || name === 'vendor' || name === 'node_modules';

/** A go.mod (or func.yaml) in a fixture or vendored copy, not a module (or function) of the workspace. */
export function isIgnoredGoMod(rel: string): boolean {
  return rel
    .split('/')
    .slice(0, -1)
    .some((seg) => SKIP_DIR(seg));
}

export const toPosix = (p: string) => p.split(sep).join('/');
export const relDir = (root: string, abs: string) => toPosix(relative(root, abs)) || '.';

interface GoDir {
  dir: string;
  files: string[];
  hasProjectJson: boolean;
}

// Inference runs on every Nx command: the scan is many tiny file system calls, made
// synchronously (a thread-pool round trip each would cost more than the call).
function readdir(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

const buildable = (name: string) => name.endsWith('.go') && !name.endsWith('_test.go') && !name.startsWith('.') && !name.startsWith('_');

function goDirOf(dir: string, entries: Dirent[]): GoDir {
  return {
    dir,
    files: entries.filter((e) => !e.isDirectory() && buildable(e.name)).map((e) => e.name).sort(),
    hasProjectJson: entries.some((e) => e.name === 'project.json' && !e.isDirectory()),
  };
}

/** The folders under cmd/ with Go files, stopping at nested modules. */
function cmdDirs(dir: string, entries = readdir(dir)): GoDir[] {
  const out: GoDir[] = [];
  const own = goDirOf(dir, entries);
  if (own.files.length) out.push(own);
  for (const e of entries) {
    if (!e.isDirectory() || SKIP_DIR(e.name)) continue;
    const sub = join(dir, e.name);
    const subEntries = readdir(sub);
    if (subEntries.some((x) => x.name === 'go.mod')) continue; // another module: its own project
    out.push(...cmdDirs(sub, subEntries));
  }
  return out;
}

const hasGoFiles = (entries: Dirent[]) => entries.some((e) => !e.isDirectory() && e.name.endsWith('.go') && !e.name.startsWith('.') && !e.name.startsWith('_'));
const packageDirs = (entries: Dirent[]) => entries.filter((e) => e.isDirectory() && !SKIP_DIR(e.name)).map((e) => e.name).sort();

const isFile = (path: string) => statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;

/** The go.work in effect for a module: $GOWORK (off / a file), else the nearest go.work at or above it inside the workspace. */
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

export function modulePathOf(goMod: string): string | undefined {
  for (const raw of goMod.split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    const m = /^module\s+("?)([^"\s]+)\1$/.exec(line);
    if (m) return m[2];
  }
  return undefined;
}

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

/** Files modified this recently may still change within the same timestamp tick (git's "racily clean"): never trust a stamp of them. */
const RACY_MS = 2000;

/** func.yaml's name (the image name), or null when the file is malformed: inference carries on and the build reports it. */
function imageNameIn(text: string, path: string): string | null {
  try {
    return lazyCore().parseFuncYaml(text, path).data.name;
  } catch {
    return null;
  }
}

/**
 * The listings of the module folder and of every folder between it and a function folder
 * below it: what the module's `go test` patterns need to leave those projects out.
 * Undefined when no function sits below the module folder.
 */
function functionFolders(moduleDir: string, rootEntries: Dirent[], functionDirs: string[]): Map<string, Folder> | undefined {
  const below = functionDirs.filter((d) => d.startsWith(moduleDir + sep));
  if (!below.length) return undefined;
  const out = new Map<string, Folder>([[moduleDir, { hasGo: hasGoFiles(rootEntries), subDirs: packageDirs(rootEntries).filter((n) => n !== 'bin') }]]);
  for (const fn of below) {
    for (let d = dirname(fn); d !== moduleDir && d.startsWith(moduleDir + sep); d = dirname(d)) {
      if (out.has(d)) continue;
      const entries = readdir(d);
      out.set(d, { hasGo: hasGoFiles(entries), subDirs: packageDirs(entries) });
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
 * Looks at a module cheaply (directory listings, stats, go.mod, go.work and project.json
 * contents) and returns a fingerprint of everything its facts depend on, and how to
 * compute them (reading Go file heads, `go work edit -json`, `go mod edit -json`).
 */
export async function scanModule(workspaceRoot: string, goModRel: string, ctx: ScanContext): Promise<Scan> {
  const { env, readWork } = ctx;
  const findWork = ctx.findWork ?? goWorkFinder(workspaceRoot, env);
  const readWorkText = ctx.readWorkText ?? readText;
  const goModFile = join(workspaceRoot, goModRel);
  const dir = dirname(goModFile);
  const goMod = readFileSync(goModFile, 'utf8');
  const rootEntries = readdir(dir);
  const cmdEntry = rootEntries.find((e) => e.name === 'cmd' && e.isDirectory());
  const cmd = cmdEntry ? cmdDirs(join(dir, 'cmd')) : [];
  const workFile = await findWork(dir);
  const root = goDirOf(dir, rootEntries);
  const rootHasGo = hasGoFiles(rootEntries);
  const subDirs = packageDirs(rootEntries).filter((name) => name !== 'cmd' && name !== 'bin');
  const goDirs = [root, ...cmd];
  const workText = workFile ? readWorkText(workFile) : undefined;
  // Function folders: func.yaml's text decides the image name; the folders on the way down decide the module's test patterns.
  const functions = (ctx.funcYamls ?? []).map((f) => [dirname(join(workspaceRoot, f)), readText(join(workspaceRoot, f)) ?? ''] as const);
  const fnDirs = functions.map(([d]) => d).filter((d) => !goDirs.some((g) => g.dir === d)).map((d) => goDirOf(d, readdir(d)));
  const folders = functionFolders(dir, rootEntries, functions.map(([d]) => d));
  const projectJsons = [...goDirs, ...fnDirs].filter((d) => d.hasProjectJson).map((d) => [d.dir, readText(join(d.dir, 'project.json')) ?? ''] as const);
  const stamps = goDirs.flatMap((d) => d.files.map((f) => [join(d.dir, f), stamp(join(d.dir, f))] as const));
  const now = Date.now();
  const stable = stamps.every(([, s]) => !s || now - Number(BigInt(s[1]) / 1_000_000n) > RACY_MS);
  const fingerprint = hashOf({
    v: 3,
    goModRel,
    goMod,
    rootHasGo,
    subDirs,
    stamps: stamps.map(([f, s]) => [relDir(workspaceRoot, f), s]),
    projectJsons: projectJsons.map(([d, text]) => [relDir(workspaceRoot, d), hashOf(text)]),
    work: workFile ? [relDir(workspaceRoot, workFile), workText ?? null] : null,
    functions: functions.map(([d, text]) => [relDir(workspaceRoot, d), hashOf(text)]),
    folders: folders && [...folders].map(([d, f]) => [relDir(workspaceRoot, d), f]),
  });

  const compute = async (): Promise<ModuleFacts> => {
    const core = lazyCore();
    const isMain = async (d: GoDir): Promise<boolean> => {
      for (const f of d.files) {
        const head = core.parseGoHead(await fs.readFile(join(d.dir, f), 'utf8').catch(() => ''));
        if (!head.packageName || core.constraintExcludesAlways(head.buildConstraint)) continue;
        return head.packageName === 'main';
      }
      return false;
    };
    const mains = await Promise.all(goDirs.map(isMain));
    const rel = (abs: string) => relDir(workspaceRoot, abs);
    const functionDirs = new Set(functions.map(([d]) => d));
    const facts: ModuleFacts = {
      dir: rel(dir),
      path: modulePathOf(goMod) ?? basename(dir),
      rootIsMain: mains[0],
      // A function folder is a function project, even if it also holds a main package (its build says what is wrong).
      cmdMains: cmd.filter((d, i) => mains[i + 1] && !functionDirs.has(d.dir)).map((d) => rel(d.dir)).sort(),
      rootHasGo,
      subDirs,
      projectJson: {},
      functions: Object.fromEntries(functions.map(([d, text]) => [rel(d), imageNameIn(text, join(d, 'func.yaml'))])),
      ...(folders && { folders: Object.fromEntries([...folders].map(([d, f]) => [rel(d), f])) }),
      replaces: [],
    };
    for (const [d, text] of projectJsons) {
      let name: string | null = null;
      try {
        const n = (JSON.parse(text) as { name?: unknown }).name;
        name = typeof n === 'string' && n ? n : null;
      } catch {
        // an unreadable project.json is Nx's to report
      }
      facts.projectJson[rel(d)] = name;
    }
    const replaces = new Set<string>();
    if (/^\s*replace\b/m.test(goMod)) for (const r of await core.readModReplaces(goModFile, env)) replaces.add(r);
    if (workFile && workText !== undefined) {
      const work = await readWork(workFile);
      if (work.use.includes(dir)) {
        facts.workFile = rel(workFile);
        for (const r of work.replace) replaces.add(r);
      }
    }
    facts.replaces = [...replaces].filter((r) => r.startsWith(workspaceRoot + sep) || r === workspaceRoot).map(rel).sort();
    return facts;
  };
  return { fingerprint, stable, compute };
}
