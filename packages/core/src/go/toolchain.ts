import { constants, promises as fs } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { pureMemo } from '../cache/pure-memo';
import type { Store } from '../cache/store';
import type { Node } from '../graph/node';
import { run, runOk } from '../process/run';
import { FnbuildError } from '../util/errors';
import { keyOf, sha256 } from '../util/hash';

export type GoEnv = Record<string, string>;

/** A Go toolchain as the go command itself describes it. */
export interface Toolchain {
  /** Absolute path of the go command. */
  go: string;
  /** "go1.26.8" (GOVERSION, after any GOTOOLCHAIN switch). */
  version: string;
  /** [major, minor, patch] of version. */
  semver: [number, number, number];
  /** `go env -json`, read in the directory the build runs from; settings that can hold credentials (GOPROXY, GOPRIVATE, ...) as digests. */
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
    throw new FnbuildError(
      `GO=${wanted} is not an executable file`,
      'Point GO at the go command (e.g. /usr/local/go/bin/go) or unset it to use the one on PATH.',
    );
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

const ENV_NAMES = /^(GO|CGO_)|^(CC|CXX|FC|AR|PKG_CONFIG|GCCGO|HOME|XDG_CONFIG_HOME|XDG_CACHE_HOME)$/;

/**
 * Everything `go env` in `cwd` can depend on: the go binary itself, GOROOT's go.env and
 * VERSION, the user's go env file, the GO and CGO_ variables, and which go.mod/go.work
 * files sit in cwd and above (GOMOD, GOWORK, and GOTOOLCHAIN switches come from those).
 */
async function goEnvInputs(go: string, cwd: string, env: Record<string, string | undefined>, store: Store): Promise<unknown> {
  const memo = store.statMemo;
  const real = await fs.realpath(go);
  const st = await fs.stat(real, { bigint: true });
  const goroot = resolve(dirname(real), '..');
  const digest = async (f: string) => (await memo.digest(f))?.digest ?? null;
  const ancestors: unknown[] = [];
  for (let d = cwd; ; d = dirname(d)) {
    ancestors.push([d, await digest(join(d, 'go.mod')), await digest(join(d, 'go.work'))]);
    if (dirname(d) === d) break;
  }
  const goenvFile = env.GOENV || join(env.XDG_CONFIG_HOME || join(env.HOME ?? '/', '.config'), 'go', 'env');
  const vars = Object.entries(env)
    .filter(([k, v]) => v !== undefined && ENV_NAMES.test(k))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return {
    kind: 'go-env',
    v: 1,
    go: [real, st.size.toString(), st.mtimeNs.toString(), st.ino.toString()],
    goroot: [await digest(join(goroot, 'go.env')), await digest(join(goroot, 'VERSION'))],
    goenv: await digest(goenvFile),
    ancestors,
    vars,
  };
}

/**
 * Settings that can carry credentials (https://user:token@proxy/...) are only ever
 * compared, never used: keep their digest, so they reach neither the store nor a log.
 * The go commands themselves get the real values from the process environment.
 */
const SECRET_CAPABLE = ['GOPROXY', 'GOSUMDB', 'GONOSUMDB', 'GONOSUMCHECK', 'GOPRIVATE', 'GONOPROXY', 'GOINSECURE', 'GOAUTH', 'GOVCS'];

function redactSecrets(env: GoEnv): GoEnv {
  const out = { ...env };
  for (const name of SECRET_CAPABLE) if (out[name]) out[name] = sha256(out[name]);
  return out;
}

async function readGoEnv(go: string, cwd: string, env: Record<string, string | undefined>): Promise<GoEnv> {
  const r = await run(go, ['env', '-json'], { cwd, env });
  if (r.exitCode !== 0) {
    throw new FnbuildError(
      `${go} env -json failed in ${cwd} (exit ${r.exitCode}):\n${r.stderr.trim()}`,
      'Check the Go installation and the go.mod/go.work above this directory.',
    );
  }
  try {
    return JSON.parse(r.stdout) as GoEnv;
  } catch {
    throw new FnbuildError(`${go} env -json printed something that is not JSON; is ${go} really the go command?`);
  }
}

/**
 * Finds go, reads `go env -json` in `cwd` (memoized in the store by everything it
 * depends on, so a no-op build starts no process), and checks the version.
 */
export async function loadToolchain(cwd: string, env: Record<string, string | undefined> = process.env, store?: Store): Promise<Toolchain> {
  const go = await findGo(env);
  const key = store ? keyOf(await goEnvInputs(go, cwd, env, store)) : '';
  const goEnv = await pureMemo(store, key, async () => redactSecrets(await readGoEnv(go, cwd, env)));
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
export { BUILD_ENV_VARS } from './workspace-env';

/** The go env settings that change which module versions and bytes are downloaded. */
export const MODULE_ENV_VARS = [
  'GOFLAGS',
  'GOPROXY',
  'GOPRIVATE',
  'GONOPROXY',
  'GONOSUMDB',
  'GONOSUMCHECK',
  'GOSUMDB',
  'GOINSECURE',
  'GOWORK',
  'GOTOOLCHAIN',
] as const;

export function pickEnv(env: GoEnv, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, env[n] ?? '']));
}

/** dist-list(go): the platforms this toolchain can build (`go tool dist list`), cached by the toolchain. */
export function distListNode(tc: Toolchain): Node<string[]> {
  const goroot = tc.env.GOROOT ?? '';
  return {
    kind: 'dist-list',
    id: `dist-list ${goroot}`,
    label: `dist list ${tc.version}`,
    key: async () => keyOf({ kind: 'dist-list', v: 2, go: tc.version, goroot }),
    async run(_scratch, signal) {
      const out = await runOk(tc.go, ['tool', 'dist', 'list'], { cwd: goroot || '/', env: tc.processEnv, signal });
      return {
        data: out
          .split('\n')
          .map((s) => s.trim())
          .filter(Boolean),
      };
    },
  };
}
