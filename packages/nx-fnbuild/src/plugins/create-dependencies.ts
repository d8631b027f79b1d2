import { promises as fs } from 'node:fs';
import { join, relative } from 'node:path';
import type { CreateDependencies, CreateDependenciesContext, DependencyType, RawProjectGraphDependency } from '@nx/devkit';
import {
  goBinaryStamp,
  goImportGraphs,
  hasReplaceDirective,
  isIgnoredGoMod,
  keyOf,
  LIST_ENV,
  listingRoots,
  nearestFolder,
  parentOf,
  readGoWork,
  readModReplaces,
  relDir,
  toPosix,
  type ListingReaders,
  type ListingRoot,
} from '@nx-fnbuild/core/workspace';
import { JsonMemo, workspaceDataDir } from '../utils/workspace-data';
import type { FnbuildPluginOptions } from './options';

type FileImports = { file: string; imports: string[] };

interface DepsMemo {
  works: Record<string, { use: string[]; replace: string[] }>;
  replaces: Record<string, string[]>;
  /** Per listing root, per member module: the key its listing was made under, and its files' imports. */
  roots: Record<string, Record<string, { key: string; files: FileImports[] }>>;
}

/** What Nx knows of the workspace's files: their hashes and owning projects (workspace-relative). */
interface FileIndex {
  hashes: Map<string, string>;
  owner: Map<string, string>;
  /** A file's hash: Nx's, else (a git-ignored go.work is not in Nx's file map) its content's. */
  hashOf: (rel: string) => Promise<string>;
}

function fileIndex(root: string, context: CreateDependenciesContext): FileIndex {
  const hashes = new Map<string, string>();
  const owner = new Map<string, string>();
  for (const [project, files] of Object.entries(context.fileMap.projectFileMap)) {
    for (const f of files) {
      hashes.set(f.file, f.hash);
      owner.set(f.file, project);
    }
  }
  for (const f of context.fileMap.nonProjectFiles) hashes.set(f.file, f.hash);
  const hashOf = async (rel: string) => hashes.get(rel) ?? keyOf(await fs.readFile(join(root, rel), 'utf8').catch(() => ''));
  return { hashes, owner, hashOf };
}

/** The core's go.work and go.mod readers, memoized in the plugin's memo by the files' hashes. */
function memoizedReaders(root: string, env: NodeJS.ProcessEnv, memo: JsonMemo<DepsMemo>, files: FileIndex): ListingReaders {
  const works = new Map<string, Promise<{ use: string[]; replace: string[] }>>();
  const readWork = async (file: string) => {
    const key = keyOf([relDir(root, file), await files.hashOf(relDir(root, file))]);
    if (!memo.data.works[key]) {
      const w = await readGoWork(file, env);
      memo.data.works[key] = { use: w.use.map((d) => relDir(root, d)), replace: w.replace.map((d) => relDir(root, d)) };
      memo.touch();
    }
    return memo.data.works[key];
  };
  const replaces = async (dir: string) => {
    const goMod = dir === '.' ? 'go.mod' : `${dir}/go.mod`;
    const text = await fs.readFile(join(root, goMod), 'utf8').catch(() => '');
    if (!hasReplaceDirective(text)) return [];
    const key = keyOf([goMod, keyOf(text)]);
    if (!memo.data.replaces[key]) {
      memo.data.replaces[key] = (await readModReplaces(join(root, goMod), env)).map((d) => relDir(root, d));
      memo.touch();
    }
    return memo.data.replaces[key];
  };
  return { work: (file) => works.get(file) ?? works.set(file, readWork(file)).get(file)!, replaces };
}

/** Each Go file and go.mod with its hash, by the module that holds it (the nearest go.mod above it), sorted. */
function goFilesByModule(files: FileIndex, modules: Set<string>): Map<string, [string, string][]> {
  const byModule = new Map<string, [string, string][]>();
  for (const [file, hash] of files.hashes) {
    if (!file.endsWith('.go') && !file.endsWith('go.mod')) continue;
    const m = nearestFolder(modules, parentOf(file));
    if (m) (byModule.get(m) ?? byModule.set(m, []).get(m)!).push([file, hash]);
  }
  for (const list of byModule.values()) list.sort(([a], [b]) => (a < b ? -1 : 1));
  return byModule;
}

interface Listing {
  root: ListingRoot;
  keys: Map<string, string>;
  stale: string[];
}

/** Per listing root and member: the key its imports are memoized under (how imports resolve, and the member's Go files). */
async function listingKeys(
  r: ListingRoot,
  byModule: Map<string, [string, string][]>,
  shared: { env: unknown; stamp: unknown; files: FileIndex },
): Promise<Map<string, string>> {
  // How any import resolves: the go.work, every go.mod involved, which package folders exist.
  const resolution = [...new Set(r.resolution)].sort();
  const goMods = resolution.map((m) => (byModule.get(m) ?? []).filter(([f]) => f.endsWith('go.mod')));
  const packageDirs = resolution.map((m) => [...new Set((byModule.get(m) ?? []).filter(([f]) => f.endsWith('.go')).map(([f]) => parentOf(f)))]);
  const work = r.workFile ? await shared.files.hashOf(r.workFile) : null;
  const key = keyOf({ v: 3, id: r.id, env: shared.env, rootEnv: r.env, stamp: shared.stamp, work, goMods, packageDirs });
  return new Map(r.members.map((m) => [m, keyOf([key, (byModule.get(m) ?? []).filter(([f]) => f.endsWith('.go'))])]));
}

/** Lists the stale members of each root (two go processes at a time) and stores their files' imports in the memo. */
async function refresh(root: string, listings: Listing[], ctx: { env: NodeJS.ProcessEnv; memo: JsonMemo<DepsMemo>; modules: Set<string> }): Promise<void> {
  const toList = listings.filter((l) => l.stale.length);
  const patterns = (l: Listing) =>
    l.stale.map((m) => {
      const rel = toPosix(relative(l.root.cwd, join(root, m)));
      return rel ? `./${rel}/...` : './...';
    });
  const graphs = await goImportGraphs(
    toList.map((l) => ({ cwd: l.root.cwd, patterns: patterns(l), env: { ...ctx.env, ...l.root.env } })),
    { concurrency: 2 },
  );
  const within = (p: string) => !relative(root, p).startsWith('..');
  for (const l of listings) {
    const saved = ctx.memo.data.roots[l.root.id] ?? {};
    const next: DepsMemo['roots'][string] = {};
    for (const m of l.root.members) next[m] = l.stale.includes(m) ? { key: l.keys.get(m)!, files: [] } : saved[m];
    for (const f of graphs[toList.indexOf(l)]?.files ?? []) {
      if (!within(f.file)) continue;
      const file = relDir(root, f.file);
      const m = nearestFolder(ctx.modules, parentOf(file));
      if (m && l.stale.includes(m)) next[m].files.push({ file, imports: f.imports.filter(within).map((d) => relDir(root, d)) });
    }
    if (l.stale.length || Object.keys(saved).length !== l.root.members.length) {
      ctx.memo.data.roots[l.root.id] = next;
      ctx.memo.touch();
    }
  }
  for (const id of Object.keys(ctx.memo.data.roots)) {
    if (!listings.some((l) => l.root.id === id)) {
      delete ctx.memo.data.roots[id];
      ctx.memo.touch();
    }
  }
}

/** Static edges from each file Nx knows to the projects owning the folders it imports. */
function edgesOf(imports: FileImports[], files: FileIndex, context: CreateDependenciesContext): RawProjectGraphDependency[] {
  const projectAt = new Map(Object.entries(context.projects).map(([name, p]) => [p.root || '.', name]));
  const seen = new Set<string>();
  const deps: RawProjectGraphDependency[] = [];
  for (const { file, imports: dirs } of imports) {
    const source = files.owner.get(file);
    if (!source) continue; // not a file Nx knows (git-ignored, generated): no edge can name it
    for (const dir of dirs) {
      const at = nearestFolder(projectAt, dir);
      const target = at === undefined ? undefined : projectAt.get(at);
      const id = `${source}\0${target}\0${file}`;
      if (!target || target === source || seen.has(id)) continue;
      seen.add(id);
      deps.push({ source, target, sourceFile: file, type: 'static' as DependencyType.static });
    }
  }
  return deps;
}

/**
 * Project dependencies from Go imports. `go list -deps` (through the core) says which
 * packages exist, which files they have and where each import path lives: other packages
 * of the module, other modules of the go.work, modules joined by a local replace. Each
 * file's own imports name the file behind an edge (a static dependency, as Nx wants it).
 *
 * Listings are memoized per module by the hashes Nx has of the files they depend on: an
 * unchanged graph starts no go process, and a change in one module of a large go.work
 * lists that module again, not the whole workspace.
 */
export async function goDependencies(_options: FnbuildPluginOptions | undefined, context: CreateDependenciesContext): Promise<RawProjectGraphDependency[]> {
  const root = context.workspaceRoot;
  const env = process.env;
  // Version 3: keys are the core's stable keys (keyOf).
  const memo = JsonMemo.open<DepsMemo>(join(workspaceDataDir(root), 'nx-fnbuild', 'dependencies.json'), 3, () => ({ works: {}, replaces: {}, roots: {} }));
  const files = fileIndex(root, context);
  const moduleDirs = [...files.hashes.keys()]
    .filter((f) => (f === 'go.mod' || f.endsWith('/go.mod')) && !isIgnoredGoMod(f))
    .map(parentOf)
    .sort();
  if (!moduleDirs.length) return [];
  const roots = await listingRoots(root, moduleDirs, { env, read: memoizedReaders(root, env, memo, files) });
  const modules = new Set(moduleDirs);
  const byModule = goFilesByModule(files, modules);
  const shared = { env: LIST_ENV.map((k) => [k, env[k] ?? null]), stamp: await goBinaryStamp(env), files };
  const listings = await Promise.all(
    roots.map(async (r): Promise<Listing> => {
      const keys = await listingKeys(r, byModule, shared);
      const saved = memo.data.roots[r.id] ?? {};
      return { root: r, keys, stale: r.members.filter((m) => saved[m]?.key !== keys.get(m)) };
    }),
  );
  await refresh(root, listings, { env, memo, modules });
  await memo.save();
  const imports = roots.flatMap((r) => r.members.flatMap((m) => memo.data.roots[r.id]?.[m]?.files ?? []));
  return edgesOf(imports, files, context);
}

export const createDependencies: CreateDependencies<FnbuildPluginOptions> = (options, context) => goDependencies(options, context);
