import { constants, promises as fs } from 'node:fs';
import { delimiter, join } from 'node:path';
import { run } from '../process/run';
import { FnbuildError } from '../util/errors';

export type GoEnv = Record<string, string>;

/** A Go toolchain as the go command itself describes it. */
export interface Toolchain {
  /** Absolute path of the go command. */
  go: string;
  /** "go1.26.8" (GOVERSION, after any GOTOOLCHAIN switch). */
  version: string;
  /** [major, minor, patch] of version. */
  semver: [number, number, number];
  /** `go env -json`, read in the directory the build runs from. */
  env: GoEnv;
  /** The environment every go command of this build gets. */
  processEnv: Record<string, string | undefined>;
}

export const MIN_GO: [number, number] = [1, 21];

/** "go1.22.3" → [1,22,3]; "go1.21rc2" → [1,21,0]; "devel go1.27-abcdef" → [1,27,0]. */
export function parseGoVersion(text: string): [number, number, number] | undefined {
  const m = /go(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    const st = await fs.stat(path);
    if (!st.isFile()) return false;
    await fs.access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** $GO when set (a path or a command name), else `go` on PATH. */
export async function findGo(env: Record<string, string | undefined>): Promise<string> {
  const wanted = env.GO?.trim() || 'go';
  if (wanted.includes('/')) {
    if (await isExecutable(wanted)) return wanted;
    throw new FnbuildError(`GO=${wanted} is not an executable file`, 'Point GO at the go command (e.g. /usr/local/go/bin/go) or unset it to use the one on PATH.');
  }
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, wanted);
    if (await isExecutable(candidate)) return candidate;
  }
  throw new FnbuildError(
    `Go toolchain not found: no "${wanted}" on PATH (${dirs.join(delimiter) || 'PATH is empty'})`,
    `Install Go ${MIN_GO.join('.')} or newer (https://go.dev/dl) and put it on PATH, or set GO=/path/to/go.`,
  );
}

/** Finds go, reads `go env -json` in `cwd`, and checks the version. */
export async function loadToolchain(cwd: string, env: Record<string, string | undefined> = process.env): Promise<Toolchain> {
  const go = await findGo(env);
  const r = await run(go, ['env', '-json'], { cwd, env });
  if (r.exitCode !== 0) {
    throw new FnbuildError(`${go} env -json failed in ${cwd} (exit ${r.exitCode}):\n${r.stderr.trim()}`, 'Check the Go installation and the go.mod/go.work above this directory.');
  }
  let goEnv: GoEnv;
  try {
    goEnv = JSON.parse(r.stdout) as GoEnv;
  } catch {
    throw new FnbuildError(`${go} env -json printed something that is not JSON; is ${go} really the go command?`);
  }
  const version = goEnv.GOVERSION ?? '';
  const semver = parseGoVersion(version);
  if (!semver) {
    throw new FnbuildError(`cannot tell the Go version of ${go} (GOVERSION=${JSON.stringify(version)})`, `nx-fnbuild needs Go ${MIN_GO.join('.')} or newer.`);
  }
  if (semver[0] < MIN_GO[0] || (semver[0] === MIN_GO[0] && semver[1] < MIN_GO[1])) {
    throw new FnbuildError(
      `found ${version} at ${go}, but nx-fnbuild needs Go ${MIN_GO.join('.')} or newer`,
      'Install a newer Go (https://go.dev/dl) or point GO at one.',
    );
  }
  return { go, version, semver, env: goEnv, processEnv: env };
}

/**
 * The go env settings that change what a build produces (besides the platform and CGO
 * settings, which the compile key records on their own). GOFLAGS can carry -tags, -mod,
 * -ldflags; GOEXPERIMENT and GOFIPS140 change the compiler and runtime.
 */
export const BUILD_ENV_VARS = ['GOFLAGS', 'GOEXPERIMENT', 'GOFIPS140', 'GOROOT'] as const;

/** The go env settings that change which module versions and bytes are downloaded. */
export const MODULE_ENV_VARS = ['GOFLAGS', 'GOPROXY', 'GOPRIVATE', 'GONOPROXY', 'GONOSUMDB', 'GONOSUMCHECK', 'GOSUMDB', 'GOINSECURE', 'GOWORK', 'GOTOOLCHAIN'] as const;

export function pickEnv(env: GoEnv, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, env[n] ?? '']));
}
