import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './__fixtures__/tools';
import { imageConfig, manifest } from './image';
import { writeLayout } from './layout';
import { OCI_CONFIG, OCI_MANIFEST } from './media-types';
import { layoutBlobPath, readLayout, readLayoutBlob, readLayoutJson } from './read-layout';
import { serialize, type Manifest } from './types';

let root: string;
let dir: string;
const config = serialize(imageConfig({ platform: { os: 'linux', arch: 'amd64' }, layers: [] }), OCI_CONFIG);
const m = serialize(manifest({ config, layers: [] }), OCI_MANIFEST);

beforeEach(async () => {
  root = tempDir('read');
  dir = join(root, 'layout');
  await writeLayout(dir, [
    { top: m, blobs: [config], tags: ['v1', 'latest'] },
    { top: serialize(manifest({ config, layers: [], annotations: { a: 'b' } }), m.mediaType), blobs: [config], tags: [] },
  ]);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('readLayout', () => {
  test('descriptors by tag, untagged ones apart; blobs verified', async () => {
    const l = await readLayout(dir);
    expect([...l.byTag.keys()]).toEqual(['v1', 'latest']);
    expect(l.byTag.get('v1')!.digest).toBe(m.digest);
    expect(l.untagged).toHaveLength(1);
    expect(l.untagged[0]!.annotations).toBeUndefined();
    expect((await readLayoutJson<Manifest>(dir, l.byTag.get('latest')!)).config.digest).toBe(config.digest);
  });

  test('a corrupt blob, a missing blob or a wrong layout version is an error, never wrong data', async () => {
    const path = layoutBlobPath(dir, config.digest);
    chmodSync(path, 0o644);
    writeFileSync(path, config.bytes.toString().replace('amd64', 'arm64'));
    await expect(readLayoutBlob(dir, config)).rejects.toThrow(/does not match its descriptor .* the layout is corrupt/);
    rmSync(path);
    await expect(readLayoutBlob(dir, config)).rejects.toThrow(/is missing from/);
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
    await expect(readLayout(dir)).rejects.toThrow(/imageLayoutVersion "2.0.0", expected "1.0.0"/);
    rmSync(join(dir, 'oci-layout'));
    await expect(readLayout(dir)).rejects.toThrow(/is not an OCI image layout: it has no oci-layout/);
  });
});
