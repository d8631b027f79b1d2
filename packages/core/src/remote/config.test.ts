import { buildBinariesOptionsSchema, parseOptions } from '../binaries/options';
import { FnbuildError } from '../util/errors';
import { remoteCacheFrom, remoteCacheModeFrom } from './config';
import { HttpRemoteCache } from './http';
import { OciRemoteCache } from './oci';

function failure(fn: () => unknown): FnbuildError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FnbuildError);
    return err as FnbuildError;
  }
  throw new Error('expected an error');
}

describe('remoteCacheFrom', () => {
  test('none set: no remote', () => {
    expect(remoteCacheFrom({ env: {} })).toBeUndefined();
    expect(remoteCacheFrom({ option: ' ', env: { NX_FNBUILD_REMOTE_CACHE: '' } })).toBeUndefined();
  });

  test('the option wins over NX_FNBUILD_REMOTE_CACHE; each scheme gets its remote', () => {
    const env = { NX_FNBUILD_REMOTE_CACHE: 'oci://registry.example.com/team/cache' };
    const fromEnv = remoteCacheFrom({ env })!;
    expect(fromEnv).toBeInstanceOf(OciRemoteCache);
    expect(fromEnv.name).toBe('oci://registry.example.com/team/cache');
    const fromOption = remoteCacheFrom({ option: 'https://cache.example.com/bazel', env })!;
    expect(fromOption).toBeInstanceOf(HttpRemoteCache);
    expect(fromOption.name).toBe('https://cache.example.com/bazel/');
  });

  test('a bad value names where it came from and what is valid', () => {
    const e1 = failure(() => remoteCacheFrom({ option: 's3://bucket/x', env: {} }));
    expect(e1.message).toMatch(/^option "remoteCache" \(got "s3:\/\/bucket\/x"\): unknown scheme "s3:\/\/"/);
    expect(e1.message).toMatch(/Valid: "oci:\/\/<registry>\/<repository>".*"http\(s\):\/\/<host>\[:port\]\/<prefix>"/);
    expect(failure(() => remoteCacheFrom({ env: { NX_FNBUILD_REMOTE_CACHE: 'cache.example.com' } })).message).toMatch(
      /^NX_FNBUILD_REMOTE_CACHE \(got "cache.example.com"\): not a URL/,
    );
    expect(failure(() => remoteCacheFrom({ option: 'oci://registry.example.com', env: {} })).message).toMatch(/oci:\/\/<registry>\/<repository>/);
    expect(failure(() => remoteCacheFrom({ option: 'oci://registry.example.com/Team', env: {} })).message).toMatch(/option "remoteCache"/);
    expect(failure(() => remoteCacheFrom({ option: 'https://cache.example.com/x?token=1', env: {} })).message).toMatch(/no query/);
  });

  test('credentials in a bad value are never repeated', () => {
    const oci = failure(() => remoteCacheFrom({ option: 'oci://ci:hunter22@registry.example.com/cache', env: {} }));
    expect(oci.message).toMatch(/takes no credentials.*docker login/);
    expect(oci.message).not.toContain('hunter22');
    const http = failure(() => remoteCacheFrom({ option: 'https://ci:hunter22@cache.example.com/x?y', env: {} }));
    expect(http.message).not.toContain('hunter22');
    expect(remoteCacheFrom({ option: 'https://ci:hunter22@cache.example.com/x', env: {} })!.name).toBe('https://***@cache.example.com/x/');
  });

  test('a malformed NX_FNBUILD_REMOTE_CACHE_HEADER is named, its value not echoed', () => {
    const e = failure(() => remoteCacheFrom({ option: 'http://127.0.0.1:1/c', env: { NX_FNBUILD_REMOTE_CACHE_HEADER: 'Bearer sekrit-token' } }));
    expect(e.message).toMatch(/NX_FNBUILD_REMOTE_CACHE_HEADER is not a header\n.*"Name: value"/);
    expect(e.message).not.toContain('sekrit');
  });
});

test('NX_FNBUILD_REMOTE_CACHE_MODE: read-write by default, read, anything else a clear error', () => {
  expect(remoteCacheModeFrom({})).toBe('read-write');
  expect(remoteCacheModeFrom({ NX_FNBUILD_REMOTE_CACHE_MODE: 'read' })).toBe('read');
  expect(remoteCacheModeFrom({ NX_FNBUILD_REMOTE_CACHE_MODE: 'read-write' })).toBe('read-write');
  expect(failure(() => remoteCacheModeFrom({ NX_FNBUILD_REMOTE_CACHE_MODE: 'readonly' })).message).toMatch(
    /NX_FNBUILD_REMOTE_CACHE_MODE \(got "readonly"\).*\n.*"read-write".*"read"/,
  );
});

test('the remoteCache option of the executors: a bad URL is an option error naming what is valid', () => {
  expect(parseOptions(buildBinariesOptionsSchema, { remoteCache: 'oci://r.example.com/cache' }, 'build-binaries').remoteCache).toBe(
    'oci://r.example.com/cache',
  );
  expect(() => parseOptions(buildBinariesOptionsSchema, { remoteCache: 'r.example.com/cache' }, 'build-binaries')).toThrow(
    /option "remoteCache" \(got "r.example.com\/cache"\): a remote cache is "oci:\/\/<registry>\/<repository>" or "http\(s\):\/\/<host>\[:port\]\/<prefix>"/,
  );
});
