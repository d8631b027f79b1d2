/**
 * Writes a real two-platform image and checks it with tools that share no code with ours: skopeo
 * (containers/image), umoci (opencontainers/umoci) and GNU tar; then runs the unpacked binary.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../cache/store';
import type { Platform } from '../platform/platform';
import { run, tarListing, tempDir } from './__fixtures__/tools';
import { imageAnnotations, imageConfig, index, manifest } from './image';
import { buildLayer, layerDescriptor, type Layer } from './layer';
import { writeDockerArchive, writeLayout, writeOciArchive, type LayoutImage } from './layout';
import { OCI_CONFIG, OCI_INDEX } from './media-types';
import { readLayout, readLayoutJson, layoutBlobPath } from './read-layout';
import { PASSWD, GROUP, scratchBase } from './scratch';
import { descriptor, ociPlatform, serialize, type Index, type Manifest, type SerializedBlob } from './types';

jest.setTimeout(120_000);

const BUSYBOX = '/usr/bin/busybox';
const MTIME = 1_700_000_000;
const CREATED = '2023-11-14T22:13:20Z';

interface PlatformImage {
  platform: Platform;
  binary: string;
  layers: Layer[];
  config: SerializedBlob;
  manifest: SerializedBlob;
}

let root: string;
let store: Store;
let images: PlatformImage[];
let top: SerializedBlob;
let image: LayoutImage;

async function platformImage(platform: Platform, binary: string): Promise<PlatformImage> {
  const base = await scratchBase({ store, platform, mtime: MTIME });
  const app = await buildLayer([{ path: '/app/busybox', type: 'file', mode: 0o755, source: binary }], { store, mtime: MTIME });
  const cfg = imageConfig({
    base: base.config,
    platform,
    layers: [app.diffId],
    entrypoint: ['/app/busybox'],
    cmd: ['echo', 'hi'],
    env: { APP_ENV: 'test' },
    ports: ['8080'],
    labels: { 'org.example.team': 'core' },
    created: CREATED,
    history: [{ created_by: 'nx-fnbuild: /app/busybox' }],
  });
  const config = serialize(cfg, OCI_CONFIG);
  const layers = [base.layer, app];
  const m = manifest({
    config,
    layers: layers.map(layerDescriptor),
    annotations: imageAnnotations({ revision: 'abc123', version: '1.0.0', created: CREATED }),
  });
  return { platform, binary, layers, config, manifest: serialize(m, m.mediaType) };
}

function blobsOf(imgs: PlatformImage[]) {
  return imgs.flatMap((i) => [i.manifest, i.config, ...i.layers]);
}

beforeAll(async () => {
  root = tempDir('layout');
  store = await Store.open(join(root, 'store'));
  // The arm64 "binary" is just bytes here (a copy of /bin/true); only the amd64 one is run.
  const fakeArm = join(root, 'true-copy');
  copyFileSync('/bin/true', fakeArm);
  images = [await platformImage({ os: 'linux', arch: 'amd64' }, BUSYBOX), await platformImage({ os: 'linux', arch: 'arm64' }, fakeArm)];
  const ix = index({ manifests: images.map((i) => descriptor(i.manifest, { platform: ociPlatform(i.platform) })) });
  top = serialize(ix, ix.mediaType);
  image = { top, blobs: blobsOf(images), tags: ['latest', '1.0.0'] };
});

afterAll(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

const inspect = (args: string[]) => run('skopeo', ['inspect', ...args]).stdout;
const leftovers = (parent: string, name: string) => readdirSync(parent).filter((n) => n.startsWith(`.${name}.`));

describe('writeLayout of a layout that is already there', () => {
  test('writes nothing; a blob damaged in place (same size) makes it write the layout again', async () => {
    const dir = join(root, 'again', 'image');
    expect((await writeLayout(dir, image)).unchanged).toBe(false);
    const indexBefore = statSync(join(dir, 'index.json'));
    const second = await writeLayout(dir, image);
    expect([second.unchanged, second.linked, second.copied]).toEqual([true, 0, 0]);
    const indexAfter = statSync(join(dir, 'index.json'));
    expect([indexAfter.ino, indexAfter.mtimeMs]).toEqual([indexBefore.ino, indexBefore.mtimeMs]);

    // A config blob (bytes given, not a store file) rewritten with other bytes of the same size.
    const config = images[0]!.config;
    const path = layoutBlobPath(dir, config.digest);
    chmodSync(path, 0o644);
    writeFileSync(path, Buffer.alloc(config.size, 0x20));
    const third = await writeLayout(dir, image);
    expect(third.unchanged).toBe(false);
    expect(readFileSync(layoutBlobPath(dir, config.digest)).equals(config.bytes)).toBe(true);
  });
});

describe('writeLayout, checked by skopeo and umoci', () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(root, 'out', 'image');
    const result = await writeLayout(dir, image);
    expect([result.linked, result.copied]).toEqual([3, 0]); // two app layers + the scratch layer both platforms share
  });

  test('index.json names both tags; blobs are hard links into the store', async () => {
    const contents = await readLayout(dir);
    expect([...contents.byTag.keys()]).toEqual(['latest', '1.0.0']);
    for (const d of contents.byTag.values()) expect(d).toEqual({ mediaType: OCI_INDEX, digest: top.digest, size: top.size, annotations: d.annotations });
    expect(contents.untagged).toEqual([]);
    expect(JSON.parse(readFileSync(join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const app = images[0]!.layers[1]!;
    expect(statSync(layoutBlobPath(dir, app.digest)).ino).toBe(statSync(app.path).ino);
    const back = await readLayoutJson<Index>(dir, top);
    expect(back.manifests.map((m) => m.platform)).toEqual([
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux' },
    ]);
    expect(readdirSync(join(dir, 'blobs', 'sha256')).sort()).toEqual([...new Set([top, ...blobsOf(images)].map((b) => b.digest.slice(7)))].sort());
  });

  test('skopeo inspect --raw gives our index bytes', () => {
    expect(inspect(['--raw', `oci:${dir}:latest`])).toBe(top.bytes.toString());
    expect(inspect(['--raw', `oci:${dir}:1.0.0`])).toBe(top.bytes.toString());
  });

  test('skopeo inspect resolves each platform to its manifest, config and layers', () => {
    for (const img of images) {
      const arch = img.platform.arch;
      const out = JSON.parse(run('skopeo', ['--override-os', 'linux', '--override-arch', arch, 'inspect', `oci:${dir}:latest`]).stdout);
      expect(out.Digest).toBe(top.digest); // skopeo reports the digest of what the tag names: the index
      expect(out.Architecture).toBe(arch);
      expect(out.Os).toBe('linux');
      expect(out.Layers).toEqual(img.layers.map((l) => l.digest));
      expect(out.Env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'APP_ENV=test']);
      expect(out.Labels).toEqual({ 'org.example.team': 'core' });
      expect(out.Created).toBe(CREATED);
      const rawConfig = run('skopeo', ['--override-os', 'linux', '--override-arch', arch, 'inspect', '--config', '--raw', `oci:${dir}:latest`]).stdout;
      expect(rawConfig).toBe(img.config.bytes.toString());
    }
    const config = JSON.parse(inspect(['--config', `oci:${dir}:1.0.0`]));
    expect(config.config).toMatchObject({ User: '65532:65532', Entrypoint: ['/app/busybox'], Cmd: ['echo', 'hi'], ExposedPorts: { '8080/tcp': {} } });
    expect(config.rootfs.diff_ids).toEqual(images[0]!.layers.map((l) => l.diffId));
  });

  test('umoci unpacks the amd64 image: exact bytes, modes, owners, /etc/passwd; the binary runs', async () => {
    // umoci 0.4.7 resolves a tag to every manifest under it and refuses the index ("tag is ambiguous"),
    // so the amd64 manifest gets a layout and tag of its own.
    const single = join(root, 'single');
    await writeLayout(single, { top: images[0]!.manifest, blobs: blobsOf([images[0]!]), tags: ['amd64'] });
    const bundle = join(root, 'bundle');
    run('umoci', ['unpack', '--image', `${single}:amd64`, bundle]);
    const rootfs = join(bundle, 'rootfs');
    expect(readFileSync(join(rootfs, 'app/busybox')).equals(readFileSync(BUSYBOX))).toBe(true);
    expect(statSync(join(rootfs, 'app/busybox')).mode & 0o7777).toBe(0o755);
    expect(statSync(join(rootfs, 'app')).mode & 0o7777).toBe(0o755);
    expect(readFileSync(join(rootfs, 'etc/passwd'), 'utf8')).toBe(PASSWD);
    expect(readFileSync(join(rootfs, 'etc/group'), 'utf8')).toBe(GROUP);
    expect(PASSWD).toContain('nonroot:x:65532:65532:nonroot:/home/nonroot:');
    const home = statSync(join(rootfs, 'home/nonroot'));
    expect([home.uid, home.gid, home.mode & 0o7777]).toEqual([65532, 65532, 0o700]);
    expect(statSync(join(rootfs, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(statSync(join(rootfs, 'etc/passwd')).mode & 0o7777).toBe(0o644);
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
    expect(spec.process.args).toEqual(['/app/busybox', 'echo', 'hi']);
    expect(spec.process.user).toMatchObject({ uid: 65532, gid: 65532 });
    expect(spec.process.env).toContain('APP_ENV=test');
    expect(run(join(rootfs, 'app/busybox'), ['echo', 'hi']).stdout).toBe('hi\n');
  });

  test('writing again replaces the layout atomically and leaves nothing beside it', async () => {
    const again = await writeLayout(dir, { ...image, tags: ['2.0.0'] });
    expect([...(await readLayout(dir)).byTag.keys()]).toEqual(['2.0.0']);
    expect(again.index.bytes.equals(readFileSync(join(dir, 'index.json')))).toBe(true);
    expect(leftovers(join(root, 'out'), 'image')).toEqual([]);
    await writeLayout(dir, image);
  });

  test('a failure while writing leaves the old layout intact and no temp dirs', async () => {
    const before = readFileSync(join(dir, 'index.json'));
    const blobsBefore = readdirSync(join(dir, 'blobs', 'sha256')).sort();
    const img = images[0]!;
    const app = img.layers[1]!;
    // A new image (its manifest and config are written first) whose app layer file has vanished:
    // the failure comes after some new blobs were placed.
    const config = serialize({ ...JSON.parse(img.config.bytes.toString()), author: 'someone else' }, OCI_CONFIG);
    const m = manifest({ config, layers: img.layers.map(layerDescriptor) });
    const mBlob = serialize(m, m.mediaType);
    const broken: LayoutImage = { top: mBlob, blobs: [config, img.layers[0]!, { ...app, path: join(root, 'gone') }], tags: ['broken'] };
    await expect(writeLayout(dir, broken)).rejects.toThrow(/cannot read .*gone/);
    expect(readFileSync(join(dir, 'index.json')).equals(before)).toBe(true);
    expect(readdirSync(join(dir, 'blobs', 'sha256')).sort()).toEqual(blobsBefore);
    expect(leftovers(join(root, 'out'), 'image')).toEqual([]);
    // A blob whose size does not match its descriptor.
    const wrongSize: LayoutImage = { ...image, blobs: image.blobs.map((b) => (b.digest === app.digest ? { ...app, path: BUSYBOX } : b)) };
    await expect(writeLayout(dir, wrongSize)).rejects.toThrow(/busybox has \d+ bytes, expected/);
    expect(readFileSync(join(dir, 'index.json')).equals(before)).toBe(true);
    expect(leftovers(join(root, 'out'), 'image')).toEqual([]);
    expect(inspect(['--raw', `oci:${dir}:latest`])).toBe(top.bytes.toString());
  });

  test('refuses incomplete images, bad tags and non-layout targets before writing anything', async () => {
    const app = images[1]!.layers[1]!;
    const missing: LayoutImage = { ...image, blobs: image.blobs.filter((b) => b.digest !== app.digest) };
    await expect(writeLayout(join(root, 'nope'), missing)).rejects.toThrow(
      new RegExp(`blob ${app.digest} \\(.*\\), needed by .*${images[1]!.manifest.digest}, was not given`),
    );
    await expect(writeLayout(join(root, 'nope'), { ...image, tags: ['bad tag'] })).rejects.toThrow(/tag "bad tag" is not valid/);
    await expect(writeLayout(join(root, 'nope'), [image, { ...image, tags: ['latest'] }])).rejects.toThrow(/tag "latest" is given to two images/);
    expect(existsSync(join(root, 'nope'))).toBe(false);
    const precious = join(root, 'precious');
    mkdirSync(precious);
    writeFileSync(join(precious, 'notes.txt'), 'mine');
    await expect(writeLayout(precious, image)).rejects.toThrow(/not an OCI layout .*not replacing it/);
    expect(readdirSync(precious)).toEqual(['notes.txt']);
  });
});

describe('writeOciArchive', () => {
  test('deterministic; skopeo copies it (all platforms) into a layout with our index bytes', async () => {
    const a = join(root, 'a.tar');
    const b = join(root, 'b.tar');
    await writeOciArchive(a, image, { mtime: MTIME });
    await writeOciArchive(b, image, { mtime: MTIME });
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    const names = tarListing(a).map((e) => e.name);
    expect(names.slice(0, 2)).toEqual(['blobs/', 'blobs/sha256/']);
    expect(names.slice(-2)).toEqual(['index.json', 'oci-layout']);

    const dir2 = join(root, 'copied');
    run('skopeo', ['copy', '--all', `oci-archive:${a}:latest`, `oci:${dir2}:x`]);
    expect(inspect(['--raw', `oci:${dir2}:x`])).toBe(top.bytes.toString());
    const one = join(root, 'copied-one');
    run('skopeo', ['--override-arch', 'amd64', 'copy', `oci-archive:${a}:1.0.0`, `oci:${one}:x`]);
    expect(inspect(['--raw', `oci:${one}:x`])).toBe(images[0]!.manifest.bytes.toString());
  });
});

describe('writeDockerArchive', () => {
  test('manifest.json + blobs + index.json; skopeo reads it as docker-archive (and oci-archive)', async () => {
    const img = images[0]!;
    const file = join(root, 'docker.tar');
    await writeDockerArchive(file, {
      manifest: img.manifest,
      config: img.config,
      layers: img.layers,
      repoTags: ['hello:1.0.0', 'localhost:5000/team/hello:latest'],
      mtime: MTIME,
    });
    const x = join(root, 'docker-x');
    mkdirSync(x);
    run('tar', ['-xf', file, '-C', x]);
    expect(JSON.parse(readFileSync(join(x, 'manifest.json'), 'utf8'))).toEqual([
      {
        Config: `blobs/sha256/${img.config.digest.slice(7)}`,
        RepoTags: ['hello:1.0.0', 'localhost:5000/team/hello:latest'],
        Layers: img.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
      },
    ]);
    const ix = JSON.parse(readFileSync(join(x, 'index.json'), 'utf8')) as Index;
    expect(ix.manifests.map((m) => m.annotations)).toEqual([
      { 'io.containerd.image.name': 'docker.io/library/hello:1.0.0', 'org.opencontainers.image.ref.name': '1.0.0' },
      { 'io.containerd.image.name': 'localhost:5000/team/hello:latest', 'org.opencontainers.image.ref.name': 'latest' },
    ]);

    const out = JSON.parse(inspect([`docker-archive:${file}`]));
    expect(out.Architecture).toBe('amd64');
    // skopeo decompresses each layer and names it by what it hashes to: our diff_ids.
    expect(out.Layers).toEqual(img.layers.map((l) => l.diffId));
    // docker-archive reports the config as it is (the image ID is its digest).
    expect(run('skopeo', ['inspect', '--config', '--raw', `docker-archive:${file}`]).stdout).toBe(img.config.bytes.toString());
    // Copying out of it reads (and decompresses) every layer.
    const dir3 = join(root, 'from-docker');
    run('skopeo', ['copy', `docker-archive:${file}:hello:1.0.0`, `oci:${dir3}:x`]);
    const m = JSON.parse(inspect(['--raw', `oci:${dir3}:x`])) as Manifest;
    expect(m.layers).toHaveLength(2);
    // The OCI side of the same archive, as docker 25's `docker save` also writes it.
    expect(inspect(['--raw', `oci-archive:${file}:1.0.0`])).toBe(img.manifest.bytes.toString());
  });

  test('refuses mismatched parts and untagged references', async () => {
    const [a, b] = images;
    const file = join(root, 'bad.tar');
    await expect(writeDockerArchive(file, { manifest: a!.manifest, config: b!.config, layers: a!.layers, repoTags: ['x:1'] })).rejects.toThrow(
      /manifest's config is/,
    );
    await expect(writeDockerArchive(file, { manifest: a!.manifest, config: a!.config, layers: [...a!.layers].reverse(), repoTags: ['x:1'] })).rejects.toThrow(
      /not the manifest's layers in order/,
    );
    await expect(writeDockerArchive(file, { manifest: top, config: a!.config, layers: a!.layers, repoTags: ['x:1'] })).rejects.toThrow(
      /one platform per archive/,
    );
    await expect(writeDockerArchive(file, { manifest: a!.manifest, config: a!.config, layers: a!.layers, repoTags: ['x'] })).rejects.toThrow(/needs a tag/);
    expect(existsSync(file)).toBe(false);
  });
});
