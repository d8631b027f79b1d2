import { bareMediaType, MANIFEST_ACCEPT, manifestMediaType } from './manifest';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const json = (doc: unknown) => Buffer.from(JSON.stringify(doc));

describe('manifestMediaType', () => {
  it('asks for indexes first, then manifests, OCI before Docker', () => {
    expect(MANIFEST_ACCEPT).toEqual([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST]);
  });

  it('takes a manifest Content-Type over the document, ignoring parameters and case', () => {
    expect(bareMediaType(' Application/VND.OCI.image.index.v1+json ; charset=utf-8')).toBe(OCI_INDEX);
    expect(bareMediaType(undefined)).toBeUndefined();
    expect(manifestMediaType(json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: {} }), `${DOCKER_MANIFEST}; charset=utf-8`, 'm')).toBe(DOCKER_MANIFEST);
  });

  it('falls back to the declared type, then to the shape, when the Content-Type is not a manifest type', () => {
    expect(manifestMediaType(json({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [] }), 'application/json', 'm')).toBe(DOCKER_LIST);
    expect(manifestMediaType(json({ schemaVersion: 2, manifests: [] }), 'application/json', 'm')).toBe(OCI_INDEX);
    expect(manifestMediaType(json({ schemaVersion: 2, config: {}, layers: [] }), undefined, 'm')).toBe(OCI_MANIFEST);
  });

  it('refuses Docker schema 1, by schemaVersion or by type', () => {
    expect(() => manifestMediaType(json({ schemaVersion: 1, fsLayers: [] }), 'application/json', 'pulling x')).toThrow(
      'pulling x: Docker schema 1 manifests are not supported',
    );
    expect(() => manifestMediaType(json({}), 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'm')).toThrow(/Docker schema 1/);
    expect(() => manifestMediaType(json({ mediaType: 'application/vnd.docker.distribution.manifest.v1+json' }), undefined, 'm')).toThrow(/Docker schema 1/);
  });

  it('refuses other types and bodies that are not JSON', () => {
    expect(() => manifestMediaType(json({ schemaVersion: 2 }), 'text/html', 'm')).toThrow('m: unsupported manifest media type "text/html"');
    expect(() => manifestMediaType(json({ schemaVersion: 2 }), undefined, 'm')).toThrow('m: unsupported manifest media type "none"');
    expect(() => manifestMediaType(Buffer.from('<html>'), OCI_MANIFEST, 'm')).toThrow('m: the manifest is not valid JSON');
  });
});
