import { z } from 'zod';
import type { Store } from '../cache/store';
import type { Runner } from '../graph/node';
import type { GoModule } from '../go/module';
import { patternFor } from '../go/packages';
import type { Target } from '../go/targets';
import type { Toolchain } from '../go/toolchain';
import { FnbuildError } from '../util/errors';
import { FRAMEWORK_MODULE, writeEntrypoint, type Entrypoint } from './entrypoint';
import { pinFuncYaml, type FuncYaml, type FuncYamlPins } from './func-yaml';
import { checkHandler, functionPackageNode, soleHandler } from './handler';

/** The options that make a project a function project, shared by every command. */
export const functionSettings = {
  functionName: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'functionName is the Go name of the exported function, e.g. "Hello"')
    .optional(),
  source: z
    .object({
      git: z.string().min(1),
      revision: z.string().min(1).optional(),
      subPath: z.string().min(1).optional(),
    })
    .strict('valid keys: git, revision, subPath')
    .optional(),
};

export interface FunctionProject {
  /** The Go function served; undefined when the framework picks it (FUNCTION_TARGET). */
  functionName?: string;
  /** Served by OpenFunction's functions-framework-go, which the function registers with. */
  framework: boolean;
  funcYaml?: FuncYaml;
  entry: Entrypoint;
  target: Target;
}

const goVersionIn = (text: string) => /(?:^|[:@-]|go)(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);

/**
 * func.yaml's runtime (go1.N) and build_image (golang:1.N.P) pin the Go toolchain: the
 * local one must match them at the precision they are written. Errors say which Go is
 * needed and how to change the pin.
 */
export function checkToolchainPins(f: FuncYaml, tc: Toolchain): void {
  const have = tc.semver;
  const check = (field: 'runtime' | 'build_image', value: string, m: RegExpExecArray | null) => {
    if (!m) {
      throw new FnbuildError(
        `${f.path}: ${field} "${value}" names no Go version`,
        `nx-fnbuild compiles with the local Go toolchain; write the Go version it pins, e.g. build_image: golang:${have.join('.')}.`,
      );
    }
    const want = [Number(m[1]), Number(m[2]), ...(m[3] !== undefined ? [Number(m[3])] : [])];
    if (want.every((n, i) => n === have[i])) return;
    const needed = `go${want.join('.')}`;
    throw new FnbuildError(
      `${f.path}: ${field} "${value}" needs ${needed}${want.length === 2 ? '.x' : ''}; this machine's go is ${tc.version}`,
      `Install ${needed} (or set GOTOOLCHAIN=${needed}${want.length === 2 ? '.0' : ''} to let go fetch it), or change ${field} in func.yaml to upgrade (e.g. ${field === 'runtime' ? `runtime: go${have[0]}.${have[1]}` : `build_image: golang:${have.join('.')}`}).`,
    );
  };
  const { runtime, build_image } = f.data;
  if (runtime && runtime !== 'go') check('runtime', runtime, /^go(\d+)\.(\d+)(?:\.(\d+))?$/.exec(runtime));
  if (build_image) check('build_image', build_image, goVersionIn(build_image.split('/').pop()!));
}

/** The pins a build writes into func.yaml when they are missing. */
export function toolchainPins(tc: Toolchain): { runtime: string; build_image: string } {
  return { runtime: `go${tc.semver[0]}.${tc.semver[1]}`, build_image: `golang:${tc.semver.join('.')}` };
}

/**
 * A function project's one target: its package, checked to export the function (or to
 * register with the functions framework), served by a generated main package that go sees
 * through an overlay. Its binary is named after func.yaml's name or the folder.
 */
export async function planFunction(args: {
  tc: Toolchain;
  store: Store;
  runner: Runner;
  module: GoModule;
  packageDir: string;
  functionName?: string;
  funcYaml?: FuncYaml;
  version?: string;
  displayName: string;
}): Promise<FunctionProject> {
  const { tc, store, module, packageDir, funcYaml } = args;
  if (funcYaml) checkToolchainPins(funcYaml, tc);
  const pkg = (await args.runner.run(functionPackageNode(tc, store, packageDir))).data;
  const framework = pkg.imports.includes(`${FRAMEWORK_MODULE}/functions`);
  let functionName = args.functionName;
  if (!framework) functionName = functionName ? checkHandler(pkg.declarations, functionName, packageDir).name : soleHandler(pkg.declarations, packageDir);
  const patterns = (funcYaml?.data.triggers ?? []).filter((t) => t.type === 'http' && t.source.startsWith('/') && t.source !== '/').map((t) => t.source);
  const entry = await writeEntrypoint(store, packageDir, {
    functionName: functionName ?? '',
    importPath: pkg.importPath,
    name: funcYaml?.data.name ?? args.displayName,
    version: funcYaml?.data.version ?? args.version ?? 'dev',
    patterns: [...new Set(patterns)].sort(),
    framework,
  });
  // The project's name, as for the image: for a git source packageDir is in the cache (…/<commit>[/subPath]).
  const name = funcYaml?.data.name.split('/').pop() ?? args.displayName;
  return { functionName, framework, funcYaml, entry, target: { pattern: patternFor(module.dir, entry.dir), dir: entry.dir, name, entry } };
}

/** What a function gives its image, before the build's options (which win where they are set). */
export interface FunctionImage {
  /** func.yaml's name. */
  name?: string;
  /** func.yaml's run_image ("scratch" included): it wins over the baseImage option, which only fills a missing pin. */
  base?: string;
  /** func.yaml's version, the one tag. */
  tags?: string[];
  entrypoint?: string[];
  cmd?: string[];
  /** Fn's layout (`entrypoint: ./func` runs the binary "func" from /function), unless the options place the binary themselves. */
  layout?: { binaryPath: string; workingDir: string };
  /** func.yaml's config, and FUNCTION_TARGET for the functions framework. */
  env: Record<string, string>;
}

const words = (v?: string) => v?.trim().split(/\s+/).filter(Boolean);

export function functionImage(fn: FunctionProject): FunctionImage {
  const fy = fn.funcYaml?.data;
  const relative = /^\.\/[A-Za-z0-9._-]+$/.exec(words(fy?.entrypoint)?.[0] ?? '')?.[0];
  return {
    ...(fy?.name ? { name: fy.name } : {}),
    ...(fy?.run_image ? { base: fy.run_image } : {}),
    ...(fy?.version ? { tags: [fy.version] } : {}),
    entrypoint: words(fy?.entrypoint),
    cmd: words(fy?.cmd),
    ...(relative ? { layout: { binaryPath: `/function/${relative.slice(2)}`, workingDir: '/function' } } : {}),
    env: { ...(fn.framework && fn.functionName ? { FUNCTION_TARGET: fn.functionName } : {}), ...(fy?.config ?? {}) },
  };
}

/**
 * The first build pins what it used into func.yaml (the toolchain; for an image, its base
 * by digest); later builds read the pins back. Nothing to do without a func.yaml.
 */
export async function pinFunction(
  fn: FunctionProject | undefined,
  tc: Toolchain,
  base?: { name?: string; digest?: string },
): Promise<FuncYamlPins | undefined> {
  if (!fn?.funcYaml) return undefined;
  const runImage = base && (base.name ? (base.name.includes('@') ? base.name : `${base.name}@${base.digest}`) : 'scratch');
  return pinFuncYaml(fn.funcYaml, { ...toolchainPins(tc), ...(runImage ? { run_image: runImage } : {}) });
}
