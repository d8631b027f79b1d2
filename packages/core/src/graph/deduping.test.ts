import { dedupingRunner } from './deduping';
import type { Node, Outcome, Runner } from './node';

function counting() {
  const runs: string[] = [];
  const inner: Runner = {
    async run<T>(node: Node<T>): Promise<Outcome<T>> {
      runs.push(node.id);
      await new Promise((r) => setTimeout(r, 5));
      const r = await node.run('/nonexistent-scratch');
      return { data: r.data, files: {}, cached: false, ms: 1 };
    },
  };
  return { inner, runs };
}

let made = 0;
const node = (id: string, fail = false): Node<string> => {
  const n = ++made;
  return {
    kind: 'modules',
    id,
    label: `${id} #${n}`,
    async run() {
      if (fail) throw new Error(`${id} failed`);
      return { data: `${id} from node #${n}` };
    },
  };
};

describe('dedupingRunner', () => {
  test("identical ids run once; every caller gets the first one's outcome", async () => {
    const { inner, runs } = counting();
    const d = dedupingRunner(inner);
    const first = node('modules /ws');
    const [a, b, c] = await Promise.all([d.run(first), d.run(node('modules /ws')), d.run(node('modules /ws'))]);
    expect(runs).toEqual(['modules /ws']);
    expect(a.data).toBe(`modules /ws from node #${made - 2}`);
    expect(b).toBe(a);
    expect(c).toBe(a);
  });

  test('a later request with the same id (after the first finished) is not run again', async () => {
    const { inner, runs } = counting();
    const d = dedupingRunner(inner);
    const a = await d.run(node('x'));
    const b = await d.run(node('x'));
    expect(runs).toEqual(['x']);
    expect(b).toBe(a);
  });

  test('different ids run separately', async () => {
    const { inner, runs } = counting();
    const d = dedupingRunner(inner);
    const out = await Promise.all([d.run(node('x')), d.run(node('y')), d.run(node('x')), d.run(node('z'))]);
    expect(runs).toEqual(['x', 'y', 'z']);
    expect(out[2]).toBe(out[0]);
  });

  test('a failure is shared too, not retried within the build', async () => {
    const { inner, runs } = counting();
    const d = dedupingRunner(inner);
    const r = await Promise.allSettled([d.run(node('bad', true)), d.run(node('bad'))]);
    expect(runs).toEqual(['bad']);
    expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    expect((r[1] as PromiseRejectedResult).reason.message).toBe('bad failed');
  });

  test('two deduping runners do not share (one per build)', async () => {
    const { inner, runs } = counting();
    await dedupingRunner(inner).run(node('x'));
    await dedupingRunner(inner).run(node('x'));
    expect(runs).toEqual(['x', 'x']);
  });
});
