import { join } from 'node:path';
import type { RemoteCacheMode } from '../cache/remote';
import { FnbuildError } from '../util/errors';

/** The environment the cache program reads (main.ts). */
export const GOCACHEPROG_VARS = {
  cacheDir: 'NX_FNBUILD_CACHE_DIR',
  remote: 'NX_FNBUILD_REMOTE_CACHE',
  mode: 'NX_FNBUILD_REMOTE_CACHE_MODE',
  insecureRegistries: 'NX_FNBUILD_INSECURE_REGISTRIES',
  stats: 'NX_FNBUILD_GOCACHEPROG_STATS',
  verbose: 'NX_FNBUILD_GOCACHEPROG_VERBOSE',
} as const;

/** GOCACHEPROG arrived in Go 1.24. */
const FIRST_GO: readonly [number, number] = [1, 24];

export interface GoCacheEnvRequest {
  /** The toolchain's [major, minor, patch] (Toolchain.semver). */
  goVersion: readonly [number, number, number];
  /** The store folder, absolute. */
  cacheDir: string;
  /** The remote tier when one is configured (option or NX_FNBUILD_REMOTE_CACHE); undefined: none. */
  remote?: { url: string; mode?: RemoteCacheMode; insecureRegistries?: readonly string[] };
  /** The environment the go commands get; a GOCACHEPROG in it is the user's. */
  userEnv: Record<string, string | undefined>;
  /** `go env -json` (it also sees `go env -w GOCACHEPROG=…`). */
  goEnv?: Record<string, string | undefined>;
  /** The cache program's argv; defaults to this node running main.ts of this folder. */
  program?: readonly string[];
}

export interface GoCacheEnv {
  /** Entries to add to every go command's environment (empty: leave Go's cache alone). */
  env: Record<string, string>;
  /** Why Go's own cache is not going through the remote, for the build's notes. */
  note?: string;
}

/** The default program: this node and this folder's main.js (not the whole CLI: every go command waits for it to start). */
export function defaultProgram(): string[] {
  return [process.execPath, join(__dirname, 'main.js')];
}

/**
 * Joins argv the way cmd/go splits GOCACHEPROG (cmd/internal/quoted.Split): fields split on
 * spaces, a field may be wrapped whole in '…' or "…", nothing is unescaped inside.
 */
export function quoteForGo(args: readonly string[]): string {
  return args
    .map((arg) => {
      if (arg !== '' && !/[\s'"]/.test(arg)) return arg;
      if (!arg.includes('"')) return `"${arg}"`;
      if (!arg.includes("'")) return `'${arg}'`;
      throw new FnbuildError(
        `cannot pass ${JSON.stringify(arg)} in GOCACHEPROG: it holds both kinds of quote`,
        'Install node and nx-fnbuild under a path without quote characters.',
      );
    })
    .join(' ');
}

/**
 * The environment that routes Go's own cache through the store and the remote tier: set on
 * every go command nx-fnbuild starts, after the toolchain is loaded (so it is part of no
 * cache key). Only with a remote configured (local-only, GOCACHE is as good and costs no
 * extra process); never over the user's own GOCACHEPROG; never before Go 1.24.
 */
export function goCacheEnv(req: GoCacheEnvRequest): GoCacheEnv {
  if (!req.remote) return { env: {} };
  const [major, minor] = req.goVersion;
  if (major < FIRST_GO[0] || (major === FIRST_GO[0] && minor < FIRST_GO[1])) {
    return {
      env: {},
      note: `Go ${major}.${minor} has no GOCACHEPROG (Go ${FIRST_GO.join('.')}+): Go's own cache stays in GOCACHE on this machine; the remote cache holds nx-fnbuild's results only`,
    };
  }
  const ours = quoteForGo(req.program ?? defaultProgram());
  const users = [req.userEnv.GOCACHEPROG, req.goEnv?.GOCACHEPROG].map((v) => v?.trim()).find((v) => v && v !== ours);
  if (users) return { env: {}, note: `GOCACHEPROG is set (${users.split(/\s/)[0]}): Go's own cache goes through your program, not nx-fnbuild's remote cache` };
  const env: Record<string, string> = {
    GOCACHEPROG: ours,
    [GOCACHEPROG_VARS.cacheDir]: req.cacheDir,
    [GOCACHEPROG_VARS.remote]: req.remote.url,
    [GOCACHEPROG_VARS.mode]: req.remote.mode ?? 'read-write',
  };
  if (req.remote.insecureRegistries?.length) {
    const fromEnv = (req.userEnv[GOCACHEPROG_VARS.insecureRegistries] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    env[GOCACHEPROG_VARS.insecureRegistries] = [...new Set([...fromEnv, ...req.remote.insecureRegistries])].join(',');
  }
  return { env };
}
