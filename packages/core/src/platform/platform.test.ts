import {
  checkSupported,
  executableSuffix,
  formatPlatform,
  goEnvFor,
  parsePlatform,
  parsePlatforms,
  type Platform,
  PlatformError,
  platformFolder,
  platformFromGoEnv,
  samePlatform,
} from './platform';

/** `go tool dist list` from Go 1.26 (linux/amd64 host), verbatim. */
const DIST_LIST = [
  'aix/ppc64',
  'android/386',
  'android/amd64',
  'android/arm',
  'android/arm64',
  'darwin/amd64',
  'darwin/arm64',
  'dragonfly/amd64',
  'freebsd/386',
  'freebsd/amd64',
  'freebsd/arm',
  'freebsd/arm64',
  'illumos/amd64',
  'ios/amd64',
  'ios/arm64',
  'js/wasm',
  'linux/386',
  'linux/amd64',
  'linux/arm',
  'linux/arm64',
  'linux/loong64',
  'linux/mips',
  'linux/mips64',
  'linux/mips64le',
  'linux/mipsle',
  'linux/ppc64',
  'linux/ppc64le',
  'linux/riscv64',
  'linux/s390x',
  'netbsd/386',
  'netbsd/amd64',
  'netbsd/arm',
  'netbsd/arm64',
  'openbsd/386',
  'openbsd/amd64',
  'openbsd/arm',
  'openbsd/arm64',
  'openbsd/ppc64',
  'openbsd/riscv64',
  'plan9/386',
  'plan9/amd64',
  'plan9/arm',
  'solaris/amd64',
  'wasip1/wasm',
  'windows/386',
  'windows/amd64',
  'windows/arm64',
];

const p = (os: string, arch: string, variant?: string): Platform => (variant ? { os, arch, variant } : { os, arch });

/** Run fn and return its PlatformError message; fails the test if it does not throw one. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PlatformError);
    expect((e as Error).name).toBe('PlatformError');
    return (e as Error).message;
  }
  throw new Error('expected a PlatformError, nothing was thrown');
}

describe('parsePlatform', () => {
  // input → canonical string
  test.each([
    ['linux/amd64', 'linux/amd64'],
    ['  Linux/AMD64  ', 'linux/amd64'],
    ['linux/x86_64', 'linux/amd64'],
    ['linux/x86-64', 'linux/amd64'],
    ['linux/x64', 'linux/amd64'],
    ['linux/amd64/v1', 'linux/amd64'],
    ['linux/amd64/v3', 'linux/amd64/v3'],
    ['linux/amd64/3', 'linux/amd64/v3'],
    ['linux/x86_64/v2', 'linux/amd64/v2'],
    ['linux/amd64/v4', 'linux/amd64/v4'],
    ['linux/aarch64', 'linux/arm64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/aarch64/v8', 'linux/arm64'],
    ['linux/arm64/v8.0', 'linux/arm64'],
    ['linux/arm64/8', 'linux/arm64'],
    ['linux/arm64/v8.2', 'linux/arm64/v8.2'],
    ['linux/arm64/v9', 'linux/arm64/v9.0'],
    ['linux/arm64/9', 'linux/arm64/v9.0'],
    ['linux/arm64/v9.5', 'linux/arm64/v9.5'],
    ['linux/i386', 'linux/386'],
    ['linux/i686', 'linux/386'],
    ['windows/x86', 'windows/386'],
    ['linux/386/sse2', 'linux/386'],
    ['linux/386/softfloat', 'linux/386/softfloat'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/v7', 'linux/arm/v7'],
    ['linux/arm/7', 'linux/arm/v7'],
    ['linux/arm/v6', 'linux/arm/v6'],
    ['linux/arm/V5', 'linux/arm/v5'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/armel', 'linux/arm/v6'],
    ['linux/armv5', 'linux/arm/v5'],
    ['linux/armv5l', 'linux/arm/v5'],
    ['linux/armv6', 'linux/arm/v6'],
    ['linux/armv6l', 'linux/arm/v6'],
    ['linux/armv7', 'linux/arm/v7'],
    ['linux/armv7l', 'linux/arm/v7'],
    ['linux/armv7l/v7', 'linux/arm/v7'],
    ['linux/riscv64', 'linux/riscv64'],
    ['linux/riscv64/rva20u64', 'linux/riscv64'],
    ['linux/riscv64/rva22u64', 'linux/riscv64/rva22u64'],
    ['linux/riscv64/RVA23U64', 'linux/riscv64/rva23u64'],
    ['macos/arm64', 'darwin/arm64'],
    ['OSX/x86_64', 'darwin/amd64'],
    ['darwin/aarch64', 'darwin/arm64'],
    ['windows/amd64', 'windows/amd64'],
    ['js/wasm', 'js/wasm'],
    ['wasip1/wasm', 'wasip1/wasm'],
    ['linux/ppc64le', 'linux/ppc64le'],
    // unknown os/arch are parsed as-is; checkSupported rejects them against the real toolchain
    ['linux/foo', 'linux/foo'],
    ['plan10/amd64', 'plan10/amd64'],
  ])('%j → %s', (input, canonical) => {
    expect(formatPlatform(parsePlatform(input))).toBe(canonical);
  });

  test('returns plain fields, variant absent when default', () => {
    expect(parsePlatform('linux/x86_64/v1')).toStrictEqual({ os: 'linux', arch: 'amd64' });
    expect(parsePlatform('linux/armhf')).toStrictEqual({ os: 'linux', arch: 'arm', variant: 'v7' });
    expect(parsePlatform('linux/arm64/v8.3')).toStrictEqual({ os: 'linux', arch: 'arm64', variant: 'v8.3' });
  });

  // input → message fragments
  test.each([
    ['', ['invalid platform ""', 'os/arch[/variant]', 'linux/arm/v7']],
    ['linux', ['invalid platform "linux"', 'os/arch[/variant]', 'linux/amd64']],
    ['linux/arm/v7/extra', ['invalid platform "linux/arm/v7/extra"', 'os/arch[/variant]']],
    ['linux//amd64', ['invalid platform "linux//amd64"', 'os/arch[/variant]']],
    ['linux/amd64/', ['invalid platform "linux/amd64/"']],
    ['/amd64', ['invalid platform "/amd64"']],
    ['linux/../x', ['invalid platform "linux/../x"']],
    ['linux/am d64', ['invalid platform "linux/am d64"']],
    ['linux/arm/v9', ['platform "linux/arm/v9" is not one Go supports', 'valid arm variants are v5, v6, v7']],
    ['linux/arm/v8', ['"linux/arm/v8"', 'v5, v6, v7']],
    ['linux/amd64/v5', ['"linux/amd64/v5"', 'valid amd64 variants are v1, v2, v3, v4', 'or none for v1']],
    ['linux/arm64/v7', ['"linux/arm64/v7"', 'valid arm64 variants are v8.0, v8.1', 'v9.5', 'or none for v8.0']],
    ['linux/arm64/v9.6', ['"linux/arm64/v9.6"', 'v9.0, v9.1, v9.2, v9.3, v9.4, v9.5']],
    ['linux/arm64/v8.2,lse', ['invalid platform "linux/arm64/v8.2,lse"']],
    ['linux/riscv64/rva24u64', ['"linux/riscv64/rva24u64"', 'rva20u64, rva22u64, rva23u64']],
    ['linux/386/387', ['"linux/386/387"', 'valid 386 variants are sse2, softfloat']],
    ['linux/ppc64le/v9', ['platform "linux/ppc64le/v9": ppc64le takes no variant', 'write it as linux/ppc64le']],
    ['windows/wasm/v1', ['"windows/wasm/v1"', 'wasm takes no variant']],
    ['linux/armv7/v6', ['"linux/armv7/v6"', 'armv7 already means arm/v7', 'linux/arm/v6']],
    ['linux/armel/v7', ['"linux/armel/v7"', 'armel already means arm/v6']],
    ['linux/armv6/v9', ['"linux/armv6/v9"', 'v5, v6, v7']],
  ])('rejects %j', (input, fragments) => {
    const message = errorOf(() => parsePlatform(input));
    for (const f of fragments) expect(message).toContain(f);
  });

  test('rejects non-strings (options come from JSON)', () => {
    expect(errorOf(() => parsePlatform(42 as unknown as string))).toContain('platform 42 is not a string');
  });
});

describe('formatPlatform / platformFolder', () => {
  test.each([
    ['linux/amd64', 'linux/amd64', 'linux_amd64'],
    ['linux/arm', 'linux/arm/v7', 'linux_arm_v7'],
    ['linux/arm/v6', 'linux/arm/v6', 'linux_arm_v6'],
    ['linux/amd64/v3', 'linux/amd64/v3', 'linux_amd64_v3'],
    ['linux/arm64', 'linux/arm64', 'linux_arm64'],
    ['linux/arm64/v8.2', 'linux/arm64/v8.2', 'linux_arm64_v8.2'],
    ['linux/arm64/v9', 'linux/arm64/v9.0', 'linux_arm64_v9.0'],
    ['darwin/arm64', 'darwin/arm64', 'darwin_arm64'],
    ['windows/amd64', 'windows/amd64', 'windows_amd64'],
    ['linux/riscv64/rva22u64', 'linux/riscv64/rva22u64', 'linux_riscv64_rva22u64'],
    ['js/wasm', 'js/wasm', 'js_wasm'],
  ])('%s → %s, %s', (input, canonical, folder) => {
    const platform = parsePlatform(input);
    expect(formatPlatform(platform)).toBe(canonical);
    expect(platformFolder(platform)).toBe(folder);
  });

  test('format round-trips through parse', () => {
    for (const line of DIST_LIST) {
      const platform = parsePlatform(line);
      expect(parsePlatform(formatPlatform(platform))).toStrictEqual(platform);
    }
  });
});

describe('goEnvFor', () => {
  test.each([
    ['linux/amd64', { GOOS: 'linux', GOARCH: 'amd64', GOAMD64: 'v1' }],
    ['linux/amd64/v3', { GOOS: 'linux', GOARCH: 'amd64', GOAMD64: 'v3' }],
    ['linux/arm', { GOOS: 'linux', GOARCH: 'arm', GOARM: '7' }],
    ['linux/arm/v6', { GOOS: 'linux', GOARCH: 'arm', GOARM: '6' }],
    ['linux/armv5', { GOOS: 'linux', GOARCH: 'arm', GOARM: '5' }],
    ['linux/arm64', { GOOS: 'linux', GOARCH: 'arm64', GOARM64: 'v8.0' }],
    ['darwin/arm64/v8.2', { GOOS: 'darwin', GOARCH: 'arm64', GOARM64: 'v8.2' }],
    ['linux/arm64/v9', { GOOS: 'linux', GOARCH: 'arm64', GOARM64: 'v9.0' }],
    ['linux/riscv64', { GOOS: 'linux', GOARCH: 'riscv64', GORISCV64: 'rva20u64' }],
    ['linux/riscv64/rva23u64', { GOOS: 'linux', GOARCH: 'riscv64', GORISCV64: 'rva23u64' }],
    ['windows/386', { GOOS: 'windows', GOARCH: '386', GO386: 'sse2' }],
    ['linux/386/softfloat', { GOOS: 'linux', GOARCH: '386', GO386: 'softfloat' }],
    ['linux/ppc64le', { GOOS: 'linux', GOARCH: 'ppc64le' }],
    ['linux/s390x', { GOOS: 'linux', GOARCH: 's390x' }],
    ['js/wasm', { GOOS: 'js', GOARCH: 'wasm' }],
  ])('%s', (input, env) => {
    expect(goEnvFor(parsePlatform(input))).toStrictEqual(env);
  });

  test('pins GOARM=7 even for a hand-built arm platform without variant', () => {
    expect(goEnvFor({ os: 'linux', arch: 'arm' })).toStrictEqual({ GOOS: 'linux', GOARCH: 'arm', GOARM: '7' });
  });
});

describe('executableSuffix', () => {
  test.each([
    ['windows/amd64', '.exe'],
    ['windows/arm64', '.exe'],
    ['js/wasm', '.wasm'],
    ['wasip1/wasm', '.wasm'],
    ['linux/amd64', ''],
    ['darwin/arm64', ''],
  ])('%s → %j', (input, suffix) => {
    expect(executableSuffix(parsePlatform(input))).toBe(suffix);
  });
});

describe('platformFromGoEnv', () => {
  test.each<[Record<string, string | undefined>, string]>([
    [{ GOOS: 'linux', GOARCH: 'amd64', GOAMD64: 'v1' }, 'linux/amd64'],
    [{ GOOS: 'linux', GOARCH: 'amd64', GOAMD64: 'v3' }, 'linux/amd64/v3'],
    [{ GOOS: 'linux', GOARCH: 'amd64' }, 'linux/amd64'],
    [{ GOOS: 'linux', GOARCH: 'amd64', GOAMD64: '' }, 'linux/amd64'],
    [{ GOOS: 'linux', GOARCH: 'arm', GOARM: '7' }, 'linux/arm/v7'],
    [{ GOOS: 'linux', GOARCH: 'arm', GOARM: '7,softfloat' }, 'linux/arm/v7'],
    [{ GOOS: 'linux', GOARCH: 'arm', GOARM: '6,hardfloat' }, 'linux/arm/v6'],
    [{ GOOS: 'linux', GOARCH: 'arm' }, 'linux/arm/v7'],
    [{ GOOS: 'darwin', GOARCH: 'arm64', GOARM64: 'v8.0' }, 'darwin/arm64'],
    [{ GOOS: 'linux', GOARCH: 'arm64', GOARM64: 'v8.2,lse' }, 'linux/arm64/v8.2'],
    [{ GOOS: 'linux', GOARCH: 'riscv64', GORISCV64: 'rva22u64' }, 'linux/riscv64/rva22u64'],
    [{ GOOS: 'linux', GOARCH: '386', GO386: 'sse2' }, 'linux/386'],
    // another arch's variable is irrelevant
    [{ GOOS: 'linux', GOARCH: 'amd64', GOAMD64: 'v2', GOARM: '6' }, 'linux/amd64/v2'],
    [{ GOOS: 'windows', GOARCH: 'amd64', GOAMD64: 'v1', GOARM: '7' }, 'windows/amd64'],
  ])('%j → %s', (env, canonical) => {
    expect(formatPlatform(platformFromGoEnv(env))).toBe(canonical);
  });

  test.each<[Record<string, string | undefined>, string]>([
    [{}, 'did not report GOOS and GOARCH'],
    [{ GOOS: 'linux', GOARCH: '' }, 'did not report GOOS and GOARCH'],
    [{ GOOS: 'linux', GOARCH: 'arm', GOARM: '9' }, 'valid arm variants are v5, v6, v7'],
  ])('rejects %j', (env, fragment) => {
    expect(errorOf(() => platformFromGoEnv(env))).toContain(fragment);
  });
});

describe('checkSupported', () => {
  test.each(['linux/amd64', 'linux/arm/v6', 'linux/arm64/v9.2', 'darwin/arm64', 'windows/386', 'js/wasm', 'wasip1/wasm'])('accepts %s', (input) => {
    expect(() => checkSupported(parsePlatform(input), DIST_LIST)).not.toThrow();
  });

  test('tolerates CRLF and blank lines in the dist list', () => {
    expect(() => checkSupported(p('linux', 'amd64'), ['', 'linux/amd64\r', ''])).not.toThrow();
  });

  test('unknown arch: lists the same-os platforms, sorted', () => {
    const message = errorOf(() => checkSupported(parsePlatform('Linux/Foo'), DIST_LIST));
    expect(message).toBe(
      'platform "linux/foo" is not one this Go toolchain supports (go tool dist list); for os linux: ' +
        'linux/386, linux/amd64, linux/arm, linux/arm64, linux/loong64, linux/mips, linux/mips64, linux/mips64le, ' +
        'linux/mipsle, linux/ppc64, linux/ppc64le, linux/riscv64, linux/s390x',
    );
  });

  test('unknown os: lists the same-arch platforms', () => {
    const message = errorOf(() => checkSupported(parsePlatform('plan10/amd64'), DIST_LIST));
    expect(message).toContain('platform "plan10/amd64" is not one this Go toolchain supports');
    expect(message).toContain('for arch amd64: android/amd64, darwin/amd64, dragonfly/amd64');
    expect(message).toContain('windows/amd64');
    expect(message).not.toContain('linux/arm64');
    expect(message).not.toContain('more');
  });

  test('unsupported pair of known os and arch: lists both, without duplicates', () => {
    const message = errorOf(() => checkSupported(parsePlatform('windows/riscv64'), DIST_LIST));
    expect(message).toContain('for os windows or arch riscv64: ');
    expect(message).toContain('linux/riscv64, openbsd/riscv64, windows/386, windows/amd64, windows/arm64');
  });

  test('caps the list at 20 and says how many more', () => {
    const many = Array.from({ length: 30 }, (_, i) => `linux/arch${String(i).padStart(2, '0')}`);
    const message = errorOf(() => checkSupported(p('linux', 'nope'), many));
    expect(message).toContain('linux/arch00, linux/arch01');
    expect(message).toContain('linux/arch19 and 10 more');
    expect(message).not.toContain('linux/arch20');
  });

  test('nothing in common: names both and shows a short sample', () => {
    const message = errorOf(() => checkSupported(parsePlatform('plan10/foo'), DIST_LIST));
    expect(message).toContain('platform "plan10/foo" is not one this Go toolchain supports (go tool dist list)');
    expect(message).toContain('neither os plan10 nor arch foo is known');
    expect(message).toContain(`one of the ${DIST_LIST.length} listed, e.g. linux/amd64, linux/arm64, darwin/arm64, windows/amd64`);
  });

  test('an empty dist list rejects everything and says so', () => {
    expect(errorOf(() => checkSupported(p('linux', 'amd64'), []))).toContain('the list is empty');
  });
});

describe('parsePlatforms', () => {
  test('normalizes, dedupes by canonical string, keeps first-seen order', () => {
    const list = parsePlatforms([
      'linux/arm64',
      'linux/arm',
      'linux/x86_64',
      'linux/arm/v7',
      'linux/armhf',
      'linux/aarch64/v8',
      'linux/amd64/v1',
      'linux/amd64/v3',
    ]);
    expect(list.map(formatPlatform)).toEqual(['linux/arm64', 'linux/arm/v7', 'linux/amd64', 'linux/amd64/v3']);
  });

  test('empty list is an error', () => {
    expect(errorOf(() => parsePlatforms([]))).toContain('platforms must not be empty');
  });

  test('errors name the offending entry', () => {
    const message = errorOf(() => parsePlatforms(['linux/amd64', 'linux/arm/v9']));
    expect(message).toContain('platforms[1]');
    expect(message).toContain('"linux/arm/v9"');
    expect(message).toContain('v5, v6, v7');
  });
});

describe('samePlatform', () => {
  test.each<[Platform, Platform, boolean]>([
    [parsePlatform('linux/arm'), parsePlatform('linux/arm/v7'), true],
    [parsePlatform('linux/amd64'), parsePlatform('linux/x86_64/v1'), true],
    [p('linux', 'amd64'), { os: 'linux', arch: 'amd64', variant: undefined }, true],
    [parsePlatform('linux/amd64'), parsePlatform('linux/amd64/v3'), false],
    [parsePlatform('linux/arm/v6'), parsePlatform('linux/arm/v7'), false],
    [parsePlatform('linux/arm64'), parsePlatform('darwin/arm64'), false],
    [parsePlatform('linux/arm64'), parsePlatform('linux/amd64'), false],
  ])('%j vs %j → %s', (a, b, same) => {
    expect(samePlatform(a, b)).toBe(same);
    expect(samePlatform(b, a)).toBe(same);
  });
});
