import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/cache/store';
import { RegistryClient } from '../../src/registry/client';
import { resolveImage } from '../../src/registry/pull';
import { digestOf, startFaultProxy, startRegistry, tempDir, tool, type FaultProxy, type RunningRegistry } from '../../../../testkit';
import { pushImage, source, syntheticImage } from './synthetic';

jest.setTimeout(60_000);

/** Anonymous Distribution; the client talks through a counting proxy so the wire can be checked. */
let reg: RunningRegistry;
let proxy: FaultProxy;
let client: RegistryClient;
let dir: string;
let store: Store;
const img = syntheticImage('hello', ['linux/amd64', 'linux/arm64']);
let repo: string;
/** The image pushed once to team/hello for every test here; the first test checks that push. */
let firstPush: Awaited<ReturnType<typeof pushImage>>;
const stores: Store[] = [];

beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.port);
  dir = tempDir('push-pull');
  store = await Store.open(join(dir, 'store'));
  client = new RegistryClient({ insecureRegistries: [proxy.host] });
  repo = `${proxy.host}/team/hello`;
  firstPush = await pushImage(client, repo, 'v1', img);
});

afterAll(async () => {
  client?.close();
  await Promise.all([store, ...stores].map((s) => s?.close()));
  await proxy?.stop();
  await reg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('push, checked with skopeo', () => {
  it('pushes a 2-platform image that skopeo reads back with the same digests', async () => {
    const { outcomes, digest } = firstPush;
    expect(digest).toBe(img.index.digest);
    expect(outcomes.every((o) => o === 'uploaded')).toBe(true);

    // Straight at the registry, not through our proxy.
    const raw = await tool('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${reg.host}/team/hello:v1`]);
    expect(digestOf(raw)).toBe(img.index.digest);

    const layout = join(dir, 'layout');
    await tool('skopeo', ['copy', '--all', '--src-tls-verify=false', `docker://${reg.host}/team/hello:v1`, `oci:${layout}:x`]);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(index.manifests.map((m) => m.digest)).toEqual([img.index.digest]);
    for (const b of [...img.blobs, ...img.manifests, img.index]) {
      const file = join(layout, 'blobs', 'sha256', b.digest.slice(7));
      expect(digestOf(readFileSync(file))).toBe(b.digest);
    }
  });

  it('re-pushing the same image uploads nothing: no POST, PUT or PATCH for blobs', async () => {
    proxy.reset();
    const { outcomes } = await pushImage(client, repo, 'v1', img);
    expect(outcomes.every((o) => o === 'exists')).toBe(true);
    expect(proxy.count('POST', /\/blobs\/uploads\//)).toBe(0);
    expect(proxy.count('PUT', /\/blobs\//)).toBe(0);
    expect(proxy.count('PATCH')).toBe(0);
    expect(proxy.count('HEAD', /\/blobs\//)).toBe(img.blobs.length);
  });

  it('a second repository gets its blobs by cross-repository mount', async () => {
    proxy.reset();
    const { outcomes } = await pushImage(client, `${proxy.host}/team/other`, 'v1', img, { mountFrom: repo });
    expect(outcomes).toEqual(img.blobs.map(() => 'mounted'));
    expect(proxy.requests.filter((r) => r.method === 'POST' && /[?&]mount=sha256%3A[0-9a-f]{64}&from=team%2Fhello$/.test(r.url)).length).toBe(img.blobs.length);
    expect(proxy.count('PUT', /\/blobs\//)).toBe(0);
    expect(proxy.count('PATCH')).toBe(0);
    const raw = await tool('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${reg.host}/team/other:v1`]);
    expect(digestOf(raw)).toBe(img.index.digest);
  });

  it('uploads in PATCH chunks when asked, and the registry has the right bytes', async () => {
    proxy.reset();
    const chunked = `${proxy.host}/team/chunked`;
    const { outcomes } = await pushImage(client, chunked, 'v1', img, { chunkSize: 64 });
    expect(outcomes.every((o) => o === 'uploaded')).toBe(true);
    const expectedPatches = img.blobs.reduce((n, b) => n + (b.size > 64 ? Math.ceil(b.size / 64) : 0), 0);
    expect(expectedPatches).toBeGreaterThan(img.blobs.length);
    expect(proxy.count('PATCH')).toBe(expectedPatches);
    for (const b of img.blobs) {
      const out = join(dir, 'chunked', b.digest.slice(7));
      await client.getBlob(chunked, b.digest, out, { size: b.size });
      expect(readFileSync(out).equals(b.bytes)).toBe(true);
    }
  });
});

describe('pull with resolveImage', () => {
  // Each test pulls into a store of its own: what one fetched never changes what another sees.
  beforeEach(async () => {
    store = await Store.open(join(dir, `store-${stores.length + 1}`));
    stores.push(store);
  });

  it.each([
    ['linux/amd64', 0],
    ['linux/arm64', 1],
  ])('resolves %s from the index, layers on demand', async (platform, i) => {
    const got = await resolveImage(client, `${repo}:v1`, platform, { store });
    const m = img.manifests[i]!;
    expect(got.indexDigest).toBe(img.index.digest);
    expect(got.manifest.digest).toBe(m.digest);
    expect(got.manifest.bytes.equals(m.bytes)).toBe(true);
    expect(got.config.parsed.architecture).toBe(platform.split('/')[1]);
    expect(got.availablePlatforms.map((p) => `${p.os}/${p.arch}`)).toEqual(['linux/amd64', 'linux/arm64']);
    // Layers are fetched on demand only (the first platform resolved has none yet).
    if (i === 0) expect(got.manifest.parsed.layers.some((l) => existsSync(store.blobPath(l.digest)))).toBe(false);
    for (const layer of got.manifest.parsed.layers) {
      const path = await got.ensureLayer(layer.digest);
      expect(digestOf(readFileSync(path))).toBe(layer.digest);
    }
  });

  it('picks a compatible variant (amd64/v3 runs on amd64) and names the platforms when none fits', async () => {
    const v3 = await resolveImage(client, `${repo}:v1`, 'linux/amd64/v3', { store });
    expect(v3.manifest.digest).toBe(img.manifests[0]!.digest);
    await expect(resolveImage(client, `${repo}:v1`, 'linux/s390x', { store })).rejects.toThrow(
      `base image ${repo}:v1 has no linux/s390x image; it has: linux/amd64, linux/arm64`,
    );
  });

  it('a tag costs one HEAD when cached, a digest nothing, offline nothing', async () => {
    await resolveImage(client, `${repo}:v1`, 'linux/arm64', { store });
    proxy.reset();
    const again = await resolveImage(client, `${repo}:v1`, 'linux/arm64', { store });
    expect(proxy.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['HEAD /v2/team/hello/manifests/v1']);

    proxy.reset();
    const byDigest = await resolveImage(client, `${repo}@${img.index.digest}`, 'linux/arm64', { store });
    expect(byDigest.manifest.digest).toBe(again.manifest.digest);
    const offline = await resolveImage(client, `${repo}:v1`, 'linux/arm64', { store, offline: true });
    expect(offline.config.digest).toBe(again.config.digest);
    expect(proxy.requests).toEqual([]);

    const empty = await Store.open(join(dir, 'empty-store'));
    await expect(resolveImage(client, `${repo}:v1`, 'linux/arm64', { store: empty, offline: true })).rejects.toThrow(
      `offline, and the cache has no digest for ${repo}:v1`,
    );
  });

  it('a corrupt cached manifest is fetched again, not used', async () => {
    await resolveImage(client, `${repo}@${img.index.digest}`, 'linux/arm64', { store });
    const digest = img.manifests[1]!.digest;
    const path = store.blobPath(digest);
    rmSync(path, { force: true });
    writeFileSync(path, '{"tampered":true}');
    // A fresh Store, as the next process would open it (a Store trusts what it verified itself in this process).
    const reopened = await Store.open(store.root);
    stores.push(reopened);
    proxy.reset();
    const got = await resolveImage(client, `${repo}@${img.index.digest}`, 'linux/arm64', { store: reopened });
    expect(got.manifest.bytes.equals(img.manifests[1]!.bytes)).toBe(true);
    expect(proxy.count('GET', new RegExp(`/manifests/${digest}$`))).toBe(1);
  });
});

describe('registry errors', () => {
  it('names the reference and the registry code', async () => {
    // Distribution 2.8 answers MANIFEST_UNKNOWN even when the repository does not exist.
    await expect(client.getManifest(`${proxy.host}/nope/nope:v1`)).rejects.toThrow(
      `pulling manifest ${proxy.host}/nope/nope:v1: ${proxy.host} answered HTTP 404 MANIFEST_UNKNOWN (manifest unknown)\n  Check the tag or digest.`,
    );
    await expect(client.getManifest(`${repo}:missing`)).rejects.toThrow(`${proxy.host} answered HTTP 404 MANIFEST_UNKNOWN (manifest unknown)`);
    expect(await client.headManifest(`${repo}:missing`)).toBeUndefined();
    expect(await client.headBlob(repo, digestOf('absent'))).toBeUndefined();
  });

  it('a manifest naming a blob the registry lacks is refused clearly', async () => {
    const orphan = syntheticImage('orphan', ['linux/amd64']);
    const m = orphan.manifests[0]!;
    await expect(client.putManifest(repo, 'orphan', m.bytes, m.mediaType)).rejects.toThrow(/answered HTTP 400 MANIFEST_BLOB_UNKNOWN/);
  });

  it('a blob whose bytes do not match its digest is refused by the registry', async () => {
    const b = img.blobs[0]!;
    const lie = { ...source(b), digest: digestOf('something else') };
    await expect(client.uploadBlob(`${proxy.host}/team/lies`, lie)).rejects.toThrow(/DIGEST_INVALID/);
  });
});
