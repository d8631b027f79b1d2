import { promises as fs } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { validatedMemo } from '../cache/memo';
import type { Store } from '../cache/store';
import type { Node } from '../graph/node';
import { formatPlatform, goEnvFor, type Platform } from '../platform/platform';
import { run } from '../process/run';
import { FnbuildError } from '../util/errors';
import { keyOf } from '../util/hash';
import { parseJsonStream } from '../util/json-stream';
import type { Toolchain } from './toolchain';
import type { WatchedDir } from '../cache/memo';

/** A main package to build, as `go list` resolved it for one platform. */
export interface ResolvedTarget {
  /** The pattern as given to go list, relative to the module: "./cmd/server". */
  pattern: string;
  importPath: string;
  /** Package name: must be "main" to be buildable. */
  name: string;
  dir: string;
  /**
   * Every workspace file the build reads (Go, cgo, assembly, syso and embedded files of
   * the package and all its non-standard, non-module-cache dependencies), absolute, sorted.
   */
  files: string[];
  /** go list's own complaint (missing import, bad embed pattern, ...). */
  error?: string;
}

export interface PackageListing {
  targets: ResolvedTarget[];
  /**
   * Folders whose contents decide this listing: the files of workspace package folders
   * (their sub-folders are other packages, or a bin/ that changes nothing) and, whole,
   * every folder an embed pattern reaches into.
   */
  dirs: WatchedDir[];
  /** The standard-library packages the targets build from, sorted: what stdlib(P) compiles first. */
  std: string[];
}

interface ListedPackage {
  ImportPath: string;
  Dir?: string;
  Name?: string;
  Standard?: boolean;
  Match?: string[];
  Deps?: string[];
  Error?: { Err: string; Pos?: string };
  DepsErrors?: { Err: string; Pos?: string; ImportStack?: string[] }[];
  [files: string]: unknown;
}

const FILE_FIELDS = [
  'GoFiles',
  'CgoFiles',
  'CFiles',
  'CXXFiles',
  'MFiles',
  'HFiles',
  'FFiles',
  'SFiles',
  'SwigFiles',
  'SwigCXXFiles',
  'SysoFiles',
  'EmbedFiles',
];
const FIELDS = ['ImportPath', 'Dir', 'Name', 'Standard', 'Match', 'Deps', 'Error', 'DepsErrors', 'EmbedPatterns', ...FILE_FIELDS];

const under = (path: string, root: string | undefined) => !!root && (path === root || path.startsWith(root + sep));

/**
 * `go list -deps` for the given main packages on one platform: which packages they
 * build from and which workspace files those read. One go list call serves all targets.
 */
export async function listTargets(
  tc: Toolchain,
  o: { moduleDir: string; patterns: string[]; env: Record<string, string | undefined>; listFlags: string[]; signal?: AbortSignal },
): Promise<PackageListing> {
  const { moduleDir, patterns } = o;
  const args = ['list', '-e', '-deps', `-json=${FIELDS.join(',')}`, ...o.listFlags, '--', ...patterns];
  const r = await run(tc.go, args, { cwd: moduleDir, env: o.env, signal: o.signal });
  if (r.exitCode !== 0) {
    throw new FnbuildError(`go list failed in ${moduleDir}:\n${r.stderr.trim()}`, 'Fix the module (try `go list ./...` there) and build again.');
  }
  const pkgs = parseJsonStream<ListedPackage>(r.stdout);
  const byPath = new Map(pkgs.map((p) => [p.ImportPath, p]));
  const modCache = tc.env.GOMODCACHE;
  const goroot = tc.env.GOROOT;
  const inWorkspace = (p: ListedPackage) => !p.Standard && !!p.Dir && !under(p.Dir, modCache) && !under(p.Dir, goroot);

  const filesOf = (p: ListedPackage) => FILE_FIELDS.flatMap((f) => ((p[f] as string[] | undefined) ?? []).map((name) => join(p.Dir!, name)));
  const dirs = new Set<string>();
  const packageDirs = new Set<string>();
  for (const p of pkgs) {
    if (!inWorkspace(p)) continue;
    packageDirs.add(p.Dir!);
    // Every folder an embed pattern reaches into: a file added anywhere there can change the embed set.
    for (const pattern of (p.EmbedPatterns as string[] | undefined) ?? []) {
      const segments = pattern.replace(/^all:/, '').split('/');
      const glob = segments.findIndex((seg) => /[*?[\\]/.test(seg));
      const fixed = join(p.Dir!, ...(glob < 0 ? segments : segments.slice(0, glob)));
      for (const d of await dirsWithin(p.Dir!, fixed)) dirs.add(d);
    }
  }

  const targets = patterns.map((pattern): ResolvedTarget => {
    const root = pkgs.find((p) => p.Match?.includes(pattern));
    if (!root) return { pattern, importPath: pattern, name: '', dir: join(moduleDir, pattern), files: [], error: `go list found no package for ${pattern}` };
    const closure = [root, ...(root.Deps ?? []).map((d) => byPath.get(d)).filter((p): p is ListedPackage => !!p)];
    const files = closure.filter(inWorkspace).flatMap(filesOf).sort();
    const problems = [
      ...(root.Error ? [root.Error.Pos ? `${root.Error.Pos}: ${root.Error.Err}` : root.Error.Err] : []),
      ...(root.DepsErrors ?? []).map((e) => (e.Pos ? `${e.Pos}: ${e.Err}` : e.Err)),
    ];
    return {
      pattern,
      importPath: root.ImportPath,
      name: root.Name ?? '',
      dir: root.Dir ?? join(moduleDir, pattern),
      files,
      // go prints positions relative to its working directory (the module), like the compiler.
      error: problems.length ? [...new Set(problems)].join('\n') : undefined,
    };
  });
  const std = pkgs
    .filter((p) => p.Standard && !p.Error)
    .map((p) => p.ImportPath)
    .sort();
  return { targets, dirs: [...[...packageDirs].map((dir) => ({ dir, filesOnly: true as const })), ...[...dirs].sort()], std };
}

/**
 * go-list(P): the listing of every target for one platform, reused while the folders it
 * read are unchanged (so a no-op build starts no go list). No cache key of its own: its
 * validity is those folders, which the memo checks; the id makes it once per build.
 */
export function listingNode(o: {
  tc: Toolchain;
  store: Store;
  moduleDir: string;
  platform: Platform;
  cgo: boolean;
  /** go list flags that change what resolves: tags, -mod/-modfile, the function's -overlay. */
  listFlags: string[];
  patterns: string[];
  modulesKey: Promise<string>;
  /** A folder that exists only in the overlay (a function's entrypoint): not watched. */
  virtualDir?: string;
}): Node<PackageListing> {
  const { tc, platform, cgo, listFlags, patterns } = o;
  const id = formatPlatform(platform);
  return {
    kind: 'go-list',
    id: `go-list ${id}`,
    label: `go list ${id}`,
    async run(_scratch, signal) {
      const modules = await o.modulesKey;
      const key = keyOf({
        kind: 'go-list',
        v: 3,
        go: tc.version,
        dir: o.moduleDir,
        modules,
        platform: goEnvFor(platform),
        cgo,
        listFlags,
        patterns,
        goflags: tc.env.GOFLAGS ?? '',
      });
      const env = { ...tc.processEnv, ...goEnvFor(platform), CGO_ENABLED: cgo ? '1' : '0' };
      const { value } = await validatedMemo(o.store, key, async () => {
        const listing = await listTargets(tc, { moduleDir: o.moduleDir, patterns, env, listFlags, signal });
        return { value: listing, dirs: listing.dirs.filter((d) => (typeof d === 'string' ? d : d.dir) !== o.virtualDir) };
      });
      return { data: value };
    },
  };
}

async function subdirsOf(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    out.push(join(dir, e.name), ...(await subdirsOf(join(dir, e.name))));
  }
  return out;
}

/** The folders from the package down to `path` (an embed pattern's fixed prefix), and every folder below it. */
async function dirsWithin(pkgDir: string, path: string): Promise<string[]> {
  const isDir = (await fs.stat(path).catch(() => undefined))?.isDirectory() ?? false;
  const out: string[] = [];
  for (let d = isDir ? path : dirname(path); under(d, pkgDir) && d !== pkgDir; d = dirname(d)) out.push(d);
  if (isDir) out.push(...(await subdirsOf(path)));
  return out;
}

/** "./cmd/server" for a folder inside the module. */
export function patternFor(moduleDir: string, dir: string): string {
  const rel = relative(moduleDir, dir).split(sep).join('/');
  return rel === '' ? '.' : rel.startsWith('..') ? rel : `./${rel}`;
}
