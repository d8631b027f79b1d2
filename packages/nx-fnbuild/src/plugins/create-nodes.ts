import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CreateNodesContextV2, CreateNodesResult, CreateNodesV2, ProjectConfiguration } from '@nx/devkit';
import { lazyCore } from '../utils/lazy-core';
import { JsonMemo, workspaceDataDir } from '../utils/workspace-data';
import { goWorkFinder, isIgnoredGoMod, scanModule, type ModuleFacts } from './modules';
import { normalizeOptions, type FnbuildPluginOptions } from './options';
import { planProjects, type PlannedProject } from './projects';
import { goTargets, type TargetContext } from './targets';

export const GO_MOD_GLOB = '**/go.mod';

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
  const what = p.root === p.module.dir ? `Go module ${p.module.path}` : `Go command ${p.module.path}/${p.root.slice(p.module.dir === '.' ? 0 : p.module.dir.length + 1)}`;
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
 * Go projects from go.mod files. Each module's facts (which folders are main packages,
 * project.json names, the go.work and local replacements) are memoized by a fingerprint
 * of everything they depend on, so a run with nothing changed reads only directory
 * listings, stats and a few small files, and starts no process.
 */
export async function inferGoProjects(
  configFiles: readonly string[],
  rawOptions: FnbuildPluginOptions | undefined,
  context: CreateNodesContextV2,
): Promise<Array<readonly [string, CreateNodesResult]>> {
  const options = normalizeOptions(rawOptions);
  const root = context.workspaceRoot;
  const env = process.env;
  const memo = JsonMemo.open<ModulesMemo>(join(workspaceDataDir(root), 'nx-fnbuild', 'modules.json'), 1, () => ({ modules: {} }));
  const works = new Map<string, Promise<{ use: string[]; replace: string[] }>>();
  const readWork = (file: string) => {
    let p = works.get(file);
    if (!p) works.set(file, (p = lazyCore().readGoWork(file, env)));
    return p;
  };

  // Many modules share a go.work and the folders above them: look at each once.
  const findWork = goWorkFinder(root, env);
  const texts = new Map<string, string | undefined>();
  const readWorkText = (file: string) => {
    if (!texts.has(file)) texts.set(file, existsSync(file) ? readFileSync(file, 'utf8') : undefined);
    return texts.get(file);
  };
  const goMods = configFiles.filter((f) => !isIgnoredGoMod(f)).sort();
  const errors: Array<[string, Error]> = [];
  const modules: { goMod: string; facts: ModuleFacts }[] = [];
  await Promise.all(
    goMods.map(async (goMod) => {
      try {
        const scan = await scanModule(root, goMod, { env, readWork, findWork, readWorkText });
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
export const createNodesV2: CreateNodesV2<FnbuildPluginOptions> = [GO_MOD_GLOB, (files, options, context) => inferGoProjects(files, options, context)];
