import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { RemoteCacheError } from '../src/cache/remote';
import { remoteCacheFrom } from '../src/remote/config';
import { OciRemoteCache } from '../src/remote/oci';
import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST } from '../src/oci/media-types';
import { RegistryClient } from '../src/registry/client';
import { sha256, sha256Hex, type Digest } from '../src/util/hash';
import { closedPort, startFaultingProxy, startSilentServer, type RemoteFault } from './remote-harness';
import { startRegistry, tempDir, tool, REGISTRY_BIN, type RunningRegistry } from '../../../testkit';

jest.setTimeout(90_000);

/** The remote tier in a real CNCF Distribution on loopback, through the project's registry client. */
const FAST = { connectMs: 1_000, firstByteMs: 1_000, idleMs: 1_000, entryMs: 5_000, blobMs: 10_000 };
const key = (s: string) => sha256Hex(`oci key ${s}`);

let dir: string;
let reg: RunningRegistry;
beforeAll(async () => {
  dir = tempDir('remote-oci');
  reg = await startRegistry();
});
afterAll(async () => {
  await reg.stop();
  rmSync(dir, { recursive: true, force: true });
});

function ociRemote(host: string, repo: string, env: Record<string, string> = {}): OciRemoteCache {
  return new OciRemoteCache({ url: `oci://${host}/${repo}`, env: { NX_FNBUILD_INSECURE_REGISTRIES: host, HOME: dir, ...env }, timeouts: FAST });
}

function blobFile(name: string, bytes: Buffer): { path: string; digest: Digest; size: number } {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, digest: sha256(bytes), size: bytes.length };
}

async function getJson(host: string, path: string, accept?: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`http://${host}${path}`, { headers: accept ? { Accept: accept } : {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
    });
    req.on('error', reject);
  });
}

const tags = async (host: string, repo: string) => ((await getJson(host, `/v2/${repo}/tags/list`)).body as { tags?: string[] } | null)?.tags?.sort() ?? [];

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

test('entries are tagged image manifests whose layers are their blobs; both areas; misses', async () => {
  const remote = ociRemote(reg.host, 'cache/roundtrip');
  const k = key('roundtrip');
  expect(remote.name).toBe(`oci://${reg.host}/cache/roundtrip`);
  expect(await remote.getEntry('ac', k)).toBeUndefined(); // the repository does not exist yet
  const bin = blobFile('bin', randomBytes(300_000));
  const layer = blobFile('layer.tar.gz', gzipSync(randomBytes(10_000)));
  await remote.putBlob(bin.digest, bin.size, bin.path);
  await remote.putBlob(layer.digest, layer.size, layer.path);
  await remote.putEntry('ac', k, Buffer.from('{"node":1}'), [bin, layer]);
  await remote.putEntry('go', k, Buffer.from('go output id'));
  expect(Buffer.from((await remote.getEntry('ac', k))!).toString()).toBe('{"node":1}');
  expect(Buffer.from((await remote.getEntry('go', k))!).toString()).toBe('go output id');
  expect(await remote.getEntry('ac', key('other'))).toBeUndefined();
  expect(await tags(reg.host, 'cache/roundtrip')).toEqual([`ac-${k}`, `go-${k}`]);

  const m = (await getJson(reg.host, `/v2/cache/roundtrip/manifests/ac-${k}`, OCI_MANIFEST)).body as {
    mediaType: string;
    config: { mediaType: string };
    layers: { mediaType: string; digest: string }[];
  };
  expect(m.mediaType).toBe(OCI_MANIFEST);
  expect(m.config.mediaType).toBe(OCI_CONFIG);
  expect(m.layers.map((l) => [l.digest, l.mediaType])).toEqual([
    [bin.digest, 'application/octet-stream'],
    [layer.digest, OCI_LAYER_GZIP],
  ]);

  expect(await remote.hasBlob(bin.digest)).toBe(true);
  expect(await remote.hasBlob(sha256('absent'))).toBe(false);
  const dest = join(dir, 'down', 'bin');
  expect(await remote.getBlob(bin.digest, dest)).toBe(true);
  expect(readFileSync(dest).equals(readFileSync(bin.path))).toBe(true);
  expect(await remote.getBlob(sha256('absent'), join(dir, 'down', 'absent'))).toBe(false);
  const s = remote.stats();
  expect(s).toMatchObject({ hits: 2, errors: 0 });
  expect(s.misses).toBe(2);
  expect(s.bytesUp).toBeGreaterThan(310_000);
  expect(s.bytesDown).toBeGreaterThan(300_000);
  await remote.close();
});

test("the registry's garbage collector keeps an entry's blobs and collects an unreferenced one", async () => {
  const remote = ociRemote(reg.host, 'cache/gc');
  const kept = blobFile('kept', randomBytes(5_000));
  const orphan = blobFile('orphan', randomBytes(5_000));
  await remote.putBlob(kept.digest, kept.size, kept.path);
  await remote.putBlob(orphan.digest, orphan.size, orphan.path);
  await remote.putEntry('ac', key('gc'), Buffer.from('entry'), [kept]);
  await remote.close();
  const blobData = (d: Digest) => join(reg.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', d.slice(7, 9), d.slice(7), 'data');
  expect([existsSync(blobData(kept.digest)), existsSync(blobData(orphan.digest))]).toEqual([true, true]);
  await tool(REGISTRY_BIN, ['garbage-collect', join(reg.dir, 'config.yml')]);
  expect([existsSync(blobData(kept.digest)), existsSync(blobData(orphan.digest))]).toEqual([true, false]);
});

test('NX_FNBUILD_INSECURE_REGISTRIES lets a plain-http registry be used; without it, a clear fault', async () => {
  const secure = remoteCacheFrom({ option: `oci://${reg.host}/cache/env`, env: { HOME: dir } })!;
  const err = await rejection(secure.getEntry('ac', key('env')));
  expect(err).toBeInstanceOf(RemoteCacheError);
  expect(err.message).toMatch(/does not speak TLS.*NX_FNBUILD_INSECURE_REGISTRIES/);
  const insecure = remoteCacheFrom({ option: `oci://${reg.host}/cache/env`, env: { HOME: dir, NX_FNBUILD_INSECURE_REGISTRIES: `other:5000, ${reg.host}` } })!;
  expect(await insecure.getEntry('ac', key('env'))).toBeUndefined();
  await Promise.all([secure.close?.(), insecure.close?.()]);
});

test('every registry client (base pulls, pushes) honours NX_FNBUILD_INSECURE_REGISTRIES from its env', async () => {
  const without = new RegistryClient({ credentials: { env: { HOME: dir } }, retry: { attempts: 1 } });
  await expect(without.headBlob(`${reg.host}/cache/any`, sha256('x'))).rejects.toThrow(/does not speak TLS/);
  const withEnv = new RegistryClient({ credentials: { env: { HOME: dir, NX_FNBUILD_INSECURE_REGISTRIES: reg.host } } });
  expect(await withEnv.headBlob(`${reg.host}/cache/any`, sha256('x'))).toBeUndefined();
  [without, withEnv].forEach((c) => c.close());
});

describe('faults', () => {
  test('down and silent registries: RemoteCacheErrors within the deadlines', async () => {
    const down = ociRemote(`127.0.0.1:${await closedPort()}`, 'cache/down');
    expect((await rejection(down.getEntry('ac', key('down')))).message).toMatch(/connection refused/);
    const silent = await startSilentServer();
    const hung = ociRemote(`127.0.0.1:${silent.port}`, 'cache/hung');
    try {
      const err = await rejection(hung.getEntry('ac', key('hung')));
      expect(err).toBeInstanceOf(RemoteCacheError);
      expect(err.message).toMatch(/no data|not done within/);
      expect(hung.stats().errors).toBe(1);
    } finally {
      await hung.close();
      await silent.stop();
    }
  });

  test.each<RemoteFault>(['unavailable', 'corrupt'])('a proxy answering %s for blobs: an error or a miss, never a file', async (fault) => {
    const remote = ociRemote(reg.host, `cache/fault-${fault}`);
    const b = blobFile(`fault-${fault}`, randomBytes(100_000));
    await remote.putBlob(b.digest, b.size, b.path);
    await remote.close();
    const proxy = await startFaultingProxy(reg.port, (method, url) => (method === 'GET' && url.includes('/blobs/') ? fault : 'pass'));
    const via = ociRemote(proxy.host, `cache/fault-${fault}`);
    try {
      const out = join(dir, `fault-${fault}-out`);
      if (fault === 'unavailable') expect(await rejection(via.getBlob(b.digest, join(out, 'blob')))).toBeInstanceOf(RemoteCacheError);
      else expect(await via.getBlob(b.digest, join(out, 'blob'))).toBe(false);
      expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    } finally {
      await via.close();
      await proxy.stop();
    }
  });
});
