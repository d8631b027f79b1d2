import { promises as fs } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { run } from '../process/run';
import { FnbuildError } from '../util/errors';
import { parseJsonStream } from '../util/json-stream';
import { constraintExcludesAlways, parseGoHead } from './source';
import { findGo } from './toolchain';

/**
 * Which workspace packages import which, as the go command resolves them: `go list -deps`
 * decides which packages exist, which files belong to them and where an import path
 * lives (modules, go.work, local replace directives); each file's own import block says
 * which of its files carries the import (so a graph can name the file behind an edge).
 */
export interface GoImportGraph {
  /** The Go files of local packages (tests and other platforms' files included) that import other local packages, and those packages' folders. */
  files: { file: string; imports: string[] }[];
  /** Local packages: import path → folder. */
  packages: Record<string, string>;
  /** go list's complaints, one line each (missing modules, broken files): the graph is then partial. */
  errors: string[];
}

interface ModuleJson {
  Path: string;
  Dir?: string;
  Main?: boolean;
  Replace?: { Path: string; Dir?: string } | null;
}

interface ListedPackage {
  ImportPath: string;
  Dir?: string;
  Standard?: boolean;
  Module?: ModuleJson;
  GoFiles?: string[];
  CgoFiles?: string[];
  IgnoredGoFiles?: string[];
  TestGoFiles?: string[];
  XTestGoFiles?: string[];
  Imports?: string[];
  TestImports?: string[];
  XTestImports?: string[];
  Error?: { Err: string };
  /** Listed only because a matched package needs it. */
  DepOnly?: boolean;
}

const FIELDS = [
  'ImportPath',
  'Dir',
  'Standard',
  'DepOnly',
  'Module',
  'GoFiles',
  'CgoFiles',
  'IgnoredGoFiles',
  'TestGoFiles',
  'XTestGoFiles',
  'Imports',
  'TestImports',
  'XTestImports',
  'Error',
];

const isLocalPath = (p: string) => p.startsWith('./') || p.startsWith('../') || isAbsolute(p);
const under = (path: string, root: string) => path === root || path.startsWith(root + sep);

/** The folder of a module that lives in the workspace (a main/workspace module or a local replacement), else undefined. */
function localModuleDir(m: ModuleJson | undefined): string | undefined {
  if (!m) return undefined;
  if (m.Replace) return isLocalPath(m.Replace.Path) ? m.Replace.Dir : undefined;
  return m.Main ? m.Dir : undefined;
}

/**
 * The import graph of the packages `patterns` match (run in `cwd`: a go.work folder with
 * "./services/api/..." per module, or a module with "./..."): their files and the local
 * packages each imports.
 */
export async function goImportGraph(req: { cwd: string; patterns: string[]; env: Record<string, string | undefined> }): Promise<GoImportGraph> {
  const go = await findGo(req.env);
  const r = await run(go, ['list', '-e', '-deps', `-json=${FIELDS.join(',')}`, '--', ...req.patterns], { cwd: req.cwd, env: req.env });
  if (r.exitCode !== 0 && !r.stdout.trim()) {
    throw new FnbuildError(`go list failed in ${req.cwd}:\n${r.stderr.trim()}`, 'Fix the module (try `go list ./...` there).');
  }
  const listed = parseJsonStream<ListedPackage>(r.stdout);
  const errors = [...new Set([...listed.flatMap((p) => (p.Error ? [p.Error.Err] : [])), ...(r.exitCode !== 0 ? [r.stderr.trim()] : [])])].filter(Boolean);

  const local = listed.filter((p) => !p.Standard && p.Dir && localModuleDir(p.Module) && under(p.Dir, localModuleDir(p.Module)!));
  const packages: Record<string, string> = {};
  for (const p of local) packages[p.ImportPath] = p.Dir!;
  // Longest module path first: an import only some platform or a test uses may be missing from the -deps listing.
  const modules = [...new Map(listed.flatMap((p) => (localModuleDir(p.Module) ? [[p.Module!.Path, localModuleDir(p.Module)!] as const] : []))).entries()].sort(
    ([a], [b]) => b.length - a.length,
  );
  const resolveImport = async (path: string): Promise<string | undefined> => {
    if (packages[path]) return packages[path];
    for (const [modPath, modDir] of modules) {
      if (path !== modPath && !path.startsWith(modPath + '/')) continue;
      const dir = join(modDir, ...path.slice(modPath.length).split('/').filter(Boolean));
      const st = await fs.stat(dir).catch(() => undefined);
      return st?.isDirectory() ? dir : undefined;
    }
    return undefined;
  };

  const files: GoImportGraph['files'] = [];
  // The files of the packages the patterns match; their dependencies only resolve imports.
  for (const p of local.filter((x) => !x.DepOnly)) {
    const names = [...(p.GoFiles ?? []), ...(p.CgoFiles ?? []), ...(p.IgnoredGoFiles ?? []), ...(p.TestGoFiles ?? []), ...(p.XTestGoFiles ?? [])];
    const heads = await Promise.all(
      names.map(async (name) => {
        const file = join(p.Dir!, name);
        const src = await fs.readFile(file, 'utf8').catch(() => '');
        return { file, head: parseGoHead(src) };
      }),
    );
    const seen = new Set<string>();
    const byFile = new Map<string, Set<string>>();
    for (const { file, head } of heads) {
      // IgnoredGoFiles are other platforms' files (they count: we cross-compile) and `//go:build ignore` scripts (they do not).
      if (constraintExcludesAlways(head.buildConstraint)) continue;
      const dirs = new Set<string>();
      for (const path of head.imports) {
        seen.add(path);
        const dir = await resolveImport(path);
        if (dir && dir !== p.Dir) dirs.add(dir);
      }
      byFile.set(file, dirs);
    }
    // What go list says the package imports is the truth; a file head we could not read must not lose an edge.
    const first = heads.find((h) => !h.file.endsWith('_test.go'))?.file ?? heads[0]?.file;
    for (const path of [...(p.Imports ?? []), ...(p.TestImports ?? []), ...(p.XTestImports ?? [])]) {
      if (seen.has(path) || !first) continue;
      const dir = await resolveImport(path);
      if (dir && dir !== p.Dir) byFile.get(first)?.add(dir) ?? byFile.set(first, new Set([dir]));
    }
    for (const [file, dirs] of byFile) if (dirs.size) files.push({ file, imports: [...dirs].sort() });
  }
  files.sort((a, b) => (a.file < b.file ? -1 : 1));
  return { files, packages, errors };
}

/** `go work edit -json`: the module folders a go.work uses (absolute) and its local replacements. */
export async function readGoWork(workFile: string, env: Record<string, string | undefined>): Promise<{ use: string[]; replace: string[] }> {
  const go = await findGo(env);
  const r = await run(go, ['work', 'edit', '-json', workFile], { cwd: dirname(workFile), env });
  if (r.exitCode !== 0) throw new FnbuildError(`go work edit -json ${workFile} failed:\n${r.stderr.trim()}`, 'Fix the go.work file (see `go help work`).');
  const json = JSON.parse(r.stdout) as { Use?: { DiskPath: string }[] | null; Replace?: { New: { Path: string } }[] | null };
  const dir = dirname(workFile);
  return {
    use: (json.Use ?? []).map((u) => resolve(dir, u.DiskPath)),
    replace: (json.Replace ?? []).filter((x) => isLocalPath(x.New.Path)).map((x) => resolve(dir, x.New.Path)),
  };
}

/** `go mod edit -json`: the folders a go.mod's local replace directives point at (absolute). */
export async function readModReplaces(modFile: string, env: Record<string, string | undefined>): Promise<string[]> {
  const go = await findGo(env);
  const r = await run(go, ['mod', 'edit', '-json', modFile], { cwd: dirname(modFile), env });
  if (r.exitCode !== 0) throw new FnbuildError(`go mod edit -json ${modFile} failed:\n${r.stderr.trim()}`, 'Fix the go.mod file (see `go help mod edit`).');
  const json = JSON.parse(r.stdout) as { Replace?: { New: { Path: string } }[] | null };
  return (json.Replace ?? []).filter((x) => isLocalPath(x.New.Path)).map((x) => resolve(dirname(modFile), x.New.Path));
}
