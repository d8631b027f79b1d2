import type { Store } from '../cache/store';
import { cachingRunner } from './caching';
import { dedupingRunner } from './deduping';
import { limitingRunner } from './limiting';
import { directRunner, type Runner } from './node';
import { reportingRunner, type Reporter } from './reporting';
import { singleFlightRunner } from './single-flight';

/**
 * The stack every build uses, outermost first: once-per-build, progress, once-per-machine
 * (a key's lock, held until its entry is recorded), cache, then the concurrency limit, so
 * cache hits and waiters never hold a slot and only real work is bounded.
 */
export function buildRunner(store: Store, opts: { parallelism: number; report: Reporter }): Runner {
  return dedupingRunner(reportingRunner(singleFlightRunner(cachingRunner(limitingRunner(directRunner(store), opts.parallelism), store), store, opts.report), opts.report));
}
