import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../cache/store';
import { collect, run, tempDir } from './__fixtures__/tools';
import { GZIP_LEVEL, buildLayer } from './layer';
import { DOCKER_LAYER_GZIP, OCI_LAYER, OCI_LAYER_GZIP } from './media-types';
import { tarStream, type TarEntry } from './tar';

jest.setTimeout(60_000);

let root: string;
let store: Store;
beforeEach(async () => {
  root = tempDir('layer');
  store = await Store.open(join(root, 'store'));
});
afterEach(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

const sha256sum = (file: string) => `sha256:${run('sha256sum', [file]).stdout.split(' ')[0]}`;

function entries(): TarEntry[] {
  const bin = join(root, 'server');
  writeFileSync(bin, Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31) % 256)));
  return [
    { path: '/app/server', type: 'file', mode: 0o755, source: bin },
    { path: '/etc/app.conf', type: 'file', mode: 0o644, content: Buffer.from('answer=42\n') },
  ];
}

describe('buildLayer', () => {
  test('diff_id is the sha256 of the tar, digest and size those of the gzip blob, and the tools agree', async () => {
    const es = entries();
    const layer = await buildLayer(es, { store, mtime: 1_700_000_000 });

    const tarFile = join(root, 'independent.tar');
    writeFileSync(tarFile, await collect(tarStream(es, { mtime: 1_700_000_000 })));
    expect(layer.diffId).toBe(sha256sum(tarFile));

    expect(layer.path).toBe(store.blobPath(layer.digest));
    expect(layer.digest).toBe(sha256sum(layer.path));
    expect(layer.size).toBe(statSync(layer.path).size);
    expect(layer.mediaType).toBe(OCI_LAYER_GZIP);
    expect(layer.digest).not.toBe(layer.diffId);

    run('gzip', ['-t', layer.path]);
    // gunzip's output is the very tar we hashed.
    const gunzipped = run('sh', ['-c', 'gzip -dc < "$1" | sha256sum', 'sh', layer.path]).stdout.split(' ')[0];
    expect(`sha256:${gunzipped}`).toBe(layer.diffId);

    const out = join(root, 'x');
    mkdirSync(out);
    run('tar', ['-xzf', layer.path, '-C', out]);
    expect(readFileSync(join(out, 'app/server')).equals(readFileSync(es[0]!.source!))).toBe(true);
    expect(statSync(join(out, 'app/server')).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(out, 'etc/app.conf'), 'utf8')).toBe('answer=42\n');

    // Its own temp dir is gone once the blob is published.
    expect(readdirSync(join(root, 'store', 'tmp'))).toEqual([]);
  });

  test('a fixed gzip header: no name, mtime 0, OS 255, so the digest does not depend on the host OS', async () => {
    const layer = await buildLayer(entries(), { store });
    const head = readFileSync(layer.path).subarray(0, 10);
    expect(GZIP_LEVEL).toBe(1);
    expect([...head]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4 /* XFL: 4 = fastest, as level 1 is */, 0xff]);
    const denser = await buildLayer(entries(), { store, level: 6 });
    expect(readFileSync(denser.path)[8]).toBe(0);
    expect(denser.diffId).toBe(layer.diffId);
    expect(denser.digest).not.toBe(layer.digest);
    const again = await buildLayer(entries(), { store });
    expect(again).toEqual(layer);
  });

  test('an uncompressed layer type stores the tar itself (digest = diff_id); Docker types pass through', async () => {
    const tar = await buildLayer(entries(), { store, mediaType: OCI_LAYER });
    expect(tar.digest).toBe(tar.diffId);
    expect(sha256sum(tar.path)).toBe(tar.diffId);
    const docker = await buildLayer(entries(), { store, mediaType: DOCKER_LAYER_GZIP });
    expect(docker.mediaType).toBe(DOCKER_LAYER_GZIP);
    expect(docker.diffId).toBe(tar.diffId);
  });

  test('a failing source leaves nothing behind', async () => {
    await expect(buildLayer([{ path: 'x', type: 'file', mode: 0o644, source: join(root, 'missing') }], { store })).rejects.toThrow(/ENOENT/);
    expect(readdirSync(join(root, 'store', 'tmp'))).toEqual([]);
    expect(() => readdirSync(join(root, 'store', 'cas', 'sha256'))).toThrow(/ENOENT/);
  });

  test('memory stays bounded for a large file (256 MiB streamed, RSS grows far less)', async () => {
    const big = join(root, 'big.bin');
    writeFileSync(big, '');
    truncateSync(big, 256 << 20); // sparse zeros: cheap to create, fast to deflate
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    try {
      const layer = await buildLayer([{ path: 'big.bin', type: 'file', mode: 0o644, source: big }], { store, level: 1 });
      expect(layer.size).toBeLessThan(2 << 20);
    } finally {
      clearInterval(timer);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(peak - before).toBeLessThan(64 << 20); // measured ~24 MiB; buffering the tar would be > 256
  });
});
