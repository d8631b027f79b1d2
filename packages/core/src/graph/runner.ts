import type { Store } from '../cache/store';
import { cachingRunner } from './caching';
import { dedupingRunner } from './deduping';
import { limitingRunner } from './limiting';
import { prerequisiteRunner } from './prerequisite';
import { directRunner, type Runner } from './node';
import { remoteCachingRunner, type RemoteTier, type RemoteTierOptions } from './remote';
import { reportingRunner, type Reporter } from './reporting';
import { singleFlightRunner } from './single-flight';

export interface BuildRunnerOptions {
  parallelism: number;
  report: Reporter;
  signal?: AbortSignal;
  /** The remote tier's settings when a remote is configured (the store is the build's). */
  remote?: Omit<RemoteTierOptions, 'store'>;
}

/**
 * The stack every build uses, outermost first: once-per-build, progress, one process per
 * key on this machine, the local cache, the remote tier (when configured), a node's
 * prerequisites, then the concurrency limit. So cache hits, local or remote, never wait for
 * a slot nor for prerequisites (a remote fetch needs no stdlib), a remote fetch happens once
 * per machine, and only real work is bounded.
 * The build's signal stops nodes waiting for a slot and the ones running (their processes die).
 */
export function buildRunner(store: Store, opts: BuildRunnerOptions): Runner & { tier?: RemoteTier } {
  const { signal } = opts;
  const below = prerequisiteRunner(limitingRunner(directRunner(store, { signal }), opts.parallelism, { signal }));
  const tier = opts.remote ? remoteCachingRunner(below, { ...opts.remote, store }) : undefined;
  const work = cachingRunner(tier ?? below, store);
  const runner = dedupingRunner(reportingRunner(singleFlightRunner(work, store, opts.report), opts.report));
  return tier ? Object.assign(runner, { tier }) : runner;
}
