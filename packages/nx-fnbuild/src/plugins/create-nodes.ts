import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { CreateNodesContextV2, CreateNodesResult, CreateNodesV2, ProjectConfiguration } from '@nx/devkit';
import { goWorkFinder, isIgnoredGoMod, nearestFolder, parentOf, readGoWork } from '@nx-fnbuild/core/workspace';
import { JsonMemo, workspaceDataDir } from '../utils/workspace-data';
import { scanModule, type ModuleFacts } from './modules';
import { normalizeOptions, type FnbuildPluginOptions } from './options';
import { isFunction, planProjects, type PlannedProject } from './projects';
import { goTargets, type TargetContext } from './targets';

/** go.mod files make Go projects; a func.yaml makes its folder a function project of the module around it. */
export const PROJECT_FILES_GLOB = '**/{go.mod,func.yaml}';

/** Each func.yaml by the go.mod of the module it belongs to (the nearest one above it); one outside every module is no Go project. */
function funcYamlsByModule(funcYamls: string[], goMods: string[]): Map<string, string[]> {
  const moduleDirs = new Set(goMods.map(parentOf));
  const out = new Map<string, string[]>();
  for (const f of funcYamls) {
    const d = nearestFolder(moduleDirs, parentOf(f));
    if (d === undefined) continue;
    const goMod = d === '.' ? 'go.mod' : `${d}/go.mod`;
    out.set(goMod, [...(out.get(goMod) ?? []), f]);
  }
  return out;
}

interface ModulesMemo {
  modules: Record<string, { fingerprint: string; facts: ModuleFacts }>;
}

/** How this workspace runs a local binary, for the targets' help commands. */
function execCommand(workspaceRoot: string): string {
  if (existsSync(join(workspaceRoot, 'pnpm-lock.yaml'))) return 'pnpm exec';
  if (existsSync(join(workspaceRoot, 'yarn.lock'))) return 'yarn';
  if (existsSync(join(workspaceRoot, 'bun.lockb')) || existsSync(join(workspaceRoot, 'bun.lock'))) return 'bunx';
  return 'npx';
}

function projectConfiguration(p: PlannedProject, targets: ProjectConfiguration['targets']): ProjectConfiguration {
  const importPath = p.root === p.module.dir ? p.module.path : `${p.module.path}/${p.root.slice(p.module.dir === '.' ? 0 : p.module.dir.length + 1)}`;
  const what = isFunction(p) ? `Go function ${importPath}` : p.root === p.module.dir ? `Go module ${importPath}` : `Go command ${importPath}`;
  const targetNames = Object.keys(targets ?? {});
  return {
    root: p.root,
    // A project.json names its project; Nx merges it over what is inferred here.
    ...(!p.namedByProjectJson && { name: p.name }),
    projectType: p.projectType,
    targets,
    metadata: { technologies: ['go'], description: what, ...(targetNames.length && { targetGroups: { Go: targetNames } }) },
  } as ProjectConfiguration;
}

/**
 * Go projects from go.mod files (and func.yaml files, for functions). Each module's facts
 * (which folders are main packages or functions, project.json names, the go.work and
 * local replacements) are memoized by a fingerprint of everything they depend on, so a
 * run with nothing changed reads only directory listings, stats and a few small files,
 * and starts no process.
 */
export async function inferGoProjects(
  configFiles: readonly string[],
  rawOptions: FnbuildPluginOptions | undefined,
  context: CreateNodesContextV2,
): Promise<Array<readonly [string, CreateNodesResult]>> {
  const options = normalizeOptions(rawOptions);
  const root = context.workspaceRoot;
  const env = process.env;
  // Version 2: fingerprints are the core's stable keys (keyOf).
  const memo = JsonMemo.open<ModulesMemo>(join(workspaceDataDir(root), 'nx-fnbuild', 'modules.json'), 2, () => ({ modules: {} }));
  const works = new Map<string, Promise<{ use: string[]; replace: string[] }>>();
  const readWork = (file: string) => {
    let p = works.get(file);
    if (!p) works.set(file, (p = readGoWork(file, env)));
    return p;
  };

  // Many modules share a go.work and the folders above them: look at each once.
  const findWork = goWorkFinder(root, env);
  const texts = new Map<string, string | undefined>();
  const readWorkText = (file: string) => {
    if (!texts.has(file)) texts.set(file, existsSync(file) ? readFileSync(file, 'utf8') : undefined);
    return texts.get(file);
  };
  const isGoMod = (f: string) => posix.basename(f) === 'go.mod';
  const goMods = configFiles.filter((f) => isGoMod(f) && !isIgnoredGoMod(f)).sort();
  const funcYamls = funcYamlsByModule(configFiles.filter((f) => !isGoMod(f) && !isIgnoredGoMod(f)).sort(), goMods);
  const errors: Array<[string, Error]> = [];
  const modules: { goMod: string; facts: ModuleFacts }[] = [];
  await Promise.all(
    goMods.map(async (goMod) => {
      try {
        const scan = await scanModule(root, goMod, { env, readWork, findWork, readWorkText, funcYamls: funcYamls.get(goMod) });
        const saved = memo.data.modules[goMod];
        if (saved?.fingerprint === scan.fingerprint) {
          modules.push({ goMod, facts: saved.facts });
          return;
        }
        const facts = await scan.compute();
        if (scan.stable) memo.data.modules[goMod] = { fingerprint: scan.fingerprint, facts };
        else delete memo.data.modules[goMod];
        memo.touch();
        modules.push({ goMod, facts });
      } catch (err) {
        errors.push([goMod, err instanceof Error ? err : new Error(String(err))]);
      }
    }),
  );
  for (const goMod of Object.keys(memo.data.modules)) {
    if (!goMods.includes(goMod) && !existsSync(join(root, goMod))) {
      delete memo.data.modules[goMod];
      memo.touch();
    }
  }
  await memo.save();

  modules.sort((a, b) => (a.goMod < b.goMod ? -1 : 1));
  const ctx: TargetContext = {
    depsInput: context.nxJsonConfiguration?.namedInputs?.production ? '^production' : '^default',
    exec: execCommand(root),
  };
  const projects = new Map<string, Record<string, ProjectConfiguration>>();
  for (const p of planProjects(modules)) {
    const byRoot = projects.get(p.goMod) ?? {};
    byRoot[p.root] = projectConfiguration(p, goTargets(p, options, ctx));
    projects.set(p.goMod, byRoot);
  }
  const results = modules.map(({ goMod }) => [goMod, { projects: projects.get(goMod) ?? {} }] as const);
  if (errors.length) {
    // Loaded only here: @nx/devkit's entry costs more to load than a warm inference takes.
    const { AggregateCreateNodesError } = require('@nx/devkit') as typeof import('@nx/devkit');
    throw new AggregateCreateNodesError(errors, results as Array<[string, CreateNodesResult]>);
  }
  return results;
}

/** `plugins: ["nx-fnbuild"]` in nx.json: Go projects and their build-binaries, build-image and push targets. */
export const createNodesV2: CreateNodesV2<FnbuildPluginOptions> = [PROJECT_FILES_GLOB, (files, options, context) => inferGoProjects(files, options, context)];
