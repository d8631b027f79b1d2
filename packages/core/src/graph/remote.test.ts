import { sha256Hex } from '../util/hash';
import { consoleReporter } from './console-reporter';
import type { Node, Runner } from './node';
import { decodeRemoteEntry, encodeRemoteEntry, remoteSummary } from './remote';
import { reportingRunner, type NodeEvent } from './reporting';

const key = sha256Hex('k');
const files = { binary: { digest: `sha256:${sha256Hex('bin')}` as const, size: 3 } };

test('a remote entry reads back only for its key and kind, untampered', () => {
  const bytes = encodeRemoteEntry(key, 'compile', { importPath: 'x' }, files);
  expect(decodeRemoteEntry(bytes, key, 'compile')).toMatchObject({ kind: 'compile', data: { importPath: 'x' }, files });
  expect(decodeRemoteEntry(bytes, sha256Hex('other'), 'compile')).toBeUndefined();
  expect(decodeRemoteEntry(bytes, key, 'layer')).toBeUndefined();
  const tampered = Buffer.from(Buffer.from(bytes).toString().replace('"x"', '"y"'));
  expect(decodeRemoteEntry(tampered, key, 'compile')).toBeUndefined();
  expect(decodeRemoteEntry(Buffer.from('not json'), key, 'compile')).toBeUndefined();
  const badDigest = encodeRemoteEntry(key, 'compile', {}, { binary: { digest: 'sha256:zz' as `sha256:${string}`, size: 1 } });
  expect(decodeRemoteEntry(badDigest, key, 'compile')).toBeUndefined();
});

test("a node fetched from the remote is reported and printed as 'remote', a local hit as 'cached'", async () => {
  const events: NodeEvent[] = [];
  const lines: string[] = [];
  const print = consoleReporter((l) => lines.push(l));
  let remote = true;
  const inner: Runner = { run: async <T>(_node: Node<T>) => ({ data: undefined as T, files: {}, cached: true, ...(remote ? { remote: true } : {}), ms: 5 }) };
  const runner = reportingRunner(inner, (e) => {
    events.push(e);
    print(e);
  });
  const node: Node<void> = { kind: 'compile', id: 'c', label: 'compile server linux/amd64', run: async () => ({ data: undefined }) };
  await runner.run(node);
  remote = false;
  await runner.run(node);
  expect(events.map((e) => e.state === 'done' && e.remote)).toEqual([true, undefined]);
  expect(lines.map((l) => l.trim().split(/\s+/)[0])).toEqual(['remote', 'cached']);
});

test('the summary line gives counts, bytes and time', () => {
  const line = remoteSummary('oci://r/c', { hits: 3, misses: 1, bytesDown: 12_345_678, bytesUp: 4_100, ms: 1234, errors: 0, fetched: 3, uploaded: 2 });
  expect(line).toBe('remote cache oci://r/c: 3 fetched (12.3 MB), 2 uploaded (4 kB), 1.2s');
});
