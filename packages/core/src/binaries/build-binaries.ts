import { promises as fs } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Target } from '../go/targets';
import { executableSuffix, formatPlatform, platformFolder, type Platform } from '../platform/platform';
import { writeFileAtomic } from '../util/fs-atomic';
import { exportNode } from './export';
import { buildBinariesOptionsSchema, parseOptions } from './options';
import type { FuncYamlPins } from '../functions/func-yaml';
import { pinFunction } from '../functions/function';
import type { ResolvedSource } from '../functions/git-source';
import { settleAll, throwFailures, withBuild, type Build, type BuildRequest, type WithRemoteCache } from './build';

export { BuildFailedError, defaultCacheDir, type BuildRequest } from './build';
export type BuildBinariesRequest = BuildRequest;

export interface Artifact {
  target: string;
  name: string;
  importPath: string;
  platform: string;
  /** Relative to the output folder: linux_amd64/server. */
  path: string;
  sha256: string;
  size: number;
  goVersion: string;
  cached: boolean;
}

export interface BuildBinariesResult {
  outputPath: string;
  /** Set when the sources come from git. */
  source?: ResolvedSource;
  /** Set when this build wrote missing pins into func.yaml. */
  pinned?: FuncYamlPins;
  artifacts: Artifact[];
  built: number;
  cached: number;
}

/**
 * build-binaries: every target × platform through the cached graph
 * modules(M) → compile(T, P) → export(T, P), then artifacts.json. Failures of one
 * target or platform do not stop the others; they are reported together at the end.
 */
export async function buildBinaries(req: BuildRequest): Promise<WithRemoteCache<BuildBinariesResult>> {
  const opts = parseOptions(buildBinariesOptionsSchema, req.options, 'build-binaries');
  return withBuild(req, { settings: opts }, async (b) => {
    const outputPath = resolve(req.workspaceRoot, opts.outputPath ?? join(relative(req.workspaceRoot, req.projectRoot), 'bin'));
    const jobs = b.plan.targets.flatMap((target) => b.plan.platforms.map((platform) => artifact(b, { target, platform, outputPath })));
    const { values: artifacts, failures } = await settleAll(jobs);
    b.signal?.throwIfAborted();
    artifacts.sort((a, b) => (a.target + a.platform < b.target + b.platform ? -1 : 1));
    const manifest = JSON.stringify(artifacts, null, 2) + '\n';
    const manifestPath = join(outputPath, 'artifacts.json');
    // Rewritten only when it changes: a no-op build touches nothing in the output folder.
    if ((await fs.readFile(manifestPath, 'utf8').catch(() => '')) !== manifest) await writeFileAtomic(manifestPath, manifest);
    throwFailures(failures, jobs.length);
    const pinned = await pinFunction(b.plan.fn, b.plan.tc);
    const { source } = b.plan;
    return {
      outputPath,
      ...(source ? { source } : {}),
      ...(pinned ? { pinned } : {}),
      artifacts,
      built: artifacts.filter((a) => !a.cached).length,
      cached: artifacts.filter((a) => a.cached).length,
    };
  });
}

/** compile(T, P) → export(T, P): one binary in the output folder. */
async function artifact(b: Build, o: { target: Target; platform: Platform; outputPath: string }): Promise<Artifact> {
  const { target, platform, outputPath } = o;
  const compiled = await b.compile(target, platform);
  const rel = join(platformFolder(platform), target.name + executableSuffix(platform));
  const blob = compiled.files.binary;
  await b.runner.run(exportNode(blob, join(outputPath, rel), relative(b.plan.workspaceRoot, join(outputPath, rel)), b.store.statMemo));
  return {
    target: target.pattern,
    name: target.name,
    importPath: compiled.data.importPath,
    platform: formatPlatform(platform),
    path: rel.split('\\').join('/'),
    sha256: blob.digest.slice(7),
    size: blob.size,
    goVersion: compiled.data.goVersion,
    cached: compiled.cached,
  };
}

export { CompileError } from './compile';
