import { goCacheEnv, quoteForGo } from './env';

const program = ['/usr/bin/node', '/opt/nx fnbuild/dist/gocache/main.js'];
const remote = { url: 'https://user:token@cache.example/go' };
const base = { goVersion: [1, 26, 8] as const, cacheDir: '/ws/.fnbuild/cache', userEnv: {}, program };

describe('goCacheEnv', () => {
  test('with a remote: GOCACHEPROG (quoted as cmd/go splits it) and the settings the program reads, secrets in the environment only', () => {
    const { env, note } = goCacheEnv({ ...base, remote });
    expect(env).toEqual({
      GOCACHEPROG: `/usr/bin/node "/opt/nx fnbuild/dist/gocache/main.js"`,
      NX_FNBUILD_CACHE_DIR: '/ws/.fnbuild/cache',
      NX_FNBUILD_REMOTE_CACHE: remote.url,
      NX_FNBUILD_REMOTE_CACHE_MODE: 'read-write',
    });
    expect(env.GOCACHEPROG).not.toContain('token');
    expect(note).toBeUndefined();
  });

  test('without a remote: nothing (GOCACHE is as good locally and costs no extra process)', () => {
    expect(goCacheEnv(base)).toEqual({ env: {} });
  });

  test("a user's GOCACHEPROG, from the environment or `go env -w`, wins and is left untouched", () => {
    const fromEnv = goCacheEnv({ ...base, remote, userEnv: { GOCACHEPROG: '/usr/local/bin/go-cache-plugin --token=s3cret' } });
    expect(fromEnv.env).toEqual({});
    expect(fromEnv.note).toMatch(/GOCACHEPROG is set \(\/usr\/local\/bin\/go-cache-plugin\)/);
    expect(fromEnv.note).not.toContain('s3cret');
    expect(goCacheEnv({ ...base, remote, goEnv: { GOCACHEPROG: 'gobuildcache' } }).env).toEqual({});
  });

  test('our own GOCACHEPROG seen again (go env read after it was set) is not mistaken for the user’s', () => {
    const ours = goCacheEnv({ ...base, remote }).env.GOCACHEPROG;
    expect(goCacheEnv({ ...base, remote, goEnv: { GOCACHEPROG: ours } }).env.GOCACHEPROG).toBe(ours);
  });

  test('Go before 1.24: nothing, and a note saying why', () => {
    const r = goCacheEnv({ ...base, goVersion: [1, 23, 4], remote });
    expect(r.env).toEqual({});
    expect(r.note).toMatch(/Go 1\.23 has no GOCACHEPROG \(Go 1\.24\+\)/);
  });

  test('read-only mode and insecure registries pass through', () => {
    const { env } = goCacheEnv({
      ...base,
      remote: { url: 'oci://reg:5000/cache', mode: 'read', insecureRegistries: ['reg:5000'] },
      userEnv: { NX_FNBUILD_INSECURE_REGISTRIES: 'other:5000' },
    });
    expect(env.NX_FNBUILD_REMOTE_CACHE_MODE).toBe('read');
    expect(env.NX_FNBUILD_INSECURE_REGISTRIES).toBe('other:5000,reg:5000');
  });
});

describe('quoteForGo (the inverse of cmd/internal/quoted.Split)', () => {
  test('plain fields stay bare; a field with a space or a quote is wrapped in the other quote', () => {
    expect(quoteForGo(['node', '/a/b.js', 'gocacheprog'])).toBe('node /a/b.js gocacheprog');
    expect(quoteForGo(['/my dir/node', "it's", ''])).toBe(`"/my dir/node" "it's" ""`);
    expect(quoteForGo(['say "hi"'])).toBe(`'say "hi"'`);
  });

  test('a field holding both quotes cannot be passed: a clear error', () => {
    expect(() => quoteForGo([`a'b"c`])).toThrow(/holds both kinds of quote/);
  });
});
