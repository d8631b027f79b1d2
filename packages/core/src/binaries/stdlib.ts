import type { Node } from '../graph/node';
import type { PackageListing } from '../go/packages';
import { BUILD_ENV_VARS, pickEnv, type Toolchain } from '../go/toolchain';
import { formatPlatform, goEnvFor, type Platform } from '../platform/platform';
import { run } from '../process/run';
import { FnbuildError } from '../util/errors';
import { keyOf } from '../util/hash';
import { CGO_ENV_VARS, type CompileSettings } from './compile';

export interface StdlibData {
  packages: number;
}

/**
 * stdlib(P): compiles exactly the standard-library packages the targets need, for one
 * platform and these settings, into GOCACHE. Every compile of P waits for it, then they run
 * side by side: two go processes never compile the same standard packages at once (GOCACHE
 * does not share work in progress). Keyed like a compile minus the sources, so a no-op
 * build (or one that only changed sources) finds it cached and starts nothing.
 *
 * It runs `go list -export` (which compiles each package for its export data, the very
 * compile action `go build` then finds in GOCACHE) rather than `go build`: go build is one
 * call per binary, which is what a reader of the go calls expects to see.
 */
export function stdlibNode(args: {
  tc: Toolchain;
  moduleDir: string;
  platform: Platform;
  settings: CompileSettings;
  listing: () => Promise<PackageListing>;
}): Node<StdlibData> {
  const { tc, platform, settings } = args;
  const platformEnv = { ...goEnvFor(platform), CGO_ENABLED: settings.cgo ? '1' : '0' };
  const id = formatPlatform(platform);
  const std = async () => (await args.listing()).std;
  return {
    kind: 'stdlib',
    id: `stdlib ${id}`,
    label: `stdlib ${id}`,
    key: async () =>
      keyOf({
        kind: 'stdlib',
        v: 1,
        go: tc.version,
        platformEnv,
        buildEnv: pickEnv(tc.env, BUILD_ENV_VARS),
        cgoEnv: settings.cgo ? pickEnv(tc.env, CGO_ENV_VARS) : {},
        userEnv: settings.env,
        flags: settings.flags,
        tags: settings.tags,
        std: await std(),
      }),
    async run(_scratch, signal) {
      const packages = await std();
      if (!packages.length) return { data: { packages: 0 } };
      const tags = settings.tags.length ? [`-tags=${settings.tags.join(',')}`] : [];
      const goArgs = ['list', '-export', '-trimpath', '-buildvcs=false', '-f={{.ImportPath}}', ...settings.flags, ...tags, '--', ...packages];
      const r = await run(tc.go, goArgs, { cwd: args.moduleDir, env: { ...tc.processEnv, ...platformEnv }, signal });
      // The compiles that need these packages say what is wrong with them, in their own words.
      if (r.exitCode !== 0) throw new FnbuildError(`the standard library for ${id} did not build:\n${(r.stderr || r.stdout).trim()}`);
      return { data: { packages: packages.length } };
    },
  };
}
