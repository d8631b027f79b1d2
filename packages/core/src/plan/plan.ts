import { basename } from 'node:path';
import type { Store } from '../cache/store';
import type { CompileSettings } from '../binaries/compile';
import type { BuildSettings } from '../binaries/options';
import { sourceInfo, type SourceInfo } from '../build/source-info';
import { expandTemplate } from '../build/templates';
import { readFuncYaml } from '../functions/func-yaml';
import { functionImage, planFunction, type FunctionProject } from '../functions/function';
import { checkoutGitSource, type ResolvedSource } from '../functions/git-source';
import { loadModule, type GoModule } from '../go/module';
import { resolveTargets, type Target, type TargetSpec } from '../go/targets';
import { distListNode, loadToolchain, type Toolchain } from '../go/toolchain';
import { goCacheEnv, type GoCacheEnvRequest } from '../gocache/env';
import type { Runner } from '../graph/node';
import type { BuildImageOptions } from '../images/options';
import { checkSupported, parsePlatform, parsePlatforms, platformFromGoEnv, type Platform } from '../platform/platform';
import { FnbuildError } from '../util/errors';
import { imageDefaults, type ImageDefaults } from './image';
import { planKey, rememberPlan, reusedPlan } from './memo';

/** Whose plan: what the executor or the CLI knows of the project. */
export interface PlanRequest {
  workspaceRoot: string;
  projectRoot: string;
  /** The Nx project's name: the default image name. */
  projectName?: string;
  /** Defaults to process.env. */
  env?: Record<string, string | undefined>;
}

/** What to plan: a command's validated options (build-image's give the image too). */
export type PlanInput = { settings: BuildSettings; image?: undefined } | { settings: BuildSettings; image: BuildImageOptions };

/**
 * Everything about a project's build that does not depend on building: resolved once,
 * then reused while what it was read from is unchanged (plan/memo.ts). Plain data.
 */
export interface ProjectPlan {
  workspaceRoot: string;
  projectRoot: string;
  /** Where the sources are: the project folder, or the checkout of its git source. */
  sourceRoot: string;
  /** Set when the sources come from git: what the revision resolved to. */
  source?: ResolvedSource;
  /** What go commands and templates see: the environment and the user's env settings. */
  env: Record<string, string | undefined>;
  tc: Toolchain;
  module: GoModule;
  platforms: Platform[];
  targets: Target[];
  settings: CompileSettings;
  /** go list flags that change what resolves: tags, -mod/-modfile, a function's -overlay. */
  listFlags: string[];
  /** The version option ({version} without git). */
  version?: string;
  /** Set for a function project: the function, its func.yaml and its generated entrypoint. */
  fn?: FunctionProject;
  /** Set when planning an image; its tags are expanded. */
  image?: ImageDefaults;
  /** Why Go's own cache does not go through the configured remote cache (old Go, the user's GOCACHEPROG). */
  goCacheNote?: string;
}

/** The planning context: nodes (dist list, the function's analysis) run through the build's runner. */
export interface PlanContext {
  store: Store;
  runner: Runner;
  /** The remote cache, when one is configured: Go's own cache then goes through it (GOCACHEPROG). */
  goCache?: GoCacheEnvRequest['remote'];
}

/** The project's plan: the one in memory while it holds (checked with readdirs and stats, no process), else planned now. */
export async function planProject(req: PlanRequest, input: PlanInput, ctx: PlanContext): Promise<ProjectPlan> {
  const key = planKey(req, input);
  const reused = await reusedPlan(key, ctx.store);
  if (reused) return reused;
  let used: SourceInfo | undefined;
  const plan = await resolvePlan(req, input, ctx, (p) => async () => (used = await sourceInfo(p.sourceRoot, p.env, p.version, ctx.store)()));
  rememberPlan(key, ctx.store, { plan, info: used });
  return plan;
}

type InfoFor = (p: Pick<ProjectPlan, 'sourceRoot' | 'env' | 'version'>) => () => Promise<SourceInfo>;

async function resolvePlan(req: PlanRequest, input: PlanInput, ctx: PlanContext, infoFor: InfoFor): Promise<ProjectPlan> {
  const { settings: opts } = input;
  const { store, runner } = ctx;
  const userEnv = { ...(opts.env ?? {}) };
  const env = { ...(req.env ?? process.env), ...userEnv };
  const checkout = opts.source ? await checkoutGitSource(opts.source, { cacheDir: store.root, env }) : undefined;
  const sourceRoot = checkout?.root ?? req.projectRoot;
  const loaded = await loadToolchain(sourceRoot, env, store);
  // Merged after the toolchain is read, into the go commands' env only: GOCACHEPROG and NX_FNBUILD_* are in no key.
  const goCache = goCacheEnv({ goVersion: loaded.semver, cacheDir: store.root, remote: ctx.goCache, userEnv: env, goEnv: loaded.env });
  const tc = Object.keys(goCache.env).length ? { ...loaded, processEnv: { ...loaded.processEnv, ...goCache.env } } : loaded;
  const module = await loadModule(tc, store, sourceRoot);
  const platforms = opts.platforms ? parsePlatforms(opts.platforms) : [input.image ? parsePlatform('linux/amd64') : platformFromGoEnv(tc.env)];
  // Independent, so side by side; an unknown platform is still the error said first.
  const [dist, planned] = await Promise.allSettled([runner.run(distListNode(tc)), planTargets(req, opts, { tc, store, runner, module, sourceRoot, env })]);
  if (dist.status === 'rejected') throw dist.reason;
  platforms.forEach((p) => checkSupported(p, dist.value.data));
  if (planned.status === 'rejected') throw planned.reason;
  const { targets, fn } = planned.value;
  const version = opts.version;
  const info = infoFor({ sourceRoot, env, version });
  const ldflags = await expandTemplate([opts.ldflags ?? []].flat().join(' '), 'ldflags', info, env, version);
  const settings: CompileSettings = { flags: opts.flags ?? [], tags: opts.tags ?? [], ldflags, cgo: opts.cgo ?? false, env: userEnv };
  const listFlags = [
    ...settings.flags.filter((f) => /^-mod(file)?=/.test(f)),
    ...(settings.tags.length ? [`-tags=${settings.tags.join(',')}`] : []),
    ...(fn ? [`-overlay=${fn.entry.overlay}`] : []),
  ];
  const { workspaceRoot, projectRoot } = req;
  const source = checkout ? { source: checkout.source } : {};
  const note = goCache.note ? { goCacheNote: goCache.note } : {};
  const plan: ProjectPlan = {
    workspaceRoot,
    projectRoot,
    sourceRoot,
    ...source,
    env,
    tc,
    module,
    platforms,
    targets,
    settings,
    listFlags,
    version,
    fn,
    ...note,
  };
  if (!input.image) return plan;
  const image = imageDefaults({ options: input.image, fn: fn && functionImage(fn), projectName: req.projectName, projectRoot: req.projectRoot });
  const tags = [...new Set(await Promise.all(image.tags.map((t) => expandTemplate(t, 'tags', info, env, version))))];
  return { ...plan, image: { ...image, tags } };
}

/**
 * A function project (named by functionName or described by a func.yaml; or, when it has
 * no main package to build, named by FUNC_NAME, so a FUNC_NAME in the environment of
 * `nx run-many` never turns a service into a function) builds its generated entrypoint;
 * any other project its main packages.
 */
async function planTargets(
  req: PlanRequest,
  opts: BuildSettings,
  c: { tc: Toolchain; store: Store; runner: Runner; module: GoModule; sourceRoot: string; env: Record<string, string | undefined> },
): Promise<{ targets: Target[]; fn?: FunctionProject }> {
  const funcYaml = await readFuncYaml(req.projectRoot);
  const specs: TargetSpec[] | undefined = opts.targets?.map((t) => (typeof t === 'string' ? { path: t } : t));
  const envName = c.env.FUNC_NAME || undefined;
  const asFunction = opts.functionName || funcYaml;
  if (asFunction && opts.targets) {
    throw new FnbuildError(
      'a function project builds its function: the targets option does not apply',
      'Remove targets, or functionName (and func.yaml) to build main packages.',
    );
  }
  const mains = asFunction ? [] : await resolveTargets(c.tc, c.store, c.module, c.sourceRoot, specs, { allowNone: !!envName });
  if (!asFunction && mains.length) return { targets: mains };
  const fn = await planFunction({
    ...c,
    packageDir: c.sourceRoot,
    functionName: opts.functionName ?? envName,
    funcYaml,
    version: opts.version,
    displayName: basename(req.projectRoot),
  });
  return { targets: [fn.target], fn };
}
