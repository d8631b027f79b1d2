import type { TargetConfiguration } from '@nx/devkit';
import { BUILD_ENV } from '@nx-fnbuild/core/workspace';
import type { NormalizedOptions } from './options';
import { imageNameOf, isFunction, rootIsApplication, type PlannedProject } from './projects';

type Input = NonNullable<TargetConfiguration['inputs']>[number];

/** FUNC_NAME names the function an application builds (a main package then fails to build): an input of every build. */
export const FUNC_NAME_INPUT: Input = { env: 'FUNC_NAME' };

/**
 * What the git-derived values ({version}: `git describe --tags`, {commit}, the commit
 * time for {date} and image timestamps) are a function of: the commit and the tags on
 * its history. --long always names the full commit, so this changes with either.
 */
export const GIT_RUNTIME = 'git describe --tags --always --long --abbrev=40';

const GIT_TEMPLATE = /\{(version|commit|shortCommit|date)\}/;

const ws = (rel: string) => (rel === '.' ? '{workspaceRoot}' : `{workspaceRoot}/${rel}`);
const under = (path: string, dir: string) => dir === '.' || path === dir || path.startsWith(dir + '/');

/** The files outside the project that decide its build list: go.mod/go.sum of the module, the go.work and everything it joins, local replacements. */
export function buildListInputs(p: PlannedProject): string[] {
  const m = p.module;
  const out: string[] = [];
  let joined = (_dir: string) => false;
  if (m.workFile) {
    const workDir = m.workFile.includes('/') ? m.workFile.slice(0, m.workFile.lastIndexOf('/')) : '.';
    // Every module the go.work uses takes part in minimal version selection: any of their go.mod files can change this build.
    out.push(ws(m.workFile), `${ws(m.workFile)}.sum`, `${ws(workDir)}/**/go.mod`, `${ws(workDir)}/**/go.sum`);
    joined = (dir) => under(dir, workDir);
  } else if (m.dir !== p.root) {
    out.push(`${ws(m.dir)}/go.mod`, `${ws(m.dir)}/go.sum`);
  }
  for (const r of m.replaces) if (!joined(r) && r !== m.dir) out.push(`${ws(r)}/go.mod`);
  return out;
}

/** The inputs of a build: the project's sources (not its binaries or tests), its dependencies', the build list, the toolchain and the env that changes a build. */
export function goInputs(p: PlannedProject, depsInput: string, ldflags: string | undefined, image: boolean): Input[] {
  const inputs: Input[] = [
    '{projectRoot}/**/*',
    '!{projectRoot}/bin/**/*',
    '!{projectRoot}/**/*_test.go',
    depsInput,
    ...buildListInputs(p),
    { runtime: 'go version' },
  ];
  // The core's one list of the environment that changes a build.
  const env = new Set<string>(BUILD_ENV);
  if (image || (ldflags && /\{date\}/.test(ldflags))) env.add('SOURCE_DATE_EPOCH');
  for (const m of (ldflags ?? '').matchAll(/\{env\.([A-Za-z_][A-Za-z0-9_]*)\}/g)) env.add(m[1]);
  inputs.push(...[...env].map((name) => ({ env: name })));
  // An image records the commit, its time and the version (annotations, created, tags): so do binaries whose ldflags say so.
  if (image || (ldflags && GIT_TEMPLATE.test(ldflags))) inputs.push({ runtime: GIT_RUNTIME });
  return inputs;
}

export interface TargetContext {
  /** "^production" when nx.json defines it, else "^default". */
  depsInput: string;
  /** How this workspace runs a local binary: "npx", "pnpm exec", "yarn". */
  exec: string;
}

/** The package a project builds, as build-binaries' default picks it (its root when main or a function, else its one main package under cmd/). */
function mainPackage(p: PlannedProject): string {
  if (p.root !== p.module.dir || rootIsApplication(p.module)) return p.root;
  return p.module.cmdMains[0] ?? p.root;
}

const sub = (dir: string, name: string) => (dir === '.' ? name : `${dir}/${name}`);

/**
 * The packages a project's `go test` covers: all below it, except what is a project of its
 * own inside a module: its commands (when they are projects) and its function folders.
 */
export function testPatterns(p: PlannedProject): string[] {
  const m = p.module;
  if (p.root !== m.dir) return ['./...'];
  const commandsAreProjects = (rootIsApplication(m) ? 1 : 0) + m.cmdMains.length > 1;
  const apart = [...(commandsAreProjects ? [sub(m.dir, 'cmd')] : []), ...Object.keys(m.functions).filter((d) => d !== m.dir)];
  if (!apart.length) return ['./...'];
  const inside = (dir: string, d: string) => dir === '.' || d.startsWith(dir + '/');
  const pattern = (dir: string) => (dir === m.dir ? '.' : `./${m.dir === '.' ? dir : dir.slice(m.dir.length + 1)}`);
  const walk = (dir: string): string[] => {
    if (apart.includes(dir)) return [];
    if (!apart.some((d) => d !== dir && inside(dir, d))) return [`${pattern(dir)}/...`];
    // The module folder's listing without function folders below it: cmd/ is left out, bin/ was never in.
    const f = m.folders?.[dir] ?? (dir === m.dir ? { hasGo: m.rootHasGo, subDirs: m.subDirs } : { hasGo: false, subDirs: [] });
    return [...(f.hasGo ? [pattern(dir)] : []), ...f.subDirs.flatMap((s) => walk(sub(dir, s)))];
  };
  return walk(m.dir);
}

/** `go test`: its inputs are the build's plus the tests and the env `go test` builds for (the host's). */
export function testTarget(p: PlannedProject, ctx: TargetContext): TargetConfiguration | undefined {
  const patterns = testPatterns(p);
  if (!patterns.length) return undefined;
  const inputs = goInputs(p, ctx.depsInput, undefined, false).filter((i) => i !== '!{projectRoot}/**/*_test.go');
  inputs.push({ env: 'CGO_ENABLED' }, { env: 'GOOS' }, { env: 'GOARCH' });
  return {
    executor: 'nx:run-commands',
    cache: true,
    inputs,
    options: { command: `go test ${patterns.join(' ')}`, cwd: '{projectRoot}' },
    metadata: {
      technologies: ['go'],
      description: `Run the Go tests of ${patterns.join(' ')} in ${p.root}`,
      help: { command: 'go help testflag', example: { args: ['-run=TestName', '-count=1'] } },
    },
  };
}

export function goTargets(p: PlannedProject, o: NormalizedOptions, ctx: TargetContext): Record<string, TargetConfiguration> {
  const test = testTarget(p, ctx);
  const tests = test ? { [o.testTargetName]: test } : {};
  if (p.projectType !== 'application') return tests;
  const pkg = mainPackage(p);
  const what = isFunction(p) ? `function ${pkg} (served by a generated main package)` : `main package ${pkg}`;
  const binPlatforms = o.platforms?.join(', ') ?? 'the host platform';
  const imagePlatforms = o.imagePlatforms?.join(', ') ?? 'linux/amd64';
  const imageName = imageNameOf(p);
  const image = `dist/images/${imageName}`;
  const help = (target: string, options: Record<string, unknown>) => ({ command: `${ctx.exec} nx run ${p.name}:${target} --help`, example: { options } });
  const technologies = ['go'];

  const buildBinaries: TargetConfiguration = {
    executor: 'nx-fnbuild:build-binaries',
    cache: true,
    inputs: [...goInputs(p, ctx.depsInput, o.ldflags, false), FUNC_NAME_INPUT],
    outputs: ['{projectRoot}/bin'],
    options: { ...(o.platforms && { platforms: o.platforms }), ...(o.ldflags && { ldflags: o.ldflags }) },
    metadata: {
      technologies,
      description: `Cross-compile the Go ${what} for ${binPlatforms} into ${p.root === '.' ? '' : p.root + '/'}bin/<os>_<arch>/ (cached per package and platform)`,
      help: help(o.buildBinariesTargetName, { platforms: 'linux/amd64,linux/arm64', ldflags: '-s -w -X main.version={version}' }),
    },
  };
  const buildImage: TargetConfiguration = {
    executor: 'nx-fnbuild:build-image',
    cache: true,
    inputs: [...goInputs(p, ctx.depsInput, o.ldflags, true), FUNC_NAME_INPUT],
    outputs: [`{workspaceRoot}/${image}`, `{workspaceRoot}/${image}.spdx.json`],
    options: {
      ...(o.imagePlatforms && { platforms: o.imagePlatforms }),
      ...(o.baseImage && { baseImage: o.baseImage }),
      ...(o.ldflags && { ldflags: o.ldflags }),
    },
    metadata: {
      technologies,
      description: `Build the OCI image ${imageName} (${imagePlatforms}) of the Go ${what} without a container daemon into ${image}, with an SPDX SBOM beside it`,
      help: help(o.buildImageTargetName, { platforms: 'linux/amd64,linux/arm64', baseImage: 'gcr.io/distroless/static-debian12:nonroot' }),
    },
  };
  const push: TargetConfiguration = {
    executor: 'nx-fnbuild:push',
    cache: false,
    dependsOn: [o.buildImageTargetName],
    options: {
      ...(o.registry && { repository: `${o.registry}/${imageName}` }),
      ...(o.buildImageTargetName !== 'build-image' && { buildTarget: o.buildImageTargetName }),
    },
    metadata: {
      technologies,
      description: `Push the image ${imageName} to ${o.registry ? `${o.registry}/${imageName}` : '$NX_FNBUILD_REGISTRY/' + imageName} (blobs first, tags last; never cached)`,
      help: help(o.pushTargetName, { repository: 'registry.example.com/team/' + imageName }),
    },
  };
  return { [o.buildBinariesTargetName]: buildBinaries, [o.buildImageTargetName]: buildImage, [o.pushTargetName]: push, ...tests };
}
