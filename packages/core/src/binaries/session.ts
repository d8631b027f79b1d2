import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { validatedMemo } from '../cache/memo';
import { DEFAULT_MAX_CACHE_BYTES, parseSize, pruneIfDue } from '../cache/prune';
import { Store } from '../cache/store';
import { sourceInfo, type SourceInfo } from '../build/source-info';
import { expandTemplate } from '../build/templates';
import { modulesKey as computeModulesKey, modulesNode, type ModulesResult } from '../go/download';
import { loadModule, type GoModule } from '../go/module';
import { listTargets, type PackageListing } from '../go/packages';
import { resolveTargets, type Target, type TargetSpec } from '../go/targets';
import { loadToolchain, type Toolchain } from '../go/toolchain';
import type { Outcome, Runner } from '../graph/node';
import type { Reporter } from '../graph/reporting';
import { buildRunner } from '../graph/runner';
import { checkSupported, formatPlatform, goEnvFor, parsePlatforms, type Platform } from '../platform/platform';
import { runOk } from '../process/run';
import { readFuncYaml } from '../functions/func-yaml';
import { checkoutGitSource, type ResolvedSource } from '../functions/git-source';
import { planFunction, type FunctionProject } from '../functions/function';
import { FnbuildError } from '../util/errors';
import { keyOf } from '../util/hash';
import { compileNode, type CompileData, type CompileSettings } from './compile';
import type { BuildSettings } from './options';

/** Where a build runs and who hears about it: what the executor or the CLI knows. */
export interface BuildRequest {
  /** Absolute workspace root: relative paths (outputPath, cacheDir) resolve against it. */
  workspaceRoot: string;
  /** Absolute project folder: targets resolve against it. */
  projectRoot: string;
  /** Raw options (validated by the command): the executor's, the CLI's. */
  options: unknown;
  /** Defaults to process.env. */
  env?: Record<string, string | undefined>;
  report?: Reporter;
}

/**
 * One project's compile graph, shared by every command that needs binaries:
 * modules(M) once, compile(T, P) on demand, all through one runner (cache, limit,
 * de-duplication, progress).
 */
export interface BuildSession {
  tc: Toolchain;
  store: Store;
  module: GoModule;
  targets: Target[];
  platforms: Platform[];
  /** Where the sources are: the project folder, or the checkout of its git source. */
  sourceRoot: string;
  /** Set when the sources come from git: what the revision resolved to. */
  source?: ResolvedSource;
  /** Set for a function project: the function, its func.yaml and generated entrypoint. */
  fn?: FunctionProject;
  runner: Runner;
  env: Record<string, string | undefined>;
  info: () => Promise<SourceInfo>;
  version?: string;
  modules: Promise<Outcome<ModulesResult>>;
  compile(target: Target, platform: Platform): Promise<Outcome<CompileData>>;
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
 * Opens the store, runs `use` with a session, and always saves the stat memo and prunes
 * (at most hourly) afterwards. `defaultPlatforms` is what applies when the options name
 * none: the host for binaries, linux/amd64 for images.
 */
export async function withSession<T>(
  req: BuildRequest,
  opts: BuildSettings & { buildEnv?: Record<string, string> },
  defaultPlatforms: (tc: Toolchain) => Platform[],
  use: (s: BuildSession) => Promise<T>,
): Promise<T> {
  const baseEnv = req.env ?? process.env;
  const userEnv = { ...(opts.env ?? {}), ...(opts.buildEnv ?? {}) };
  const env = { ...baseEnv, ...userEnv };
  const store = await Store.open(defaultCacheDir(req.workspaceRoot, baseEnv, opts.cacheDir));
  try {
    const checkout = opts.source ? await checkoutGitSource(opts.source, { cacheDir: store.root, env }) : undefined;
    const source = checkout?.source;
    const sourceRoot = checkout?.root ?? req.projectRoot;
    const tc = await loadToolchain(sourceRoot, env, store);
    const module = await loadModule(tc, store, sourceRoot);
    const platforms = opts.platforms ? parsePlatforms(opts.platforms) : defaultPlatforms(tc);
    const supported = await distList(tc, store);
    platforms.forEach((p) => checkSupported(p, supported));

    // A function project: named by functionName or described by a func.yaml; or, when it
    // has no main package to build, named by FUNC_NAME (so a FUNC_NAME in the environment
    // of `nx run-many` never turns a service into a function).
    const funcYaml = await readFuncYaml(req.projectRoot);
    const specs: TargetSpec[] | undefined = opts.targets?.map((t) => (typeof t === 'string' ? { path: t } : t));
    const envName = env.FUNC_NAME || undefined;
    const asFunction = opts.functionName || funcYaml;
    if (asFunction && opts.targets) throw new FnbuildError('a function project builds its function: the targets option does not apply', 'Remove targets, or functionName (and func.yaml) to build main packages.');
    const mains = asFunction ? [] : await resolveTargets(tc, store, module, sourceRoot, specs, { allowNone: !!envName });
    let fn: FunctionProject | undefined;
    if (asFunction || !mains.length) {
      fn = await planFunction({ tc, store, module, packageDir: sourceRoot, functionName: opts.functionName ?? envName, funcYaml, version: opts.version, displayName: basename(req.projectRoot) });
    }
    const targets = fn ? [fn.target] : mains;

    const info = sourceInfo(sourceRoot, env, opts.version, store);
    const ldflags = await expandTemplate([opts.ldflags ?? []].flat().join(' '), 'ldflags', info, env, opts.version);
    const settings: CompileSettings = { flags: opts.flags ?? [], tags: opts.tags ?? [], ldflags, cgo: opts.cgo ?? false, env: userEnv };

    const runner = buildRunner(store, { parallelism: opts.parallelism ?? availableParallelism(), report: req.report ?? (() => {}) });
    const modsKey = computeModulesKey(tc, module, store.statMemo);
    const modules = runner.run(modulesNode(tc, module, modsKey));
    modules.catch(() => undefined); // reported through the compiles that need it

    // go list flags that change what resolves: tags and -mod/-modfile.
    const listFlags = [
      ...settings.flags.filter((f) => /^-mod(file)?=/.test(f)),
      ...(settings.tags.length ? [`-tags=${settings.tags.join(',')}`] : []),
      ...(fn ? [`-overlay=${fn.entry.overlay}`] : []),
    ];
    const patterns = targets.map((t) => t.pattern);
    const firstOfPlatform = new Map<string, Promise<void>>();
    const listings = new Map<string, Promise<PackageListing>>();
    const listingFor = (p: Platform): Promise<PackageListing> => {
      const id = formatPlatform(p);
      let l = listings.get(id);
      if (!l) {
        const listEnv = { ...tc.processEnv, ...goEnvFor(p), CGO_ENABLED: settings.cgo ? '1' : '0' };
        l = (async () => {
          const key = keyOf({ kind: 'go-list', v: 2, go: tc.version, dir: module.dir, modules: await modsKey, platform: goEnvFor(p), cgo: settings.cgo, listFlags, patterns, goflags: tc.env.GOFLAGS ?? '' });
          await modules; // go list must not race the download of the same modules
          const { value } = await validatedMemo(store, key, async () => {
            const listing = await listTargets(tc, module.dir, patterns, listEnv, listFlags);
            // The entrypoint's folder exists only in the overlay, whose name is in the key.
            return { value: listing, dirs: listing.dirs.filter((d) => !fn || (typeof d === 'string' ? d : d.dir) !== fn.entry.dir) };
          });
          return value;
        })();
        listings.set(id, l);
      }
      return l;
    };

    return await use({
      tc,
      store,
      module,
      targets,
      platforms,
      sourceRoot,
      ...(source ? { source } : {}),
      fn,
      runner,
      env,
      info,
      version: opts.version,
      modules,
      compile: (target, platform) => {
        const node = () => runner.run(compileNode({ tc, module, target, platform, settings, modulesKey: modsKey, listing: () => listingFor(platform), memo: store.statMemo }));
        // The first compile of a platform builds its standard library into GOCACHE; the others
        // of that platform wait for it, so two go processes never compile the same packages
        // at once (GOCACHE does not share work in progress). Different platforms run side by side.
        const id = formatPlatform(platform);
        const first = firstOfPlatform.get(id);
        if (!first) {
          const p = node();
          firstOfPlatform.set(id, p.then(() => undefined, () => undefined));
          return p;
        }
        return first.then(node);
      },
    });
  } finally {
    await store.close();
    await pruneIfDue(store.root, baseEnv.NX_FNBUILD_CACHE_MAX_SIZE ? parseSize(baseEnv.NX_FNBUILD_CACHE_MAX_SIZE) : DEFAULT_MAX_CACHE_BYTES).catch(() => undefined);
  }
}

export class BuildFailedError extends FnbuildError {
  override name = 'BuildFailedError';
  constructor(
    readonly failures: Error[],
    total: number,
  ) {
    super(`${failures.length} of ${total} builds failed:\n${failures.map((f) => `  ✖ ${f.message}`).join('\n')}`);
  }
}

/**
 * Waits for every job (one failure never stops the others), then returns the values, or
 * throws one error naming every distinct failure. A bug (a non-user error) is rethrown as is.
 */
export async function settleAll<T>(jobs: Promise<T>[]): Promise<{ values: T[]; failures: Error[] }> {
  const settled = await Promise.allSettled(jobs);
  const values = settled.filter((s): s is PromiseFulfilledResult<Awaited<T>> => s.status === 'fulfilled').map((s) => s.value as T);
  const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as Error);
  // A modules failure fails every compile with the same error: say it once.
  return { values, failures: [...new Map(failures.map((f) => [f.message, f])).values()] };
}

export function throwFailures(failures: Error[], total: number): void {
  if (!failures.length) return;
  const bug = failures.find((f) => !(f instanceof FnbuildError));
  if (bug) throw bug;
  throw new BuildFailedError(failures, total);
}
