import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../cache/store';
import { consoleReporter, formatMs } from './console-reporter';
import type { Node, Outcome, Runner } from './node';
import { reportingRunner, type NodeEvent } from './reporting';
import { buildRunner } from './runner';

const node = (id: string, kind = 'compile', opts: { key?: string; fail?: boolean } = {}): Node<string> => ({
  kind,
  id,
  label: `${kind} ${id}`,
  ...(opts.key ? { key: async () => opts.key! } : {}),
  async run() {
    if (opts.fail) throw new Error(`${id} broke`);
    return { data: id };
  },
});

describe('reportingRunner', () => {
  test('one "done" event per node, with kind, label, cached and the inner outcome\'s ms', async () => {
    const inner: Runner = {
      async run<T>(n: Node<T>): Promise<Outcome<T>> {
        return { data: (await n.run('/x')).data, files: {}, cached: n.id === 'b', ms: n.id === 'b' ? 3 : 1234 };
      },
    };
    const events: NodeEvent[] = [];
    const r = reportingRunner(inner, (e) => events.push(e));
    await r.run(node('a'));
    await r.run(node('b', 'export'));
    expect(events).toEqual([
      { state: 'done', kind: 'compile', label: 'compile a', cached: false, ms: 1234 },
      { state: 'done', kind: 'export', label: 'export b', cached: true, ms: 3 },
    ]);
  });

  test('a failure is reported once as "failed" with the error, and still thrown', async () => {
    const boom = new Error('no');
    const inner: Runner = { run: () => Promise.reject(boom) };
    const events: NodeEvent[] = [];
    await expect(reportingRunner(inner, (e) => events.push(e)).run(node('a'))).rejects.toBe(boom);
    expect(events).toHaveLength(1);
    expect(events[0]).toEqual({ state: 'failed', kind: 'compile', label: 'compile a', ms: expect.any(Number), error: boom });
  });
});

describe('buildRunner reporting', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'fnb-report-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('a deduplicated node is reported once; a second build reports the keyed node cached', async () => {
    const store = await Store.open(root);
    const events: NodeEvent[] = [];
    const runner = buildRunner(store, { parallelism: 2, report: (e) => events.push(e) });
    const key = '33'.repeat(32);
    await Promise.all([runner.run(node('m', 'modules', { key })), runner.run(node('m', 'modules', { key })), runner.run(node('e', 'export'))]);
    // Completion order is not part of the contract: compare sorted by label.
    expect(events.map((e) => [e.state, e.label, e.state === 'done' && e.cached]).sort()).toEqual([
      ['done', 'export e', false],
      ['done', 'modules m', false],
    ]);

    const events2: NodeEvent[] = [];
    const runner2 = buildRunner(store, { parallelism: 2, report: (e) => events2.push(e) });
    await Promise.allSettled([runner2.run(node('m', 'modules', { key })), runner2.run(node('x', 'compile', { key: '44'.repeat(32), fail: true }))]);
    expect(events2.map((e) => [e.state, e.label, e.state === 'failed' ? (e.error as Error).message : e.state === 'done' && e.cached]).sort()).toEqual([
      ['done', 'modules m', true],
      ['failed', 'compile x', 'x broke'],
    ]);
  });
});

describe('consoleReporter', () => {
  test('one aligned line per node: built / cached / done / failed', () => {
    const lines: string[] = [];
    const report = consoleReporter((l) => lines.push(l));
    report({ state: 'done', kind: 'compile', label: 'compile server linux/arm64', cached: false, ms: 12345 });
    report({ state: 'done', kind: 'compile', label: 'compile client linux/amd64', cached: true, ms: 4.4 });
    report({ state: 'done', kind: 'export', label: 'export bin/linux_amd64/client', cached: false, ms: 0.6 });
    report({ state: 'failed', kind: 'compile', label: 'compile bad linux/amd64', ms: 999.6, error: new Error('x') });
    expect(lines).toEqual([
      `  built   ${'compile server linux/arm64'.padEnd(44)}   12.3s`,
      `  cached  ${'compile client linux/amd64'.padEnd(44)}     4ms`,
      `  done    ${'export bin/linux_amd64/client'.padEnd(44)}     1ms`,
      `  failed  ${'compile bad linux/amd64'.padEnd(44)}  1000ms`,
    ]);
  });

  test('formatMs', () => {
    expect([formatMs(0), formatMs(999.4), formatMs(1000), formatMs(61_250)]).toEqual(['0ms', '999ms', '1.0s', '61.3s']);
  });
});
