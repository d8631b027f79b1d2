import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { validatedMemo } from '../cache/memo';
import { DEFAULT_MAX_CACHE_BYTES, parseSize, pruneIfDue } from '../cache/prune';
import { Store } from '../cache/store';
import { buildRunner } from '../graph/runner';
import type { Reporter } from '../graph/reporting';
import { modulesKey as computeModulesKey, modulesNode } from '../go/download';
import { loadModule } from '../go/module';
import { listTargets, type PackageListing } from '../go/packages';
import { resolveTargets, type TargetSpec } from '../go/targets';
import { loadToolchain, type Toolchain } from '../go/toolchain';
import { checkSupported, executableSuffix, formatPlatform, parsePlatforms, platformFolder, platformFromGoEnv, goEnvFor, type Platform } from '../platform/platform';
import { runOk } from '../process/run';
import { sourceInfo } from '../build/source-info';
import { expandTemplate } from '../build/templates';
import { FnbuildError } from '../util/errors';
import { writeFileAtomic } from '../util/fs-atomic';
import { keyOf } from '../util/hash';
import { compileNode, CompileError, type CompileSettings } from './compile';
import { exportNode } from './export';
import { parseOptions, buildBinariesOptionsSchema } from './options';

export interface BuildBinariesRequest {
  /** Absolute workspace root: relative paths (outputPath, cacheDir) resolve against it. */
  workspaceRoot: string;
  /** Absolute project folder: targets resolve against it. */
  projectRoot: string;
  /** Raw options (validated here): the executor's, the CLI's. */
  options: unknown;
  /** Defaults to process.env. */
  env?: Record<string, string | undefined>;
  report?: Reporter;
}

export interface Artifact {
  target: string;
  name: string;
  importPath: string;
  platform: string;
  /** Relative to the output folder: linux_amd64/server. */
  path: string;
  sha256: string;
  size: number;
  goVersion: string;
  cached: boolean;
}

export interface BuildBinariesResult {
  outputPath: string;
  artifacts: Artifact[];
  built: number;
  cached: number;
}

export class BuildFailedError extends FnbuildError {
  override name = 'BuildFailedError';
  constructor(readonly failures: Error[], total: number) {
    super(`${failures.length} of ${total} builds failed:\n${failures.map((f) => `  ✖ ${f.message}`).join('\n')}`);
  }
}

export function defaultCacheDir(workspaceRoot: string, env: Record<string, string | undefined>, option?: string): string {
  if (option) return resolve(workspaceRoot, option);
  if (env.NX_FNBUILD_CACHE_DIR) return resolve(workspaceRoot, env.NX_FNBUILD_CACHE_DIR);
  return join(workspaceRoot, '.fnbuild', 'cache');
}

async function distList(tc: Toolchain, store: Store): Promise<string[]> {
  const key = keyOf({ kind: 'dist-list', go: tc.version, goroot: tc.env.GOROOT });
  const saved = await store.getMemo<string[]>(key);
  if (saved) return saved;
  const list = (await runOk(tc.go, ['tool', 'dist', 'list'], { cwd: tc.env.GOROOT || '/', env: tc.processEnv })).split('\n').map((s) => s.trim()).filter(Boolean);
  await store.putMemo(key, list);
  return list;
}

/**
 * build-binaries: every target × platform through the cached graph
 * modules(M) → compile(T, P) → export(T, P), then artifacts.json. Failures of one
 * target or platform do not stop the others; they are reported together at the end.
 */
export async function buildBinaries(req: BuildBinariesRequest): Promise<BuildBinariesResult> {
  const opts = parseOptions(buildBinariesOptionsSchema, req.options, 'build-binaries');
  const baseEnv = req.env ?? process.env;
  const processEnv = { ...baseEnv, ...(opts.env ?? {}) };
  const store = await Store.open(defaultCacheDir(req.workspaceRoot, baseEnv, opts.cacheDir));
  try {
    const tc = await loadToolchain(req.projectRoot, processEnv, store);
    const module = await loadModule(tc, store, req.projectRoot);
    const platforms: Platform[] = opts.platforms ? parsePlatforms(opts.platforms) : [platformFromGoEnv(tc.env)];
    const supported = await distList(tc, store);
    platforms.forEach((p) => checkSupported(p, supported));
    const specs: TargetSpec[] | undefined = opts.targets?.map((t) => (typeof t === 'string' ? { path: t } : t));
    const targets = await resolveTargets(tc, store, module, req.projectRoot, specs);

    const info = sourceInfo(req.projectRoot, processEnv, opts.version, store);
    const ldflags = await expandTemplate([opts.ldflags ?? []].flat().join(' '), 'ldflags', info, processEnv, opts.version);
    const settings: CompileSettings = { flags: opts.flags ?? [], tags: opts.tags ?? [], ldflags, cgo: opts.cgo ?? false, env: opts.env ?? {} };
    const outputPath = resolve(req.workspaceRoot, opts.outputPath ?? join(relative(req.workspaceRoot, req.projectRoot), 'bin'));

    const runner = buildRunner(store, { parallelism: opts.parallelism ?? availableParallelism(), report: req.report ?? (() => {}) });
    const modsKey = computeModulesKey(tc, module, store.statMemo);
    const modules = runner.run(modulesNode(tc, module, modsKey));

    // go list flags that change what resolves: tags and -mod/-modfile.
    const listFlags = [...settings.flags.filter((f) => /^-mod(file)?=/.test(f)), ...(settings.tags.length ? [`-tags=${settings.tags.join(',')}`] : [])];
    const listings = new Map<string, Promise<PackageListing>>();
    const listingFor = (p: Platform) => {
      const id = formatPlatform(p);
      let l = listings.get(id);
      if (!l) {
        const env = { ...tc.processEnv, ...goEnvFor(p), CGO_ENABLED: settings.cgo ? '1' : '0' };
        const patterns = targets.map((t) => t.pattern);
        l = (async () => {
          const key = keyOf({ kind: 'go-list', v: 1, go: tc.version, dir: module.dir, modules: await modsKey, platform: goEnvFor(p), cgo: settings.cgo, listFlags, patterns, goflags: tc.env.GOFLAGS ?? '' });
          await modules; // go list must not race the download of the same modules
          const { value } = await validatedMemo(store, key, async () => {
            const listing = await listTargets(tc, module.dir, patterns, env, listFlags);
            return { value: listing, dirs: listing.dirs };
          });
          return value;
        })();
        listings.set(id, l);
      }
      return l;
    };

    const jobs = targets.flatMap((target) =>
      platforms.map(async (platform): Promise<Artifact> => {
        const compiled = await runner.run(compileNode({ tc, module, target, platform, settings, modulesKey: modsKey, listing: () => listingFor(platform), memo: store.statMemo }));
        const rel = join(platformFolder(platform), target.name + executableSuffix(platform));
        const blob = compiled.files.binary;
        await runner.run(exportNode(blob, join(outputPath, rel), relative(req.workspaceRoot, join(outputPath, rel)), store.statMemo));
        return {
          target: target.pattern,
          name: target.name,
          importPath: compiled.data.importPath,
          platform: formatPlatform(platform),
          path: rel.split('\\').join('/'),
          sha256: blob.digest.slice(7),
          size: blob.size,
          goVersion: compiled.data.goVersion,
          cached: compiled.cached,
        };
      }),
    );
    const settled = await Promise.allSettled([modules, ...jobs]);
    const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as Error);
    const artifacts = settled.slice(1).filter((s): s is PromiseFulfilledResult<Artifact> => s.status === 'fulfilled').map((s) => s.value);
    artifacts.sort((a, b) => (a.target + a.platform < b.target + b.platform ? -1 : 1));
    await writeFileAtomic(join(outputPath, 'artifacts.json'), JSON.stringify(artifacts, null, 2) + '\n');
    if (failures.length) {
      // A modules failure fails every compile with the same message: say it once.
      const unique = [...new Map(failures.map((f) => [f.message, f])).values()];
      if (unique.some((f) => !(f instanceof FnbuildError))) throw unique.find((f) => !(f instanceof FnbuildError));
      throw new BuildFailedError(unique, jobs.length);
    }
    return { outputPath, artifacts, built: artifacts.filter((a) => !a.cached).length, cached: artifacts.filter((a) => a.cached).length };
  } finally {
    await store.close();
    await pruneIfDue(store.root, baseEnv.NX_FNBUILD_CACHE_MAX_SIZE ? parseSize(baseEnv.NX_FNBUILD_CACHE_MAX_SIZE) : DEFAULT_MAX_CACHE_BYTES).catch(() => undefined);
  }
}

export { CompileError };
