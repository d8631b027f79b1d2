import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_MAX_CACHE_BYTES, parseSize, pruneIfDue } from '../cache/prune';
import { Store } from '../cache/store';
import { sourceInfo, type SourceInfo } from '../build/source-info';
import { modulesKey as computeModulesKey, modulesNode } from '../go/download';
import { listingNode, type PackageListing } from '../go/packages';
import type { Target } from '../go/targets';
import type { Outcome, Runner } from '../graph/node';
import type { Reporter } from '../graph/reporting';
import { remoteCacheFrom, remoteCacheModeFrom } from '../cache/remote-config';
import type { RemoteCache, RemoteCacheMode } from '../cache/remote';
import { remoteSummary, type RemoteTier, type RemoteTierStats } from '../graph/remote';
import { buildRunner } from '../graph/runner';
import { settlePlans } from '../plan/memo';
import { planProject, type PlanInput, type PlanRequest, type ProjectPlan } from '../plan/plan';
import type { Platform } from '../platform/platform';
import { FnbuildError } from '../util/errors';
import { compileNode, type CompileData } from './compile';
import { stdlibNode } from './stdlib';

/** Where a build runs and who hears about it: what the executor or the CLI knows. */
export interface BuildRequest extends PlanRequest {
  /** Raw options (validated by the command): the executor's, the CLI's. */
  options: unknown;
  report?: Reporter;
  /** Stops the build: nodes not started never start, running ones stop and their processes die. */
  signal?: AbortSignal;
  /** Where the remote tier's one warning goes (a remote that is down, slow or wrong); default stderr. */
  warn?: (line: string) => void;
}

/** What a build with a remote cache says about it: the stats, the one summary line, why Go's own cache does not use it (if so). */
export interface RemoteCacheReport {
  name: string;
  stats: RemoteTierStats;
  summary: string;
  goCacheNote?: string;
}

/** A command's result, and the remote cache's report when one is configured. */
export type WithRemoteCache<T> = T & { remoteCache?: RemoteCacheReport };

/** How long the build's end waits for write-behind uploads before it leaves them undone (one warning). */
const FLUSH_MS = 120_000;
const STOPPED_FLUSH_MS = 5_000;

/** One build of a project: its plan, and what its nodes run through. */
export interface Build {
  plan: ProjectPlan;
  store: Store;
  runner: Runner;
  /** Who hears about nodes (push's own runner reports there too). */
  report: Reporter;
  signal?: AbortSignal;
  /** The sources' version, commit and date: read lazily, once. */
  info: () => Promise<SourceInfo>;
  /** compile(T, P) on demand, after modules(M), go-list(P) and stdlib(P). */
  compile(target: Target, platform: Platform): Promise<Outcome<CompileData>>;
}

export function defaultCacheDir(workspaceRoot: string, env: Record<string, string | undefined>, option?: string): string {
  if (option) return resolve(workspaceRoot, option);
  if (env.NX_FNBUILD_CACHE_DIR) return resolve(workspaceRoot, env.NX_FNBUILD_CACHE_DIR);
  return join(workspaceRoot, '.fnbuild', 'cache');
}

/** The configured remote (the remoteCache option wins over NX_FNBUILD_REMOTE_CACHE), the raw URL the go commands get, and the mode. */
interface OpenRemote {
  remote: RemoteCache;
  url: string;
  mode: RemoteCacheMode;
  insecureRegistries?: readonly string[];
}

function openRemote(input: PlanInput, env: Record<string, string | undefined>): OpenRemote | undefined {
  const option = input.settings.remoteCache;
  const insecureRegistries = input.image?.insecureRegistries;
  const remote = remoteCacheFrom({ option, env, ...(insecureRegistries ? { insecureRegistries } : {}) });
  if (!remote) return undefined;
  const url = (option?.trim() || env.NX_FNBUILD_REMOTE_CACHE?.trim())!;
  return { remote, url, mode: remoteCacheModeFrom(env), ...(insecureRegistries ? { insecureRegistries } : {}) };
}

/**
 * Opens the store (and the remote cache, when one is configured), plans the project, runs
 * `use` with the build, and always flushes the remote's uploads (bounded), saves the stat
 * memo and prunes (at most hourly) afterwards.
 */
export async function withBuild<T extends object>(req: BuildRequest, input: PlanInput, use: (b: Build) => Promise<T>): Promise<WithRemoteCache<T>> {
  req.signal?.throwIfAborted();
  const baseEnv = req.env ?? process.env;
  const opened = openRemote(input, baseEnv);
  let tier: RemoteTier | undefined;
  try {
    const store = await Store.open(defaultCacheDir(req.workspaceRoot, baseEnv, input.settings.cacheDir));
    try {
      const { signal } = req;
      const report = req.report ?? (() => {});
      const warn = req.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
      const remote = opened && { remote: opened.remote, mode: opened.mode, warn: (line: string) => warn(`warning: ${line}`) };
      const runner = buildRunner(store, { parallelism: input.settings.parallelism ?? availableParallelism(), report, signal, ...(remote ? { remote } : {}) });
      tier = runner.tier;
      const goCache = opened && { url: opened.url, mode: opened.mode, ...(opened.insecureRegistries ? { insecureRegistries: opened.insecureRegistries } : {}) };
      const plan = await planProject(req, input, { store, runner, ...(goCache ? { goCache } : {}) });
      const info = sourceInfo(plan.sourceRoot, plan.env, plan.version, store);
      const result = await use({ plan, store, runner, report, ...(signal ? { signal } : {}), info, compile: compileGraph(plan, store, runner) });
      signal?.throwIfAborted();
      if (!tier || !opened) return result as WithRemoteCache<T>;
      await tier.flush({ timeoutMs: FLUSH_MS });
      const stats = tier.stats();
      const { name } = opened.remote;
      const remoteCache: RemoteCacheReport = {
        name,
        stats,
        summary: remoteSummary(name, stats),
        ...(plan.goCacheNote ? { goCacheNote: plan.goCacheNote } : {}),
      };
      // Assigned, not spread: push's result is an array.
      return Object.assign(result, { remoteCache });
    } finally {
      // Failed builds too: what was built is worth sharing (the tier never fails a build; bounded, and short once stopped).
      await tier?.flush({ timeoutMs: req.signal?.aborted ? STOPPED_FLUSH_MS : FLUSH_MS });
      await settlePlans();
      await store.close();
      await pruneIfDue(store.root, baseEnv.NX_FNBUILD_CACHE_MAX_SIZE ? parseSize(baseEnv.NX_FNBUILD_CACHE_MAX_SIZE) : DEFAULT_MAX_CACHE_BYTES).catch(
        () => undefined,
      );
    }
  } finally {
    await opened?.remote.close?.().catch(() => undefined);
  }
}

/**
 * The compile graph of a plan: modules(M) once; per platform go-list(P) (after the download,
 * which it must not race) and stdlib(P); then compile(T, P), which needs stdlib(P) only when
 * it has to run (its `before`). Edges are awaits outside the nodes' runs (in keys, in
 * `before`, or ahead of runner.run), so no node holds a slot while it waits for another.
 */
function compileGraph(plan: ProjectPlan, store: Store, runner: Runner): Build['compile'] {
  const { tc, module, settings } = plan;
  const modulesKey = computeModulesKey(tc, module, store.statMemo);
  const modules = runner.run(modulesNode(tc, module, modulesKey));
  modules.catch(() => undefined); // reported through the compiles that need it
  const patterns = plan.targets.map((t) => t.pattern);
  const listing = (platform: Platform): Promise<PackageListing> =>
    modules.then(async () => {
      const node = listingNode({
        tc,
        store,
        moduleDir: module.dir,
        platform,
        cgo: settings.cgo,
        listFlags: plan.listFlags,
        patterns,
        modulesKey,
        virtualDir: plan.fn?.entry.dir,
      });
      return (await runner.run(node)).data;
    });
  return (target, platform) => {
    const list = () => listing(platform);
    // Its failure is the compiles' to explain, in their own words (a CompileError names the target).
    const before = () => runner.run(stdlibNode({ tc, moduleDir: module.dir, platform, settings, listing: list })).catch(() => undefined);
    return runner.run(compileNode({ tc, module, target, platform, settings, modulesKey, listing: list, memo: store.statMemo, before }));
  };
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
 * Waits for every job (one failure never stops the others) and returns what succeeded and
 * what failed, each distinct failure once; throwFailures decides what to throw.
 */
export async function settleAll<T>(jobs: Promise<T>[]): Promise<{ values: T[]; failures: Error[] }> {
  const settled = await Promise.allSettled(jobs);
  const values = settled.filter((s): s is PromiseFulfilledResult<Awaited<T>> => s.status === 'fulfilled').map((s) => s.value as T);
  const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as Error);
  // A modules failure fails every compile with the same error: say it once.
  return { values, failures: [...new Map(failures.map((f) => [f.message, f])).values()] };
}

/** Nothing when nothing failed; a bug (a non-user error) as is; else one error naming every failure. */
export function throwFailures(failures: Error[], total: number): void {
  if (!failures.length) return;
  const bug = failures.find((f) => !(f instanceof FnbuildError));
  if (bug) throw bug;
  throw new BuildFailedError(failures, total);
}
