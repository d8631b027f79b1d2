import { resolve } from 'node:path';
import type { RemoteCache, RemoteCacheMode } from '../cache/remote';
import { remoteCacheFrom, remoteCacheModeFrom } from '../remote/config';
import { appendCounters, formatCounters, newCounters } from './counters';
import { GOCACHEPROG_VARS } from './env';
import { layoutUnder } from './layout';
import { serve, type ProgramIo } from './program';
import { TieredGoCache } from './tiered-cache';

type Env = Record<string, string | undefined>;

/** The remote tier named by the environment (NX_FNBUILD_REMOTE_CACHE, _MODE, …), or undefined when none is set. Throws on a bad setting. */
export type RemoteOpener = (env: Env) => { remote: RemoteCache; mode: RemoteCacheMode } | undefined;

export interface GoCacheProgramOptions {
  env: Env;
  io: ProgramIo;
  cwd?: string;
  openRemote?: RemoteOpener;
  /** How long `close` waits for uploads still running (go is waiting on the reply). */
  uploadDeadlineMs?: number;
}

const UPLOAD_DEADLINE_MS = 60_000;

/** The remote the environment names (NX_FNBUILD_REMOTE_CACHE, _MODE, NX_FNBUILD_INSECURE_REGISTRIES), as the executors read it. */
const fromEnv: RemoteOpener = (env) => {
  const remote = remoteCacheFrom({ env });
  return remote && { remote, mode: remoteCacheModeFrom(env) };
};

/**
 * `fnbuild gocacheprog`: Go's cache program (GOCACHEPROG) over the store folder and the
 * remote tier. Configured only through the environment (a remote URL can hold
 * credentials, and argv is visible to every user in `ps`):
 *   NX_FNBUILD_CACHE_DIR            the store folder (Go's cache goes in its go/ folder); required
 *   NX_FNBUILD_REMOTE_CACHE(_MODE)  the remote tier, as for the executors
 *   NX_FNBUILD_GOCACHEPROG_STATS    a file to append this go command's counters to (one JSON line)
 *   NX_FNBUILD_GOCACHEPROG_VERBOSE  1: the counters as one line on stderr at close
 */
export async function goCacheProgram(opts: GoCacheProgramOptions): Promise<number> {
  const { env, io } = opts;
  const dir = env[GOCACHEPROG_VARS.cacheDir]?.trim();
  if (!dir) {
    io.stderr.write(
      `gocacheprog: ${GOCACHEPROG_VARS.cacheDir} is not set: it names the nx-fnbuild store folder that holds Go's cache (nx-fnbuild sets it for the go commands it starts)\n`,
    );
    return 2;
  }
  const warn = (line: string) => io.stderr.write(line + '\n');
  const counters = newCounters();
  let tier: ReturnType<RemoteOpener>;
  try {
    tier = (opts.openRemote ?? fromEnv)(env);
  } catch (err) {
    warn(`warning: Go cache: ${(err as Error).message.split('\n')[0]}; using the local cache only`);
  }
  const layout = layoutUnder(resolve(opts.cwd ?? process.cwd(), dir));
  const cache = new TieredGoCache({ layout, remote: tier?.remote, mode: tier?.mode ?? 'read', counters, warn });
  return serve({
    io,
    cache,
    // Uploads get their deadline even when stdin closes without `close`: cmd/go sends close
    // only after a build (Builder.Do skips it for go list), and stdlib(P) runs go list -export.
    // The entries are complete locally; go no longer waits, so this costs it nothing.
    finish: async () => {
      await cache.close({ uploadDeadlineMs: opts.uploadDeadlineMs ?? UPLOAD_DEADLINE_MS });
      const stats = env[GOCACHEPROG_VARS.stats]?.trim();
      if (stats) await appendCounters(stats, counters).catch((err: Error) => warn(`warning: Go cache: cannot write counters to ${stats}: ${err.message}`));
      if (env[GOCACHEPROG_VARS.verbose] === '1') warn(formatCounters(counters));
    },
  });
}

/** The program on this process's stdio (stdout carries protocol JSON only); resolves with the exit code. */
export function goCacheProgramOnStdio(openRemote?: RemoteOpener): Promise<number> {
  // go died and closed the pipe: nothing is left to answer.
  process.stdout.on('error', () => process.exit(1));
  return goCacheProgram({ env: process.env, io: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }, openRemote });
}

// GOCACHEPROG points here directly: a go command then waits for a node that loads this folder only, not the whole CLI.
if (require.main === module) {
  goCacheProgramOnStdio().then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (err: unknown) => {
      process.stderr.write(`gocacheprog: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
