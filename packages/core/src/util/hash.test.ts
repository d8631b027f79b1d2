import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashFile, hexOf, keyOf, sha256, Sha256Hasher, sha256File, sha256Hex, stableJson } from './hash';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

describe('stableJson', () => {
  test('sorts object keys at every level, including objects inside arrays', () => {
    const value = { b: 2, a: { y: [{ c: 2, b: 1 }], x: 1 } };
    expect(stableJson(value)).toBe('{"a":{"x":1,"y":[{"b":1,"c":2}]},"b":2}');
  });

  test('keeps array order (order in a list is meaningful)', () => {
    expect(stableJson(['b', 'a', { z: 1, y: 2 }])).toBe('["b","a",{"y":2,"z":1}]');
    expect(stableJson(['a', 'b'])).not.toBe(stableJson(['b', 'a']));
  });

  test('property insertion order never changes the text', () => {
    const a: Record<string, unknown> = {};
    a.GOOS = 'linux';
    a.GOARCH = 'arm64';
    a.nested = { k2: 'v', k1: [1, 2] };
    const b: Record<string, unknown> = { nested: { k1: [1, 2], k2: 'v' }, GOARCH: 'arm64', GOOS: 'linux' };
    expect(stableJson(a)).toBe(stableJson(b));
    expect(stableJson(a)).toBe('{"GOARCH":"arm64","GOOS":"linux","nested":{"k1":[1,2],"k2":"v"}}');
  });

  test('sorts by code unit (uppercase before lowercase), like a byte-wise sort', () => {
    expect(stableJson({ b: 1, B: 2, a: 3, _: 4 })).toBe('{"B":2,"_":4,"a":3,"b":1}');
  });

  test('scalars and null pass through; undefined properties are dropped as JSON does', () => {
    expect(stableJson(null)).toBe('null');
    expect(stableJson('x')).toBe('"x"');
    expect(stableJson(3)).toBe('3');
    expect(stableJson({ a: undefined, b: null })).toBe('{"b":null}');
  });
});

describe('keyOf', () => {
  test('is the sha256 hex of the stable JSON', () => {
    expect(keyOf({})).toBe('44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'); // sha256("{}")
    expect(keyOf({ b: 2, a: { y: [{ c: 2, b: 1 }], x: 1 } })).toBe('f159f7965f35347fb94946f1c1e6b0f254df7c899d2c1d54ebeb205e71619509');
  });

  test('same value in any key order → same key; any changed leaf → different key', () => {
    const base = { kind: 'compile', v: 1, files: [['a.go', 'sha256:1']], env: { GOOS: 'linux', GOARCH: 'amd64' } };
    const reordered = { env: { GOARCH: 'amd64', GOOS: 'linux' }, files: [['a.go', 'sha256:1']], v: 1, kind: 'compile' };
    expect(keyOf(reordered)).toBe(keyOf(base));
    expect(keyOf({ ...base, v: 2 })).not.toBe(keyOf(base));
    expect(keyOf({ ...base, files: [['a.go', 'sha256:2']] })).not.toBe(keyOf(base));
    expect(keyOf({ ...base, env: { ...base.env, GOARCH: 'arm64' } })).not.toBe(keyOf(base));
    expect(keyOf(base)).toMatch(/^[0-9a-f]{64}$/);
  });

  test('a string and a number with the same digits are different keys', () => {
    expect(keyOf({ a: '1' })).not.toBe(keyOf({ a: 1 }));
  });
});

describe('sha256 helpers', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fnb-hash-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('sha256Hex / sha256 of known input', () => {
    expect(sha256Hex('')).toBe(EMPTY_SHA256);
    expect(sha256('')).toBe(`sha256:${EMPTY_SHA256}`);
  });

  test('sha256File streams a multi-chunk file to the same digest and size as hashing it whole', async () => {
    const data = randomBytes(3 * (1 << 20) + 123);
    const path = join(dir, 'big.bin');
    writeFileSync(path, data);
    const r = await sha256File(path);
    expect(r).toEqual({ digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: data.length });
  });

  test('sha256File of an empty file', async () => {
    const path = join(dir, 'empty');
    writeFileSync(path, '');
    expect(await sha256File(path)).toEqual({ digest: `sha256:${EMPTY_SHA256}`, size: 0 });
  });

  test('Sha256Hasher fed in pieces gives the digest and size of the whole', () => {
    const data = randomBytes(10_000);
    const h = new Sha256Hasher();
    for (let i = 0; i < data.length; i += 777) h.update(data.subarray(i, i + 777));
    expect(h.size).toBe(data.length);
    expect(h.digest()).toBe(sha256(data));
  });

  test('hashFile goes on from a hasher: what is on disk, then what arrives next (a resumed download)', async () => {
    const data = randomBytes(2 * (1 << 20) + 5);
    const cut = (1 << 20) + 17;
    const path = join(dir, 'partial.bin');
    writeFileSync(path, data.subarray(0, cut));
    const h = await hashFile(path);
    expect(h.size).toBe(cut);
    h.update(data.subarray(cut));
    expect(h.size).toBe(data.length);
    expect(h.digest()).toBe(sha256(data));
  });

  test('hashFile of a missing file fails with ENOENT (the caller decides what that means)', async () => {
    await expect(hashFile(join(dir, 'absent'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('hexOf accepts a digest or bare hex and rejects anything else', () => {
    expect(hexOf(`sha256:${EMPTY_SHA256}`)).toBe(EMPTY_SHA256);
    expect(hexOf(EMPTY_SHA256)).toBe(EMPTY_SHA256);
    expect(() => hexOf('sha256:abc')).toThrow('not a sha256 digest: sha256:abc');
    expect(() => hexOf(`sha256:${EMPTY_SHA256.toUpperCase()}`)).toThrow(/not a sha256 digest/);
    expect(() => hexOf(`../../etc/passwd${'0'.repeat(48)}`)).toThrow(/not a sha256 digest/);
  });
});
