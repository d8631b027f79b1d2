import type { Node, Outcome, Runner } from './node';

/** At most `slots` nodes run at once; the rest wait in arrival order. */
export function limitingRunner(inner: Runner, slots: number): Runner {
  if (!Number.isInteger(slots) || slots < 1) throw new Error(`parallelism must be a positive integer, got ${slots}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  const acquire = async () => {
    if (active >= slots) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
  };
  const release = () => {
    active--;
    waiting.shift()?.();
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
