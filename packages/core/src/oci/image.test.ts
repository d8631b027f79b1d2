import { sha256, type Digest } from '../util/hash';
import { DEFAULT_PATH, EPOCH_ISO, imageAnnotations, imageConfig, index, isoTime, manifest, mergeEnv, normalizePort } from './image';
import * as mt from './media-types';
import { descriptor, serialize, type ImageConfig } from './types';

const D = (c: string): Digest => `sha256:${c.repeat(64)}`;
const linuxAmd64 = { os: 'linux', arch: 'amd64' };
const linuxArm7 = { os: 'linux', arch: 'arm', variant: 'v7' };

const base: ImageConfig = {
  created: '2024-01-01T00:00:00Z',
  architecture: 'amd64',
  os: 'linux',
  config: {
    User: '1000',
    Env: ['PATH=/opt/bin:/usr/bin', 'LANG=C.UTF-8', 'TZ=UTC'],
    Entrypoint: ['/docker-entrypoint.sh'],
    Cmd: ['nginx'],
    Labels: { 'z.base': '1', 'a.base': '2' },
    ExposedPorts: { '80/tcp': {} },
    Healthcheck: { Test: ['CMD', 'true'] },
  },
  rootfs: { type: 'layers', diff_ids: [D('a')] },
  history: [{ created: '2024-01-01T00:00:00Z', created_by: 'base layer' }],
};

describe('imageConfig', () => {
  test('a scratch-like config has a fixed key order and shape', () => {
    const cfg = imageConfig({ platform: linuxArm7, layers: [D('b')], entrypoint: ['/app/server'], ports: [8080] });
    expect(serialize(cfg, mt.OCI_CONFIG).bytes.toString()).toBe(
      '{"created":"1970-01-01T00:00:00Z","architecture":"arm","os":"linux","variant":"v7",' +
        `"config":{"Env":["PATH=${DEFAULT_PATH}"],"Entrypoint":["/app/server"],"ExposedPorts":{"8080/tcp":{}}},` +
        `"rootfs":{"type":"layers","diff_ids":["${D('b')}"]},` +
        '"history":[{"created":"1970-01-01T00:00:00Z","created_by":"nx-fnbuild"}]}',
    );
  });

  test('stacks on a base: env merged by name, labels and ports merged and sorted, history and unknown settings kept', () => {
    const cfg = imageConfig({
      base,
      platform: linuxAmd64,
      layers: [D('b'), D('c')],
      entrypoint: ['/app/server'],
      env: { TZ: 'Europe/Paris', ZED: '1', APP_MODE: 'prod' },
      labels: { 'm.new': 'x', 'z.base': 'override' },
      ports: ['8080', '9090/udp'],
      created: '2025-02-03T04:05:06Z',
      history: [{ created_by: 'binary' }, { created_by: 'config', comment: 'c' }],
    });
    expect(cfg.config.Env).toEqual(['PATH=/opt/bin:/usr/bin', 'LANG=C.UTF-8', 'TZ=Europe/Paris', 'APP_MODE=prod', 'ZED=1']);
    expect(cfg.config.User).toBe('1000');
    expect(cfg.config.Entrypoint).toEqual(['/app/server']);
    expect(cfg.config.Cmd).toBeUndefined(); // a new entrypoint resets the base's Cmd, as in a Dockerfile
    expect(Object.keys(cfg.config.Labels!)).toEqual(['a.base', 'm.new', 'z.base']);
    expect(cfg.config.Labels!['z.base']).toBe('override');
    expect(cfg.config.ExposedPorts).toEqual({ '80/tcp': {}, '8080/tcp': {}, '9090/udp': {} });
    expect(Object.keys(cfg.config.ExposedPorts!)).toEqual(['80/tcp', '8080/tcp', '9090/udp']);
    expect(cfg.config.Healthcheck).toEqual({ Test: ['CMD', 'true'] });
    expect(cfg.rootfs.diff_ids).toEqual([D('a'), D('b'), D('c')]);
    expect(cfg.history).toEqual([
      { created: '2024-01-01T00:00:00Z', created_by: 'base layer' },
      { created: '2025-02-03T04:05:06Z', created_by: 'binary' },
      { created: '2025-02-03T04:05:06Z', created_by: 'config', comment: 'c' },
    ]);
    expect(cfg.created).toBe('2025-02-03T04:05:06Z');
    // The base object is not modified.
    expect(base.config.Env).toEqual(['PATH=/opt/bin:/usr/bin', 'LANG=C.UTF-8', 'TZ=UTC']);
  });

  test('keeps the base entrypoint and Cmd unless replaced; user and working dir override', () => {
    const cfg = imageConfig({ base, platform: linuxAmd64, layers: [], user: '65532', workingDir: '/srv' });
    expect(cfg.config.Entrypoint).toEqual(['/docker-entrypoint.sh']);
    expect(cfg.config.Cmd).toEqual(['nginx']);
    expect(cfg.config.User).toBe('65532');
    expect(cfg.config.WorkingDir).toBe('/srv');
    expect(imageConfig({ base, platform: linuxAmd64, layers: [], cmd: ['-v'] }).config.Cmd).toEqual(['-v']);
  });

  test('the same options in another key order give the same bytes', () => {
    const a = imageConfig({ platform: linuxAmd64, layers: [D('b')], env: { B: '2', A: '1' }, labels: { y: '1', x: '2' }, ports: ['9000', '8000'] });
    const b = imageConfig({ ports: ['8000/tcp', '9000'], labels: { x: '2', y: '1' }, env: { A: '1', B: '2' }, layers: [D('b')], platform: linuxAmd64 });
    expect(serialize(a, mt.OCI_CONFIG).digest).toBe(serialize(b, mt.OCI_CONFIG).digest);
  });

  test('refuses a base of another platform and history that does not match the layers', () => {
    expect(() => imageConfig({ base, platform: { os: 'linux', arch: 'arm64' }, layers: [] })).toThrow(/base is linux\/amd64 but the image is linux\/arm64/);
    expect(() => imageConfig({ platform: linuxAmd64, layers: [D('b')], history: [] })).toThrow(/0 history entries for 1 added layers/);
  });
});

describe('mergeEnv', () => {
  test('PATH defaults when the base has none; an explicit PATH wins; new names are appended sorted', () => {
    expect(mergeEnv(undefined)).toEqual([`PATH=${DEFAULT_PATH}`]);
    expect(mergeEnv(['A=1'], { C: '3', B: '2' })).toEqual([`PATH=${DEFAULT_PATH}`, 'A=1', 'B=2', 'C=3']);
    expect(mergeEnv(['A=1', 'PATH=/x'], { PATH: '/y:/x' })).toEqual(['A=1', 'PATH=/y:/x']);
    expect(mergeEnv([], { PATH: '/only' })).toEqual(['PATH=/only']);
    expect(mergeEnv(['A=1', 'A=2'], {})).toEqual([`PATH=${DEFAULT_PATH}`, 'A=1']);
    expect(mergeEnv(['EMPTY='], { V: 'a=b' })).toEqual([`PATH=${DEFAULT_PATH}`, 'EMPTY=', 'V=a=b']);
    expect(() => mergeEnv([], { 'A=B': 'x' })).toThrow(/env name "A=B" is not valid/);
  });
});

describe('normalizePort', () => {
  test('defaults to tcp and validates', () => {
    expect(normalizePort('8080')).toBe('8080/tcp');
    expect(normalizePort(8080)).toBe('8080/tcp');
    expect(normalizePort('53/UDP')).toBe('53/udp');
    expect(normalizePort('0080/tcp')).toBe('80/tcp');
    for (const bad of ['0', '70000', 'http', '80/icmp', '']) expect(() => normalizePort(bad)).toThrow(/is not valid; write it as 8080/);
  });
});

describe('manifest and index', () => {
  const config = serialize(imageConfig({ platform: linuxAmd64, layers: [D('b')] }), mt.OCI_CONFIG);
  const layer = { mediaType: mt.OCI_LAYER_GZIP, digest: D('c'), size: 123 };

  test('round-trip: parse(serialize(x)) equals x and serialize(parse(bytes)) gives the same bytes', () => {
    const m = manifest({ config, layers: [layer], annotations: imageAnnotations({ revision: 'abc', source: 'https://x' }) });
    const mBlob = serialize(m, m.mediaType);
    expect(JSON.parse(mBlob.bytes.toString())).toEqual(m);
    expect(serialize(JSON.parse(mBlob.bytes.toString()), m.mediaType).bytes.equals(mBlob.bytes)).toBe(true);
    expect(mBlob.digest).toBe(sha256(mBlob.bytes));
    expect(mBlob.size).toBe(mBlob.bytes.length);
    expect(mBlob.bytes.toString()).toBe(
      `{"schemaVersion":2,"mediaType":"${mt.OCI_MANIFEST}","config":{"mediaType":"${mt.OCI_CONFIG}","digest":"${config.digest}","size":${config.size}},` +
        `"layers":[{"mediaType":"${mt.OCI_LAYER_GZIP}","digest":"${D('c')}","size":123}],` +
        '"annotations":{"org.opencontainers.image.revision":"abc","org.opencontainers.image.source":"https://x"}}',
    );

    const cParsed = JSON.parse(config.bytes.toString());
    expect(serialize(cParsed, mt.OCI_CONFIG).bytes.equals(config.bytes)).toBe(true);

    const ix = index({
      manifests: [
        descriptor(mBlob, { platform: { architecture: 'amd64', os: 'linux' } }),
        descriptor({ ...mBlob, digest: D('d') }, { platform: { variant: 'v7', os: 'linux', architecture: 'arm' } }),
      ],
    });
    const ixBlob = serialize(ix, ix.mediaType);
    expect(JSON.parse(ixBlob.bytes.toString())).toEqual(ix);
    expect(serialize(JSON.parse(ixBlob.bytes.toString()), ix.mediaType).bytes.equals(ixBlob.bytes)).toBe(true);
    expect(ixBlob.bytes.toString()).toContain('"platform":{"architecture":"arm","os":"linux","variant":"v7"}');
  });

  test('an index needs a platform per manifest, once each', () => {
    const d = descriptor({ mediaType: mt.OCI_MANIFEST, digest: D('e'), size: 1 });
    expect(() => index({ manifests: [d] })).toThrow(/has no platform/);
    const p = { architecture: 'amd64', os: 'linux' };
    expect(() =>
      index({
        manifests: [
          { ...d, platform: p },
          { ...d, digest: D('f'), platform: p },
        ],
      }),
    ).toThrow(/two manifests for platform/);
  });

  test('media types follow a Docker-typed base throughout', () => {
    const baseType = mt.DOCKER_MANIFEST;
    const cfg = serialize(imageConfig({ platform: linuxAmd64, layers: [] }), mt.configTypeFor(baseType));
    const m = manifest({
      config: cfg,
      layers: [{ mediaType: mt.layerTypeFor(baseType), digest: D('c'), size: 1 }],
      mediaType: mt.manifestTypeFor(baseType),
    });
    expect(m.mediaType).toBe(mt.DOCKER_MANIFEST);
    expect(m.config.mediaType).toBe(mt.DOCKER_CONFIG);
    expect(m.layers[0]!.mediaType).toBe(mt.DOCKER_LAYER_GZIP);
    expect(mt.indexTypeFor(baseType)).toBe(mt.DOCKER_MANIFEST_LIST);
    expect(mt.indexTypeFor(mt.DOCKER_MANIFEST_LIST)).toBe(mt.DOCKER_MANIFEST_LIST);
    expect(mt.layerTypeFor(baseType, false)).toBe(mt.DOCKER_LAYER);
    // No base, or an OCI base: OCI.
    for (const b of [undefined, mt.OCI_MANIFEST, mt.OCI_INDEX]) {
      expect([mt.layerTypeFor(b), mt.configTypeFor(b), mt.manifestTypeFor(b), mt.indexTypeFor(b)]).toEqual([
        mt.OCI_LAYER_GZIP,
        mt.OCI_CONFIG,
        mt.OCI_MANIFEST,
        mt.OCI_INDEX,
      ]);
    }
    expect(mt.isIndex(mt.DOCKER_MANIFEST_LIST) && mt.isIndex(mt.OCI_INDEX) && !mt.isIndex(mt.OCI_MANIFEST)).toBe(true);
    expect(mt.isManifest(mt.DOCKER_MANIFEST) && mt.isManifest(mt.OCI_MANIFEST) && !mt.isManifest(mt.OCI_INDEX)).toBe(true);
    expect(() => manifest({ config: cfg, layers: [], mediaType: mt.OCI_INDEX })).toThrow(/not an image manifest type/);
  });
});

describe('imageAnnotations and times', () => {
  test('omits empty values, fixed order', () => {
    const a = imageAnnotations({ version: '1.0.0', source: '', revision: 'abc', created: EPOCH_ISO, baseName: 'scratch', baseDigest: undefined });
    expect(Object.entries(a)).toEqual([
      ['org.opencontainers.image.base.name', 'scratch'],
      ['org.opencontainers.image.created', '1970-01-01T00:00:00Z'],
      ['org.opencontainers.image.revision', 'abc'],
      ['org.opencontainers.image.version', '1.0.0'],
    ]);
    expect(imageAnnotations({})).toEqual({});
  });

  test('isoTime', () => {
    expect(isoTime(0)).toBe(EPOCH_ISO);
    expect(isoTime(1_700_000_000)).toBe('2023-11-14T22:13:20Z');
    expect(() => isoTime(1.5)).toThrow(/whole seconds/);
  });
});
