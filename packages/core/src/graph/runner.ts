import type { Store } from '../cache/store';
import { cachingRunner } from './caching';
import { dedupingRunner } from './deduping';
import { limitingRunner } from './limiting';
import { prerequisiteRunner } from './prerequisite';
import { directRunner, type Runner } from './node';
import { reportingRunner, type Reporter } from './reporting';
import { singleFlightRunner } from './single-flight';

/**
 * The stack every build uses, outermost first: once-per-build, progress, cache, a node's
 * prerequisites, then the concurrency limit, so cache hits never wait for a slot (nor for
 * prerequisites) and only real work is bounded.
 * The build's signal stops nodes waiting for a slot and the ones running (their processes die).
 */
export function buildRunner(store: Store, opts: { parallelism: number; report: Reporter; signal?: AbortSignal }): Runner {
  const { signal } = opts;
  const work = cachingRunner(prerequisiteRunner(limitingRunner(directRunner(store, { signal }), opts.parallelism, { signal })), store);
  return dedupingRunner(reportingRunner(singleFlightRunner(work, store, opts.report), opts.report));
}
