/**
 * Go facts about a workspace, for the Nx plugin's inference and generators: which folders
 * are modules, packages and main packages, what go.mod and go.work say, which env changes
 * a build, and which packages import which. Published as `@nx-fnbuild/core/workspace`:
 * Nx loads the plugin for every command, so this entry loads none of the build engine.
 * Anything that runs `go` runs it through process/run.ts.
 */
import type * as Graph from './graph';

export { keyOf, stableJson } from '../util/hash';
export type { GoImportGraph } from './graph';
export { addWorkUse, hasReplaceDirective, parseModDirectives, readModText, type ModDirective, type ModFileText } from './modfile';
export { constraintExcludesAlways, isBuildableGoFile, parseGoHead, type GoFileHead } from './source';
export { BUILD_ENV, BUILD_ENV_VARS, COMPILER_ENV, LIST_ENV } from './workspace-env';
export {
  commandFolders,
  findGoWork,
  goWorkFinder,
  isIgnoredGoMod,
  isSkippedDir,
  nearestFolder,
  parentOf,
  readGoFolder,
  relDir,
  toPosix,
  type GoFolder,
} from './workspace-folders';
export { goBinaryStamp, goImportGraphs, listingRoots, type ImportGraphRequest, type ListingReaders, type ListingRoot } from './workspace-listing';
export { isMainPackage, modulePathOf, moduleReplaces, scanGoModule, type GoModuleFacts, type GoModuleScan, type ScanOptions } from './workspace-modules';

// What runs go loads on first use (the process layer, the toolchain): a warm inference never needs it.
const graph = (): typeof Graph => require('./graph');
const toolchain = (): typeof import('./toolchain') => require('./toolchain');
const processes = (): typeof import('../process/run') => require('../process/run');

/** See go/graph.ts. */
export const goImportGraph: typeof Graph.goImportGraph = (req) => graph().goImportGraph(req);
/** `go work edit -json` of a go.work: the module folders it uses and its local replacements (absolute). */
export const readGoWork: typeof Graph.readGoWork = (workFile, env) => graph().readGoWork(workFile, env);
/** `go mod edit -json` of a go.mod: the folders its local replace directives point at (absolute). */
export const readModReplaces: typeof Graph.readModReplaces = (modFile, env) => graph().readModReplaces(modFile, env);

/** The local toolchain's Go version as [major, minor] (`go env GOVERSION`), or undefined when there is no go command or it does not answer in 30 s. */
export async function localGoVersion(env: Record<string, string | undefined>): Promise<[number, number] | undefined> {
  try {
    const { findGo, parseGoVersion } = toolchain();
    const go = await findGo(env);
    const r = await processes().run(go, ['env', 'GOVERSION'], { cwd: process.cwd(), env, signal: AbortSignal.timeout(30_000) });
    const v = r.exitCode === 0 ? parseGoVersion(r.stdout.trim()) : undefined;
    return v && [v[0], v[1]];
  } catch {
    return undefined;
  }
}
