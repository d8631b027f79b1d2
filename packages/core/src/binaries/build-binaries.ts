import { promises as fs } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { executableSuffix, formatPlatform, platformFolder, platformFromGoEnv } from '../platform/platform';
import { writeFileAtomic } from '../util/fs-atomic';
import { exportNode } from './export';
import { buildBinariesOptionsSchema, parseOptions } from './options';
import { pinFuncYaml, type FuncYamlPins } from '../functions/func-yaml';
import { toolchainPins } from '../functions/function';
import type { ResolvedSource } from '../functions/git-source';
import { settleAll, throwFailures, withSession, type BuildRequest } from './session';

export { BuildFailedError, defaultCacheDir, type BuildRequest } from './session';
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
export async function buildBinaries(req: BuildRequest): Promise<BuildBinariesResult> {
  const opts = parseOptions(buildBinariesOptionsSchema, req.options, 'build-binaries');
  return withSession(req, opts, (tc) => [platformFromGoEnv(tc.env)], async (s) => {
    const outputPath = resolve(req.workspaceRoot, opts.outputPath ?? join(relative(req.workspaceRoot, req.projectRoot), 'bin'));
    const jobs = s.targets.flatMap((target) =>
      s.platforms.map(async (platform): Promise<Artifact> => {
        const compiled = await s.compile(target, platform);
        const rel = join(platformFolder(platform), target.name + executableSuffix(platform));
        const blob = compiled.files.binary;
        await s.runner.run(exportNode(blob, join(outputPath, rel), relative(req.workspaceRoot, join(outputPath, rel)), s.store.statMemo));
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
      }),
    );
    const { values: artifacts, failures } = await settleAll(jobs);
    artifacts.sort((a, b) => (a.target + a.platform < b.target + b.platform ? -1 : 1));
    const manifest = JSON.stringify(artifacts, null, 2) + '\n';
    const manifestPath = join(outputPath, 'artifacts.json');
    // Rewritten only when it changes: a no-op build touches nothing in the output folder.
    if ((await fs.readFile(manifestPath, 'utf8').catch(() => '')) !== manifest) await writeFileAtomic(manifestPath, manifest);
    throwFailures(failures, jobs.length);
    const pinned = s.fn?.funcYaml ? await pinFuncYaml(s.fn.funcYaml, toolchainPins(s.tc)) : undefined;
    return { outputPath, ...(s.source ? { source: s.source } : {}), ...(pinned ? { pinned } : {}), artifacts, built: artifacts.filter((a) => !a.cached).length, cached: artifacts.filter((a) => a.cached).length };
  });
}

export { CompileError } from './compile';
