import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RemoteCacheError, type RemoteCache } from '../src/cache/remote';
import { remoteCacheFrom } from '../src/remote/config';
import { HttpRemoteCache } from '../src/remote/http';
import { sha256, sha256Hex } from '../src/util/hash';
import {
  closedPort,
  startFaultingProxy,
  startNginx,
  startFullBacklog,
  startSilentServer,
  startTrickleServer,
  type RemoteFault,
  type RunningNginx,
} from './remote-harness';
import { makeCert, tempDir } from '../../../testkit';

jest.setTimeout(60_000);

/** Bazel's HTTP cache protocol against a real nginx (WebDAV PUT) started here. */
const FAST = { connectMs: 1_000, firstByteMs: 1_000, idleMs: 1_000, entryMs: 5_000, blobMs: 10_000 };
const key = (s: string) => sha256Hex(`key ${s}`);

let dir: string;
beforeAll(() => {
  dir = tempDir('remote-http');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

function blobFile(name: string, bytes: Buffer): { path: string; digest: `sha256:${string}`; size: number } {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, digest: sha256(bytes), size: bytes.length };
}

describe('against nginx', () => {
  let nginx: RunningNginx;
  let remote: HttpRemoteCache;
  beforeAll(async () => {
    nginx = await startNginx();
    remote = new HttpRemoteCache({ url: nginx.url, timeouts: FAST });
  });
  afterAll(async () => {
    await remote.close();
    await nginx.stop();
  });

  test('entries: the two areas under /ac/ without colliding, misses as undefined', async () => {
    const k = key('entries');
    expect(await remote.getEntry('ac', k)).toBeUndefined();
    await remote.putEntry('ac', k, Buffer.from('node entry'));
    await remote.putEntry('go', k, Buffer.from('go entry'));
    expect(Buffer.from((await remote.getEntry('ac', k))!).toString()).toBe('node entry');
    expect(Buffer.from((await remote.getEntry('go', k))!).toString()).toBe('go entry');
    expect(nginx.files()).toEqual(expect.arrayContaining([`ac/${k}`, `ac/${sha256Hex(`go:${k}`)}`]));
    await remote.putEntry('ac', k, Buffer.from('node entry')); // idempotent
    await expect(remote.getEntry('ac', 'not-a-key')).rejects.toThrow(/64 lowercase hex/);
  });

  test('blobs: streamed up and down, verified, a second put only asks (HEAD)', async () => {
    const b = blobFile('big', randomBytes(3 * 1024 * 1024 + 17));
    expect(await remote.hasBlob(b.digest)).toBe(false);
    expect(await remote.getBlob(b.digest, join(dir, 'absent'))).toBe(false);
    await remote.putBlob(b.digest, b.size, b.path);
    expect(await remote.hasBlob(b.digest)).toBe(true);
    const up = remote.stats().bytesUp;
    await remote.putBlob(b.digest, b.size, b.path);
    expect(remote.stats().bytesUp).toBe(up);
    const dest = join(dir, 'out', 'big');
    expect(await remote.getBlob(b.digest, dest)).toBe(true);
    expect(readFileSync(dest).equals(readFileSync(b.path))).toBe(true);
    expect(readFileSync(join(nginx.data, 'cas', b.digest.slice(7))).equals(readFileSync(b.path))).toBe(true);
  });

  test('a wrong or truncated blob in the server is a miss and leaves no file', async () => {
    const b = blobFile('wrong', randomBytes(100_000));
    await remote.putBlob(b.digest, b.size, b.path);
    const stored = join(nginx.data, 'cas', b.digest.slice(7));
    for (const bad of [randomBytes(100_000), readFileSync(b.path).subarray(0, 50_000)]) {
      writeFileSync(stored, bad);
      const dest = join(dir, 'wrong-out', 'blob');
      expect(await remote.getBlob(b.digest, dest)).toBe(false);
      expect(existsSync(join(dir, 'wrong-out')) ? readdirSync(join(dir, 'wrong-out')) : []).toEqual([]);
    }
  });

  test('stats count hits, misses and bytes', async () => {
    const fresh = new HttpRemoteCache({ url: nginx.url, timeouts: FAST });
    const k = key('stats');
    await fresh.putEntry('ac', k, Buffer.from('12345'));
    await fresh.getEntry('ac', k);
    await fresh.getEntry('ac', key('stats-miss'));
    expect(fresh.stats()).toMatchObject({ hits: 1, misses: 1, bytesUp: 5, bytesDown: 5, errors: 0 });
    expect(fresh.stats().ms).toBeGreaterThan(0);
    await fresh.close();
  });
});

describe('authentication', () => {
  test('basic auth from the URL: works, and the password is never in a name or message', async () => {
    const nginx = await startNginx({ basic: { user: 'ci', password: 's3cr3t-pw' } });
    try {
      const good = remoteCacheFrom({ option: nginx.url.replace('://', '://ci:s3cr3t-pw@'), env: {} })!;
      expect(good.name).not.toContain('s3cr3t');
      expect(good.name).toContain('***@');
      await good.putEntry('ac', key('auth'), Buffer.from('x'));
      expect(await good.getEntry('ac', key('auth'))).toBeDefined();
      const bad = remoteCacheFrom({ option: nginx.url.replace('://', '://ci:wrong-pw@'), env: {} })!;
      const err = await rejection(bad.getEntry('ac', key('auth')));
      expect(err).toBeInstanceOf(RemoteCacheError);
      expect(err.message).toMatch(/HTTP 401/);
      expect(err.message).not.toMatch(/wrong-pw|s3cr3t/);
      const none = remoteCacheFrom({ option: nginx.url, env: {} })!;
      expect((await rejection(none.getEntry('ac', key('auth')))).message).toMatch(/401/);
      await Promise.all([good, bad, none].map((r) => r.close?.()));
    } finally {
      await nginx.stop();
    }
  });

  test('a header from NX_FNBUILD_REMOTE_CACHE_HEADER', async () => {
    const nginx = await startNginx({ header: ['X-Cache-Token', 'tok-123'] });
    try {
      const withHeader = remoteCacheFrom({ env: { NX_FNBUILD_REMOTE_CACHE: nginx.url, NX_FNBUILD_REMOTE_CACHE_HEADER: 'X-Cache-Token: tok-123' } })!;
      await withHeader.putEntry('ac', key('hdr'), Buffer.from('y'));
      expect(Buffer.from((await withHeader.getEntry('ac', key('hdr')))!).toString()).toBe('y');
      const without = remoteCacheFrom({ env: { NX_FNBUILD_REMOTE_CACHE: nginx.url } })!;
      const err = await rejection(without.getEntry('ac', key('hdr')));
      expect(err.message).toMatch(/HTTP 401/);
      expect(err.message).not.toContain('tok-123');
      await Promise.all([withHeader, without].map((r) => r.close?.()));
    } finally {
      await nginx.stop();
    }
  });

  test('https: verified against the CAs (an extra one from caFile), an untrusted certificate is a fault', async () => {
    const { cert, key: keyFile } = await makeCert(dir, 'nginx');
    const nginx = await startNginx({ tls: { cert, key: keyFile } });
    try {
      const trusted = new HttpRemoteCache({ url: nginx.url, caFile: cert, timeouts: FAST });
      await trusted.putEntry('ac', key('tls'), Buffer.from('z'));
      expect(Buffer.from((await trusted.getEntry('ac', key('tls')))!).toString()).toBe('z');
      const untrusted = new HttpRemoteCache({ url: nginx.url, timeouts: FAST });
      const err = await rejection(untrusted.getEntry('ac', key('tls')));
      expect(err).toBeInstanceOf(RemoteCacheError);
      expect(err.message).toMatch(/self[- ]signed|certificate/i);
      await Promise.all([trusted.close(), untrusted.close()]);
    } finally {
      await nginx.stop();
    }
  });
});

describe('faults', () => {
  test('down: connection refused, at once', async () => {
    const remote = new HttpRemoteCache({ url: `http://127.0.0.1:${await closedPort()}/cache/`, timeouts: FAST });
    const err = await rejection(remote.getEntry('ac', key('down')));
    expect(err).toBeInstanceOf(RemoteCacheError);
    expect(err.message).toMatch(/connection refused/);
    expect(remote.stats().errors).toBe(1);
  });

  test('a connect that never completes hits the connect deadline', async () => {
    const full = await startFullBacklog();
    const remote = new HttpRemoteCache({ url: `http://127.0.0.1:${full.port}/cache/`, timeouts: { ...FAST, connectMs: 500 } });
    try {
      expect((await rejection(remote.getEntry('ac', key('connect')))).message).toMatch(/could not connect in time \(500 ms\)/);
    } finally {
      await remote.close();
      await full.stop();
    }
  });

  test('silent: a server that accepts and never answers hits the first-byte deadline, one connection', async () => {
    const silent = await startSilentServer();
    const remote = new HttpRemoteCache({ url: `http://127.0.0.1:${silent.port}/cache/`, timeouts: FAST });
    try {
      const err = await rejection(remote.getEntry('ac', key('silent')));
      expect(err).toBeInstanceOf(RemoteCacheError);
      expect(err.message).toMatch(/no answer in time|went silent/);
      const b = blobFile('to-silent', randomBytes(1000));
      expect(await rejection(remote.putBlob(b.digest, b.size, b.path))).toBeInstanceOf(RemoteCacheError);
      expect(silent.connections()).toBe(2);
    } finally {
      await remote.close();
      await silent.stop();
    }
  });

  test('a trickle (never idle, never done) hits the total deadline; nothing is written', async () => {
    const trickle = await startTrickleServer(100);
    const remote = new HttpRemoteCache({ url: `http://127.0.0.1:${trickle.port}/cache/`, timeouts: { ...FAST, blobMs: 1_500 } });
    try {
      const out = join(dir, 'trickle-out');
      const err = await rejection(remote.getBlob(sha256('trickle'), join(out, 'blob')));
      expect(err.message).toMatch(/not done within the deadline \(1500 ms\)/);
      expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    } finally {
      await remote.close();
      await trickle.stop();
    }
  });

  test.each<[RemoteFault, RegExp]>([
    ['unavailable', /HTTP 503/],
    ['cut', /aborted|ECONNRESET|socket hang up|premature/i],
    ['stall', /went silent \(1000 ms\)/],
  ])('through a proxy that answers %s: a RemoteCacheError, no file written', async (fault, message) => {
    const nginx = await startNginx();
    let mode: RemoteFault = 'pass';
    const proxy = await startFaultingProxy(nginx.port, () => mode);
    const remote = new HttpRemoteCache({ url: `http://${proxy.host}/cache/`, timeouts: FAST });
    try {
      const b = blobFile(`proxied-${fault}`, randomBytes(200_000));
      await remote.putBlob(b.digest, b.size, b.path);
      mode = fault;
      const out = join(dir, `proxied-${fault}-out`);
      const err = await rejection(remote.getBlob(b.digest, join(out, 'blob')));
      expect(err).toBeInstanceOf(RemoteCacheError);
      expect(err.message).toMatch(message);
      expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    } finally {
      await remote.close();
      await proxy.stop();
      await nginx.stop();
    }
  });

  test('corrupted on the way: a miss, not a file', async () => {
    const nginx = await startNginx();
    let mode: RemoteFault = 'pass';
    const proxy = await startFaultingProxy(nginx.port, () => mode);
    const remote: RemoteCache = new HttpRemoteCache({ url: `http://${proxy.host}/cache/`, timeouts: FAST });
    try {
      const b = blobFile('flipped', randomBytes(50_000));
      await remote.putBlob(b.digest, b.size, b.path);
      mode = 'corrupt';
      expect(await remote.getBlob(b.digest, join(dir, 'flipped-out', 'blob'))).toBe(false);
      expect(existsSync(join(dir, 'flipped-out', 'blob'))).toBe(false);
    } finally {
      await remote.close?.();
      await proxy.stop();
      await nginx.stop();
    }
  });
});
