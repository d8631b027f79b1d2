import type { Node, Outcome, Runner } from './node';

/** At most `slots` nodes run at once; the rest wait in arrival order (an aborted one stops waiting). */
export function limitingRunner(inner: Runner, slots: number, opts: { signal?: AbortSignal } = {}): Runner {
  if (!Number.isInteger(slots) || slots < 1) throw new Error(`parallelism must be a positive integer, got ${slots}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  // A released slot is handed straight to the next waiter (active stays the same), so a
  // newcomer arriving in between can never slip past the limit.
  const acquire = async (signal?: AbortSignal) => {
    signal?.throwIfAborted();
    if (active < slots) {
      active++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const wake = () => {
        signal?.removeEventListener('abort', abort);
        resolve();
      };
      const abort = () => {
        waiting.splice(waiting.indexOf(wake), 1);
        reject(signal!.reason);
      };
      waiting.push(wake);
      signal?.addEventListener('abort', abort, { once: true });
    });
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  return {
    async run<T>(node: Node<T>, signal?: AbortSignal): Promise<Outcome<T>> {
      await acquire(signal ?? opts.signal);
      try {
        return await inner.run(node, signal);
      } finally {
        release();
      }
    },
  };
}
