import type { Node, Outcome, Runner } from './node';

/** At most `slots` nodes run at once; the rest wait in arrival order. */
export function limitingRunner(inner: Runner, slots: number): Runner {
  if (!Number.isInteger(slots) || slots < 1) throw new Error(`parallelism must be a positive integer, got ${slots}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  // A released slot is handed straight to the next waiter (active stays the same), so a
  // newcomer arriving in between can never slip past the limit.
  const acquire = async () => {
    if (active < slots) {
      active++;
      return;
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  return {
    async run<T>(node: Node<T>): Promise<Outcome<T>> {
      await acquire();
      try {
        return await inner.run(node);
      } finally {
        release();
      }
    },
  };
}
