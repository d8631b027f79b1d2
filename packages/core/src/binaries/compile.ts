import { join, relative } from 'node:path';
import type { StatMemo } from '../cache/stat-memo';
import type { Node } from '../graph/node';
import type { GoModule } from '../go/module';
import type { PackageListing } from '../go/packages';
import type { Target } from '../go/targets';
import { BUILD_ENV_VARS, pickEnv, type Toolchain } from '../go/toolchain';
import { executableSuffix, formatPlatform, goEnvFor, type Platform } from '../platform/platform';
import { run } from '../process/run';
import { FnbuildError } from '../util/errors';
import { keyOf } from '../util/hash';

/** Everything about a build besides the target and platform; part of every compile key. */
export interface CompileSettings {
  flags: string[];
  tags: string[];
  /** Already expanded: the key holds the exact bytes passed to the linker. */
  ldflags: string;
  cgo: boolean;
  /** The user's env option (already merged into the toolchain's process env). */
  env: Record<string, string>;
}

/** Env that changes a cgo build: the C toolchain and its flags. */
export const CGO_ENV_VARS = ['CC', 'CXX', 'CGO_CFLAGS', 'CGO_CPPFLAGS', 'CGO_CXXFLAGS', 'CGO_FFLAGS', 'CGO_LDFLAGS', 'PKG_CONFIG'];

export class CompileError extends FnbuildError {
  override name = 'CompileError';
  constructor(
    readonly target: Target,
    readonly platform: Platform,
    readonly details: string,
  ) {
    super(`${target.name} (${target.pattern}) for ${formatPlatform(platform)}:\n${details.replace(/^/gm, '    ')}`);
  }
}

export interface CompileData {
  importPath: string;
  goVersion: string;
}

/**
 * compile(T, P): `go build` of one main package for one platform. Keyed on the modules
 * key, the content of every workspace file go list says the package reads, the
 * toolchain, the platform env and every build setting. Always -trimpath and
 * -buildvcs=false: the binary must not depend on where the checkout is or on git state
 * the key does not see.
 */
export function compileNode(args: {
  tc: Toolchain;
  module: GoModule;
  target: Target;
  platform: Platform;
  settings: CompileSettings;
  modulesKey: Promise<string>;
  listing: () => Promise<PackageListing>;
  memo: StatMemo;
  /** What must be done before this compile runs (stdlib(P)); a cache hit needs none of it. */
  before?: () => Promise<unknown>;
}): Node<CompileData> {
  const { tc, module, target, platform, settings } = args;
  const platformEnv = { ...goEnvFor(platform), CGO_ENABLED: settings.cgo ? '1' : '0' };
  const id = `compile ${target.pattern} ${formatPlatform(platform)}`;
  let resolved: Promise<{ key: string; importPath: string }> | undefined;
  const resolve = () =>
    (resolved ??= (async () => {
      const listing = await args.listing();
      const t = listing.targets.find((x) => x.pattern === target.pattern);
      if (!t) throw new CompileError(target, platform, 'go list did not report this package');
      if (t.error) throw new CompileError(target, platform, t.error);
      if (t.name !== 'main') {
        throw new CompileError(target, platform, `package ${t.name} is not a main package; a target must be a folder with package main (and a func main).`);
      }
      // A function's generated main.go exists only in the overlay: its digest stands for it.
      const real = target.entry ? t.files.filter((f) => !f.startsWith(target.dir + '/')) : t.files;
      const files = await Promise.all(real.map(async (f) => [relative(module.dir, f), (await args.memo.digest(f))?.digest ?? null]));
      const cgoEnv = settings.cgo ? pickEnv(tc.env, CGO_ENV_VARS) : {};
      const { GOROOT: _ignored, ...buildEnv } = pickEnv(tc.env, BUILD_ENV_VARS);
      const key = keyOf({
        kind: 'compile',
        v: 1,
        modules: await args.modulesKey,
        go: tc.version,
        importPath: t.importPath,
        files,
        platformEnv,
        buildEnv,
        cgoEnv,
        userEnv: settings.env,
        flags: settings.flags,
        tags: settings.tags,
        ldflags: settings.ldflags,
        ...(target.entry && { entrypoint: target.entry.digest }),
      });
      return { key, importPath: t.importPath };
    })());

  return {
    kind: 'compile',
    id,
    label: `compile ${target.name} ${formatPlatform(platform)}`,
    key: async () => (await resolve()).key,
    ...(args.before ? { before: args.before } : {}),
    async run(scratch, signal) {
      const { importPath } = await resolve();
      const out = join(scratch, target.name + executableSuffix(platform));
      const goArgs = ['build', '-trimpath', '-buildvcs=false', '-o', out, ...(target.entry ? [`-overlay=${target.entry.overlay}`] : []), ...settings.flags];
      if (settings.tags.length) goArgs.push(`-tags=${settings.tags.join(',')}`);
      if (settings.ldflags) goArgs.push(`-ldflags=${settings.ldflags}`);
      goArgs.push('--', target.pattern);
      const r = await run(tc.go, goArgs, { cwd: module.dir, env: { ...tc.processEnv, ...platformEnv }, signal });
      if (r.exitCode !== 0) throw new CompileError(target, platform, (r.stderr || r.stdout).trim());
      return { data: { importPath, goVersion: tc.version }, paths: { binary: out } };
    },
  };
}
