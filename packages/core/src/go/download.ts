import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { StatMemo } from '../cache/stat-memo';
import type { Node } from '../graph/node';
import { run } from '../process/run';
import { FnbuildError } from '../util/errors';
import { keyOf } from '../util/hash';
import { parseJsonStream } from '../util/json-stream';
import type { GoModule } from './module';
import { MODULE_ENV_VARS, pickEnv, type Toolchain } from './toolchain';

export interface ModuleVersion {
  path: string;
  version: string;
  sum?: string;
}

export interface ModulesResult {
  /** Every module of the build list with its go.sum hash; empty for a module with no requirements. */
  modules: ModuleVersion[];
  vendored: boolean;
}

interface ListedModule {
  Path: string;
  Version?: string;
  Main?: boolean;
  Replace?: { Path: string; Version?: string };
}

/** path@version of every module of the build list that comes from a module proxy (not a workspace or local directory). */
async function proxiedModules(tc: Toolchain, dir: string): Promise<string[]> {
  // -e: a requirement the workspace itself serves (example.com/shared v0.0.0) is not an error here.
  const r = await run(tc.go, ['list', '-m', '-e', '-json', 'all'], { cwd: dir, env: tc.processEnv });
  if (r.exitCode !== 0)
    throw new FnbuildError(`go list -m all failed in ${dir}:\n${r.stderr.trim()}`, 'Check go.work and the go.mod files it uses (`go work sync`).');
  return parseJsonStream<ListedModule>(r.stdout)
    .filter((m) => !m.Main)
    .map((m) => (m.Replace ? (m.Replace.Version ? `${m.Replace.Path}@${m.Replace.Version}` : undefined) : m.Version ? `${m.Path}@${m.Version}` : undefined))
    .filter((m): m is string => !!m)
    .sort();
}

/** The key of modules(M): the files that decide the build list, the toolchain and the module env. */
export async function modulesKey(tc: Toolchain, module: GoModule, memo: StatMemo): Promise<string> {
  const vendorList = join(module.dir, 'vendor', 'modules.txt');
  const files = await Promise.all([...module.buildListFiles, vendorList].map(async (f) => [relative(module.dir, f), (await memo.digest(f))?.digest ?? null]));
  return keyOf({ kind: 'modules', v: 1, go: tc.version, files, env: pickEnv(tc.env, MODULE_ENV_VARS) });
}

/**
 * modules(M): `go mod download`, once per distinct go.mod/go.sum state. Downloading up
 * front, apart from compiling, is the Docker guide's layer trick: sources change often,
 * the build list rarely. A vendored module downloads nothing.
 */
export function modulesNode(tc: Toolchain, module: GoModule, key: Promise<string>): Node<ModulesResult> {
  return {
    kind: 'modules',
    id: `modules ${module.dir}`,
    label: `modules ${module.path}`,
    key: () => key,
    async run() {
      if (existsSync(join(module.dir, 'vendor', 'modules.txt'))) return { data: { modules: [], vendored: true } };
      const args = ['mod', 'download', '-json'];
      if (module.workFile) {
        // In a go.work, a requirement on another workspace module (often at an unpublished
        // v0.0.0) is served by the workspace: download only what comes from the proxy.
        const wanted = await proxiedModules(tc, module.dir);
        if (!wanted.length) return { data: { modules: [], vendored: false } };
        args.push(...wanted);
      }
      const r = await run(tc.go, args, { cwd: module.dir, env: tc.processEnv });
      const listed = r.stdout.trim() ? parseJsonStream<{ Path: string; Version: string; Sum?: string; Error?: string }>(r.stdout) : [];
      const failed = listed.filter((m) => m.Error);
      if (r.exitCode !== 0 || failed.length) {
        const detail = failed.length ? failed.map((m) => `${m.Path}@${m.Version}: ${m.Error}`).join('\n') : r.stderr.trim();
        throw new FnbuildError(
          `downloading the modules of ${module.path} failed:\n${detail}`,
          'Check go.mod/go.sum (`go mod tidy`) and the module proxy settings (GOPROXY, GOPRIVATE, GONOSUMDB).',
        );
      }
      const modules = listed.map((m) => ({ path: m.Path, version: m.Version, sum: m.Sum })).sort((a, b) => (a.path + a.version < b.path + b.version ? -1 : 1));
      return { data: { modules, vendored: false } };
    },
  };
}
