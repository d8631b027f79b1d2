import type { Store } from '../cache/store';
import { cachingRunner } from './caching';
import { dedupingRunner } from './deduping';
import { limitingRunner } from './limiting';
import { directRunner, type Runner } from './node';
import { reportingRunner, type Reporter } from './reporting';

/**
 * The stack every build uses, outermost first: once-per-build, progress, cache, then the
 * concurrency limit, so cache hits never wait for a slot and only real work is bounded.
 */
export function buildRunner(store: Store, opts: { parallelism: number; report: Reporter }): Runner {
  return dedupingRunner(reportingRunner(cachingRunner(limitingRunner(directRunner(store), opts.parallelism), store), opts.report));
}
