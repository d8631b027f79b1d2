import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { RemoteCache, RemoteCacheMode } from '../src/cache/remote';
import { HttpRemoteCache } from '../src/remote/http';
import { OciRemoteCache } from '../src/remote/oci';
import { Store } from '../src/cache/store';
import { cachingRunner } from '../src/graph/caching';
import { consoleReporter } from '../src/graph/console-reporter';
import { dedupingRunner } from '../src/graph/deduping';
import { limitingRunner } from '../src/graph/limiting';
import { directRunner, type Node, type Outcome, type Runner } from '../src/graph/node';
import { remoteCachingRunner, remoteSummary, type RemoteTier } from '../src/graph/remote';
import { reportingRunner } from '../src/graph/reporting';
import { keyOf, sha256Hex } from '../src/util/hash';
import {
  closedPort,
  startFaultingProxy,
  startNginx,
  startSilentServer,
  type FaultingProxy,
  type RemoteFault,
  type RunningNginx,
  type SilentServer,
} from './remote-harness';
import { startRegistry, tempDir, type RunningRegistry } from '../../../testkit';

jest.setTimeout(120_000);

/**
 * Two "machines" (two local stores) sharing one real remote (nginx WebDAV, Distribution):
 * what A built, B replays without running a node, byte for byte. A remote that is down,
 * failing, cutting, lying or silent costs B one warning and its own build, never a failure.
 */
const FAST = { connectMs: 1_000, firstByteMs: 1_000, idleMs: 1_000, entryMs: 5_000, blobMs: 10_000 };
const SOURCE = randomBytes(2_000_000);

let dir: string;
let nginx: RunningNginx;
let reg: RunningRegistry;
beforeAll(async () => {
  dir = tempDir('remote-tier');
  [nginx, reg] = await Promise.all([startNginx(), startRegistry()]);
});
afterAll(async () => {
  await Promise.all([nginx?.stop(), reg?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

interface Machine {
  store: Store;
  tier: RemoteTier;
  runner: Runner;
  runs: string[];
  lines: string[];
  warnings: string[];
}

let machines = 0;
async function machine(remote: RemoteCache, mode: RemoteCacheMode = 'read-write', store?: Store): Promise<Machine> {
  const m: Machine = { store: store ?? (await Store.open(join(dir, `store-${++machines}`))), runs: [], lines: [], warnings: [] } as unknown as Machine;
  // The stack as the lead wires it: the tier under caching, above limiting.
  m.tier = remoteCachingRunner(limitingRunner(directRunner(m.store), 2), { store: m.store, remote, mode, warn: (l) => m.warnings.push(l) });
  m.runner = dedupingRunner(
    reportingRunner(
      cachingRunner(m.tier, m.store),
      consoleReporter((l) => m.lines.push(l)),
    ),
  );
  return m;
}

/** A small graph: a source blob, two "compiles" of it, a gzip layer of one, and a data-only node. */
async function build(m: Machine): Promise<Record<string, Outcome<unknown>>> {
  const node = <T>(
    kind: string,
    name: string,
    deps: string[],
    run: (scratch: string, inputs: Outcome<unknown>[]) => Promise<{ data: T; paths?: Record<string, string> }>,
  ): Node<T> => ({
    kind,
    id: `${kind} ${name}`,
    label: `${kind} ${name}`,
    key: async () =>
      keyOf({ kind, name, deps: (await Promise.all(deps.map((d) => m.runner.run(nodes[d]!)))).map((o) => Object.values(o.files).map((f) => f.digest)) }),
    async run(scratch) {
      m.runs.push(`${kind} ${name}`);
      return run(scratch, await Promise.all(deps.map((d) => m.runner.run(nodes[d]!))));
    },
  });
  const write = (scratch: string, name: string, bytes: Buffer) => {
    writeFileSync(join(scratch, name), bytes);
    return join(scratch, name);
  };
  const nodes: Record<string, Node<unknown>> = {
    source: node('source', 'src', [], async (s) => ({ data: { n: 1 }, paths: { src: write(s, 'src', SOURCE) } })),
    a: node('compile', 'a', ['source'], async (s, [src]) => ({
      data: { name: 'a' },
      paths: { binary: write(s, 'a', Buffer.concat([Buffer.from('a'), readFileSync(src!.files.src!.path)])) },
    })),
    b: node('compile', 'b', ['source'], async (s, [src]) => ({
      data: { name: 'b' },
      paths: { binary: write(s, 'b', readFileSync(src!.files.src!.path).subarray(0, 1000)) },
    })),
    layer: node('layer', 'a', ['a'], async (s, [a]) => ({
      data: { mediaType: 'gzip' },
      paths: { layer: write(s, 'layer', gzipSync(readFileSync(a!.files.binary!.path))) },
    })),
    meta: node('meta', 'ab', ['a', 'b'], async () => ({ data: { ok: true } })),
  };
  const out: Record<string, Outcome<unknown>> = {};
  for (const [name, n] of Object.entries(nodes)) out[name] = await m.runner.run(n);
  return out;
}

const ALL_RUNS = ['compile a', 'compile b', 'layer a', 'meta ab', 'source src'];
const bytesOf = (out: Record<string, Outcome<unknown>>) =>
  Object.fromEntries(Object.entries(out).flatMap(([n, o]) => Object.entries(o.files).map(([f, ref]) => [`${n}/${f}`, sha256Hex(readFileSync(ref.path))])));
const states = (m: Machine) => m.lines.map((l) => l.trim().split(/\s+/)[0]);

async function getTags(host: string, repo: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    http
      .get(`http://${host}/v2/${repo}/tags/list`, { agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve((JSON.parse(Buffer.concat(chunks).toString()) as { tags?: string[] }).tags ?? []));
      })
      .on('error', reject);
  });
}

let spaces = 0;
/** A fresh namespace in each real remote, and how to reach it (directly, or through another host:port). */
const remotes = {
  http: {
    fresh: () => `t${++spaces}/`,
    open: (space: string, host?: string) => new HttpRemoteCache({ url: `http://${host ?? `127.0.0.1:${nginx.port}`}/cache/${space}`, timeouts: FAST }),
    written: async (space: string) => nginx.files().filter((f) => f.startsWith(space)),
    port: () => nginx.port,
  },
  oci: {
    fresh: () => `cache/t${++spaces}`,
    open: (space: string, host?: string) => {
      const h = host ?? reg.host;
      return new OciRemoteCache({ url: `oci://${h}/${space}`, env: { NX_FNBUILD_INSECURE_REGISTRIES: h, HOME: dir }, timeouts: FAST });
    },
    written: (space: string) => getTags(reg.host, space).catch(() => []),
    port: () => reg.port,
  },
};

describe.each(Object.keys(remotes) as (keyof typeof remotes)[])('%s remote', (kind) => {
  const r = remotes[kind];

  /** Machine A builds into a fresh namespace and flushes; returns the namespace and A's outputs. */
  async function populated(): Promise<{ space: string; expected: Record<string, string> }> {
    const space = r.fresh();
    const remote = r.open(space);
    const a = await machine(remote);
    const expected = bytesOf(await build(a));
    await a.tier.flush();
    expect([a.runs.sort(), a.warnings, a.tier.stats().uploaded]).toEqual([ALL_RUNS, [], 5]);
    await remote.close?.();
    return { space, expected };
  }

  test('machine B replays what A built: no node runs, byte-identical blobs, lines say remote, then cached', async () => {
    const { space, expected } = await populated();
    const remote = r.open(space);
    const b = await machine(remote);
    expect(bytesOf(await build(b))).toEqual(expected);
    await b.tier.flush();
    expect(b.runs).toEqual([]);
    expect(b.warnings).toEqual([]);
    expect(states(b)).toEqual(['remote', 'remote', 'remote', 'remote', 'remote']);
    const s = b.tier.stats();
    expect([s.fetched, s.uploaded, s.bytesDown > SOURCE.length * 2]).toEqual([5, 0, true]);
    expect(remoteSummary(remote.name, s)).toMatch(/: 5 fetched \([\d.]+ MB\), 0 uploaded/);
    // The local store is L1 now: the next build on B never asks the remote.
    const again = await machine(remote, 'read-write', b.store);
    await build(again);
    expect([again.runs, states(again), again.tier.stats().fetched]).toEqual([[], ['cached', 'cached', 'cached', 'cached', 'cached'], 0]);
    await remote.close?.();
  });

  test('read-only mode looks up but writes nothing', async () => {
    const space = r.fresh();
    const remote = r.open(space);
    const ro = await machine(remote, 'read');
    await build(ro);
    await ro.tier.flush();
    expect([ro.runs.sort(), ro.warnings, ro.tier.stats().bytesUp, await r.written(space)]).toEqual([ALL_RUNS, [], 0, []]);
    await remote.close?.();
  });

  test.each<RemoteFault>(['unavailable', 'cut', 'corrupt'])('a proxy answering %s: B builds correctly itself, one warning', async (fault) => {
    const { space, expected } = await populated();
    const proxy: FaultingProxy = await startFaultingProxy(r.port(), (method, url) =>
      fault === 'unavailable' || (method === 'GET' && /\/(cas|blobs)\//.test(url)) ? fault : 'pass',
    );
    const remote = r.open(space, proxy.host);
    try {
      const b = await machine(remote);
      expect(bytesOf(await build(b))).toEqual(expected);
      await b.tier.flush();
      expect(b.warnings).toHaveLength(1);
      expect(b.warnings[0]).toMatch(/remote cache is off for the rest of this build/);
      expect(b.tier.stats().off).toBeDefined();
      // Nodes whose lookup had already finished may come from the remote; the rest were built, and none failed.
      expect(b.runs.length).toBeGreaterThan(0);
      expect(states(b).every((st) => st === 'built' || st === 'remote')).toBe(true);
    } finally {
      await remote.close?.();
      await proxy.stop();
    }
  });

  test('uploads to a remote that stops answering writes: the build ends, flush is bounded, one warning', async () => {
    const space = r.fresh();
    const proxy = await startFaultingProxy(r.port(), (method) => (['PUT', 'POST', 'PATCH'].includes(method) ? 'hang' : 'pass'));
    const remote = r.open(space, proxy.host);
    try {
      const a = await machine(remote);
      await build(a);
      await a.tier.flush({ timeoutMs: 30_000 });
      expect([a.runs.sort(), a.warnings.length, a.tier.stats().uploaded, await r.written(space)]).toEqual([ALL_RUNS, 1, 0, []]);
      expect(a.warnings[0]).toMatch(/no answer in time|no data|not done within|not finished/);
    } finally {
      await remote.close?.();
      await proxy.stop();
    }
  });

  test.each(['down', 'silent'])('a remote that is %s: B builds everything itself, one warning', async (how) => {
    const { expected } = await populated();
    const silent: SilentServer | undefined = how === 'silent' ? await startSilentServer() : undefined;
    const remote = r.open(r.fresh(), `127.0.0.1:${silent ? silent.port : await closedPort()}`);
    try {
      const b = await machine(remote);
      expect(bytesOf(await build(b))).toEqual(expected);
      await b.tier.flush();
      expect([b.runs.sort(), b.warnings.length, states(b)]).toEqual([ALL_RUNS, 1, ['built', 'built', 'built', 'built', 'built']]);
      expect(b.warnings[0]).toMatch(how === 'down' ? /connection refused/ : /no answer in time|no data|went silent|not done within/);
      // Off after the first fault: only lookups already under way touched it.
      if (silent) expect(silent.connections()).toBeLessThanOrEqual(3);
    } finally {
      await remote.close?.();
      await silent?.stop();
    }
  });
});

test("local kinds (default: 'modules', whose work fills GOMODCACHE) are never looked up nor stored remotely", async () => {
  const space = remotes.http.fresh();
  const remote = remotes.http.open(space);
  const runs: string[] = [];
  const storeA = await Store.open(join(dir, `store-${++machines}`));
  const tier = remoteCachingRunner(directRunner(storeA), { store: storeA, remote, mode: 'read-write', warn: () => {} });
  const modules: Node<{ n: number }> = {
    kind: 'modules',
    id: 'm',
    label: 'modules x',
    key: async () => sha256Hex('modules x'),
    run: async () => {
      runs.push('modules');
      return { data: { n: 1 } };
    },
  };
  const compile: Node<{ n: number }> = {
    kind: 'compile',
    id: 'c',
    label: 'compile x',
    key: async () => sha256Hex('compile x'),
    run: async () => {
      runs.push('compile');
      return { data: { n: 2 } };
    },
  };
  await tier.run(modules);
  await tier.run(compile);
  await tier.flush();
  expect([runs, tier.stats().uploaded, tier.stats().hits + tier.stats().misses]).toEqual([['modules', 'compile'], 1, 1]);
  expect(await remotes.http.written(space)).toEqual([`${space}ac/${sha256Hex('compile x')}`]);
  await remote.close();
});

test('an entry whose blob the remote lost is a miss: that node is built, the rest fetched, no warning', async () => {
  const space = remotes.http.fresh();
  const remote = remotes.http.open(space);
  const a = await machine(remote);
  const expected = bytesOf(await build(a));
  await a.tier.flush();
  const layerBlob = expected['layer/layer']!;
  rmSync(join(nginx.data, space, 'cas', layerBlob));
  const b = await machine(remote);
  expect(bytesOf(await build(b))).toEqual(expected);
  await b.tier.flush();
  expect([b.runs, b.warnings]).toEqual([['layer a'], []]);
  expect(await remotes.http.written(space)).toContain(`${space}cas/${layerBlob}`); // uploaded again by B
  await remote.close();
});
