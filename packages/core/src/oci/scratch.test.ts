import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../cache/store';
import { run, tarListing, tempDir } from './__fixtures__/tools';
import { DEFAULT_PATH, imageConfig } from './image';
import { OCI_LAYER_GZIP } from './media-types';
import { GROUP, PASSWD, scratchBase } from './scratch';

jest.setTimeout(30_000);

let root: string;
let store: Store;
beforeEach(async () => {
  root = tempDir('scratch');
  store = await Store.open(join(root, 'store'));
});
afterEach(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

describe('scratchBase', () => {
  test('one deterministic layer with passwd, group and the nonroot home; the same for every platform', async () => {
    const amd64 = await scratchBase({ store, platform: { os: 'linux', arch: 'amd64' } });
    const arm = await scratchBase({ store, platform: { os: 'linux', arch: 'arm', variant: 'v7' } });
    expect(arm.layer).toEqual(amd64.layer);
    expect(amd64.layer.mediaType).toBe(OCI_LAYER_GZIP);
    expect(arm.config).toMatchObject({ architecture: 'arm', os: 'linux', variant: 'v7' });
    expect(amd64.config.rootfs.diff_ids).toEqual([amd64.layer.diffId]);
    expect(amd64.config.config).toEqual({ User: '65532:65532', Env: [`PATH=${DEFAULT_PATH}`] });
    expect(amd64.config.history).toHaveLength(1);

    const later = await scratchBase({ store, platform: { os: 'linux', arch: 'amd64' }, mtime: 1_700_000_000 });
    expect(later.layer.diffId).not.toBe(amd64.layer.diffId); // the mtime is part of the bytes
    expect(later.config.created).toBe('2023-11-14T22:13:20Z');

    const listing = tarListing(amd64.layer.path, ['-z']).map((e) => `${e.mode} ${e.owner} ${e.name}`);
    expect(listing).toEqual([
      'drwxr-xr-x 0/0 etc/',
      '-rw-r--r-- 0/0 etc/group',
      '-rw-r--r-- 0/0 etc/passwd',
      'drwxr-xr-x 0/0 home/',
      'drwx------ 65532/65532 home/nonroot/',
      'drwx------ 0/0 root/',
      'drwxrwxrwt 0/0 tmp/',
    ]);
    const x = join(root, 'x');
    mkdirSync(x);
    run('tar', ['-xzf', amd64.layer.path, '-C', x, 'etc']);
    expect(readFileSync(join(x, 'etc/passwd'), 'utf8')).toBe(PASSWD);
    expect(readFileSync(join(x, 'etc/group'), 'utf8')).toBe(GROUP);
    expect(statSync(join(x, 'etc/passwd')).mode & 0o777).toBe(0o644);
  });

  test('images on it keep its user and PATH unless told otherwise', async () => {
    const base = await scratchBase({ store, platform: { os: 'linux', arch: 'amd64' } });
    const cfg = imageConfig({ base: base.config, platform: { os: 'linux', arch: 'amd64' }, layers: [], entrypoint: ['/app'] });
    expect(cfg.config.User).toBe('65532:65532');
    expect(cfg.config.Env).toEqual([`PATH=${DEFAULT_PATH}`]);
    expect(imageConfig({ base: base.config, platform: { os: 'linux', arch: 'amd64' }, layers: [], user: '0' }).config.User).toBe('0');
  });

  test('is for linux only', async () => {
    await expect(scratchBase({ store, platform: { os: 'windows', arch: 'amd64' } })).rejects.toThrow(
      /scratch base is for linux images; windows images need a base image/,
    );
  });
});
