import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { delimiter, dirname, join, relative } from 'node:path';
import type { CreateDependencies, CreateDependenciesContext, DependencyType, RawProjectGraphDependency } from '@nx/devkit';
import { lazyCore } from '../utils/lazy-core';
import { hashOf, JsonMemo, workspaceDataDir } from '../utils/workspace-data';
import { goWorkFinder, isIgnoredGoMod, relDir, toPosix } from './modules';
import type { FnbuildPluginOptions } from './options';

/**
 * Where `go list` runs: a go.work with the modules it uses, or a module no go.work uses.
 * Paths are workspace-relative.
 */
interface ListingRoot {
  id: string;
  cwd: string;
  env: Record<string, string>;
  /** The modules listed here (one each a pattern). */
  members: string[];
  /** Modules whose go.mod and package folders decide how imports resolve: the members and their local replacements. */
  resolution: string[];
  workFile?: string;
}

type FileImports = { file: string; imports: string[] };

interface DepsMemo {
  works: Record<string, { use: string[]; replace: string[] }>;
  replaces: Record<string, string[]>;
  /** Per listing root, per member module: the key its listing was made under, and its files' imports. */
  roots: Record<string, Record<string, { key: string; files: FileImports[] }>>;
}

/** The env that changes which files `go list` sees and how imports resolve. */
const LIST_ENV = ['GOFLAGS', 'GOWORK', 'GOOS', 'GOARCH', 'CGO_ENABLED', 'GOEXPERIMENT', 'GOTOOLCHAIN', 'GOPATH'];

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const parentOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '.');

/** Which go binary runs, by path and stat: a new toolchain can change which files a package has. */
async function goStamp(env: NodeJS.ProcessEnv): Promise<unknown> {
  const wanted = env.GO?.trim() || 'go';
  const candidates = wanted.includes('/') ? [wanted] : (env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, wanted));
  for (const c of candidates) {
    const st = await fs.stat(await fs.realpath(c).catch(() => c)).catch(() => undefined);
    if (st?.isFile()) return [c, st.size, st.mtimeMs];
  }
  return null;
}

/** Up to `n` at once. */
async function limited<T>(n: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, jobs.length) }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]();
      }
    }),
  );
  return out;
}

/** The listing roots: each go.work with the modules it uses, and each module no go.work uses. */
async function listingRoots(root: string, moduleDirs: string[], env: NodeJS.ProcessEnv, memo: JsonMemo<DepsMemo>, fileHash: (rel: string) => Promise<string>): Promise<ListingRoot[]> {
  const abs = (rel: string) => join(root, rel);
  const works = new Map<string, Promise<{ use: string[]; replace: string[] }>>();
  const work = (file: string) => {
    let p = works.get(file);
    if (!p) {
      p = (async () => {
        const key = hashOf([relDir(root, file), await fileHash(relDir(root, file))]);
        if (!memo.data.works[key]) {
          const w = await lazyCore().readGoWork(file, env);
          memo.data.works[key] = { use: w.use.map((d) => relDir(root, d)), replace: w.replace.map((d) => relDir(root, d)) };
          memo.touch();
        }
        return memo.data.works[key];
      })();
      works.set(file, p);
    }
    return p;
  };
  const replacesOf = async (dir: string) => {
    const goMod = dir === '.' ? 'go.mod' : `${dir}/go.mod`;
    const text = await fs.readFile(abs(goMod), 'utf8').catch(() => '');
    if (!/^\s*replace\b/m.test(text)) return [];
    const key = hashOf([goMod, sha(text)]);
    if (!memo.data.replaces[key]) {
      memo.data.replaces[key] = (await lazyCore().readModReplaces(abs(goMod), env)).map((d) => relDir(root, d));
      memo.touch();
    }
    return memo.data.replaces[key];
  };

  const byWork = new Map<string, ListingRoot>();
  const roots: ListingRoot[] = [];
  const findWork = goWorkFinder(root, env);
  for (const dir of moduleDirs) {
    const workFile = await findWork(abs(dir));
    const w = workFile ? await work(workFile) : undefined;
    const replaces = await replacesOf(dir);
    if (workFile && w?.use.includes(dir)) {
      const rel = relDir(root, workFile);
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
      roots.push({ id: `module:${dir}`, cwd: abs(dir), env: workFile ? { GOWORK: 'off' } : {}, members: [dir], resolution: [dir, ...replaces] });
    }
  }
  return roots;
}

/**
 * Project dependencies from Go imports. `go list -deps` says which packages exist, which
 * files they have and where each import path lives: other packages of the module, other
 * modules of the go.work, modules joined by a local replace. Each file's own imports name
 * the file behind an edge (a static dependency, as Nx wants it).
 *
 * Listings are memoized per module by the hashes Nx has of the files they depend on: an
 * unchanged graph starts no go process, and a change in one module of a large go.work
 * lists that module again, not the whole workspace.
 */
export async function goDependencies(_options: FnbuildPluginOptions | undefined, context: CreateDependenciesContext): Promise<RawProjectGraphDependency[]> {
  const root = context.workspaceRoot;
  const env = process.env;
  const memo = JsonMemo.open<DepsMemo>(join(workspaceDataDir(root), 'nx-fnbuild', 'dependencies.json'), 2, () => ({ works: {}, replaces: {}, roots: {} }));

  const hashes = new Map<string, string>();
  const fileOwner = new Map<string, string>();
  for (const [project, files] of Object.entries(context.fileMap.projectFileMap)) {
    for (const f of files) {
      hashes.set(f.file, f.hash);
      fileOwner.set(f.file, project);
    }
  }
  for (const f of context.fileMap.nonProjectFiles) hashes.set(f.file, f.hash);
  // go.work is often git-ignored, so not in Nx's file map: hashed from disk then.
  const fileHash = async (rel: string) => hashes.get(rel) ?? sha(await fs.readFile(join(root, rel), 'utf8').catch(() => ''));

  const moduleDirs = [...hashes.keys()]
    .filter((f) => (f === 'go.mod' || f.endsWith('/go.mod')) && !isIgnoredGoMod(f))
    .map(parentOf)
    .sort();
  if (!moduleDirs.length) return [];
  const roots = await listingRoots(root, moduleDirs, env, memo, fileHash);

  // Each Go file and go.mod, in the module that holds it (the nearest go.mod above it).
  const modules = new Set(moduleDirs);
  const moduleOf = (rel: string) => {
    for (let d = parentOf(rel); ; d = parentOf(d)) {
      if (modules.has(d)) return d;
      if (d === '.') return undefined;
    }
  };
  const byModule = new Map<string, [string, string][]>();
  for (const [file, hash] of hashes) {
    if (!file.endsWith('.go') && !file.endsWith('go.mod')) continue;
    const m = moduleOf(file);
    if (m) (byModule.get(m) ?? byModule.set(m, []).get(m)!).push([file, hash]);
  }
  for (const list of byModule.values()) list.sort(([a], [b]) => (a < b ? -1 : 1));

  const stamp = await goStamp(env);
  const envKey = LIST_ENV.map((k) => [k, env[k] ?? null]);
  const results = await limited(
    2,
    roots.map((r) => async (): Promise<FileImports[]> => {
      // How any import resolves: the go.work, every go.mod involved, which package folders exist.
      const resolution = [...new Set(r.resolution)].sort();
      const goMods = resolution.map((m) => (byModule.get(m) ?? []).filter(([f]) => f.endsWith('go.mod')));
      const packageDirs = resolution.map((m) => [...new Set((byModule.get(m) ?? []).filter(([f]) => f.endsWith('.go')).map(([f]) => parentOf(f)))]);
      const shared = hashOf({ v: 2, id: r.id, env: envKey, rootEnv: r.env, stamp, work: r.workFile ? await fileHash(r.workFile) : null, goMods, packageDirs });
      const saved = memo.data.roots[r.id] ?? {};
      const keys = new Map(r.members.map((m) => [m, hashOf([shared, (byModule.get(m) ?? []).filter(([f]) => f.endsWith('.go'))])]));
      const stale = r.members.filter((m) => saved[m]?.key !== keys.get(m));
      const next: DepsMemo['roots'][string] = {};
      for (const m of r.members) if (!stale.includes(m)) next[m] = saved[m];
      if (stale.length) {
        const patterns = stale.map((m) => {
          const rel = toPosix(relative(r.cwd, join(root, m)));
          return rel ? `./${rel}/...` : './...';
        });
        const g = await lazyCore().goImportGraph({ cwd: r.cwd, patterns, env: { ...env, ...r.env } });
        const within = (p: string) => !relative(root, p).startsWith('..');
        for (const m of stale) next[m] = { key: keys.get(m)!, files: [] };
        for (const f of g.files) {
          if (!within(f.file)) continue;
          const file = relDir(root, f.file);
          const m = moduleOf(file);
          if (m && next[m]) next[m].files.push({ file, imports: f.imports.filter(within).map((d) => relDir(root, d)) });
        }
      }
      if (stale.length || Object.keys(saved).length !== r.members.length) {
        memo.data.roots[r.id] = next;
        memo.touch();
      }
      return Object.values(next).flatMap((x) => x.files);
    }),
  );
  for (const id of Object.keys(memo.data.roots)) {
    if (!roots.some((r) => r.id === id)) {
      delete memo.data.roots[id];
      memo.touch();
    }
  }
  await memo.save();

  const projectAt = new Map(Object.entries(context.projects).map(([name, p]) => [p.root || '.', name]));
  const ownerOfDir = (dir: string): string | undefined => {
    for (let d = dir; ; d = parentOf(d)) {
      const name = projectAt.get(d);
      if (name) return name;
      if (d === '.') return undefined;
    }
  };
  const seen = new Set<string>();
  const deps: RawProjectGraphDependency[] = [];
  for (const { file, imports } of results.flat()) {
    const source = fileOwner.get(file);
    if (!source) continue; // not a file Nx knows (git-ignored, generated): no edge can name it
    for (const dir of imports) {
      const target = ownerOfDir(dir);
      const id = `${source}\0${target}\0${file}`;
      if (!target || target === source || seen.has(id)) continue;
      seen.add(id);
      deps.push({ source, target, sourceFile: file, type: 'static' as DependencyType.static });
    }
  }
  return deps;
}

export const createDependencies: CreateDependencies<FnbuildPluginOptions> = (options, context) => goDependencies(options, context);
