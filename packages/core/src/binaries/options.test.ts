import { FnbuildError } from '../util/errors';
import { buildBinariesOptionsSchema, parseOptions } from './options';

const parse = (input: unknown) => parseOptions(buildBinariesOptionsSchema, input, 'build-binaries');

/** The message of the FnbuildError parse throws, split into its issue lines. */
function issuesOf(input: unknown): string[] {
  try {
    parse(input);
  } catch (e) {
    expect(e).toBeInstanceOf(FnbuildError);
    const [head, ...lines] = (e as Error).message.split('\n');
    expect(head).toBe('invalid build-binaries options:');
    return lines.map((l) => l.trim());
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

const VALID_OPTIONS = 'targets, platforms, ldflags, flags, tags, env, cgo, version, parallelism, cacheDir, remoteCache, functionName, source, outputPath';

describe('parseOptions(buildBinariesOptionsSchema)', () => {
  test('no options at all is valid (every option has a default)', () => {
    expect(parse(undefined)).toEqual({});
    expect(parse({})).toEqual({});
  });

  test('a full set of good options comes back as given', () => {
    const input = {
      targets: ['./cmd/server', { path: './cmd/client', name: 'cli' }],
      platforms: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'],
      ldflags: ['-s', '-w', '-X main.version={version}'],
      flags: ['-race', '-gcflags=all=-N -l', '-mod=vendor'],
      tags: ['netgo', 'osusergo'],
      env: { GOPRIVATE: 'example.com/*', CGO_CFLAGS: '-O2' },
      cgo: true,
      version: '1.0.0',
      parallelism: 4,
      cacheDir: '.cache/fnbuild',
      outputPath: 'dist/bin',
    };
    expect(parse(input)).toEqual(input);
  });

  test('comma-separated strings (as from a command line) become lists, trimmed, empties dropped', () => {
    expect(parse({ platforms: 'linux/amd64, linux/arm64,,windows/amd64 ', tags: 'netgo,osusergo', flags: '-race' })).toEqual({
      platforms: ['linux/amd64', 'linux/arm64', 'windows/amd64'],
      tags: ['netgo', 'osusergo'],
      flags: ['-race'],
    });
  });

  test('parallelism given as a string (a CLI flag) is a number', () => {
    expect(parse({ parallelism: '3' })).toEqual({ parallelism: 3 });
  });

  test('ldflags may be one string', () => {
    expect(parse({ ldflags: '-s -w' })).toEqual({ ldflags: '-s -w' });
  });

  test('a platform Go does not have: names the entry, the value and the valid variants', () => {
    expect(issuesOf({ platforms: ['linux/amd64', 'linux/arm/v9'] })).toEqual([
      'option "platforms[1]" (got "linux/arm/v9"): platform "linux/arm/v9" is not one Go supports: valid arm variants are v5, v6, v7',
    ]);
  });

  test('a malformed platform explains the expected form', () => {
    expect(issuesOf({ platforms: ['linux'] })).toEqual([
      'option "platforms[0]" (got "linux"): invalid platform "linux": expected os/arch[/variant], e.g. linux/amd64, linux/arm64, linux/arm/v7, windows/amd64',
    ]);
  });

  test('an empty platform list is refused with an example', () => {
    expect(issuesOf({ platforms: [] })).toEqual(['option "platforms" (got []): give at least one platform, e.g. ["linux/amd64"]']);
  });

  test.each([0, -2, 257, 1.5])('parallelism %p names the option, the value and the bound', (n) => {
    const [line] = issuesOf({ parallelism: n });
    expect(line.startsWith(`option "parallelism" (got ${n}): `)).toBe(true);
    expect(line).toMatch(n === 1.5 ? /integer/i : n > 256 ? /256/ : /\b1\b/);
  });

  test('an unknown option is named, with the list of valid ones', () => {
    expect(issuesOf({ platfroms: ['linux/amd64'] })).toEqual([`unknown option "platfroms"; valid options: ${VALID_OPTIONS}`]);
    expect(issuesOf({ a: 1, b: 2 })).toEqual([`unknown options "a", "b"; valid options: ${VALID_OPTIONS}`]);
  });

  test('flags that nx-fnbuild sets itself are refused, and so is a non-flag word', () => {
    expect(issuesOf({ flags: ['-o', 'x'] })).toEqual([
      'option "flags[0]" (got "-o"): -o, -ldflags, -tags, -trimpath and -buildmode are set by nx-fnbuild; use the outputPath, ldflags and tags options (-trimpath is always on, -buildmode is exe)',
      'option "flags[1]" (got "x"): a go build flag starts with "-", e.g. "-race" or "-gcflags=all=-N"',
    ]);
  });

  test.each(['-o=out', '--ldflags=-s', '-tags=netgo', '-trimpath'])('reserved flag %s is refused in any spelling', (f) => {
    const [line] = issuesOf({ flags: [f] });
    expect(line.startsWith(`option "flags[0]" (got ${JSON.stringify(f)}): `)).toBe(true);
    expect(line).toContain('are set by nx-fnbuild');
  });

  test('env may not set the platform or cgo', () => {
    expect(issuesOf({ env: { GOARCH: 'arm64' } })).toEqual([
      'option "env" (got {"GOARCH":"arm64"}): GOOS, GOARCH, their variants and CGO_ENABLED come from the platforms and cgo options, not env',
    ]);
  });

  test('a bad tag and a bad env name are named', () => {
    expect(issuesOf({ tags: ['ok', 'not ok'] })).toEqual(['option "tags[1]" (got "not ok"): a build tag is letters, digits, "_", "." or "-"']);
    const [line] = issuesOf({ env: { 'BAD-NAME': 'x' } });
    expect(line).toContain('an environment variable name');
    expect(line).toContain('BAD-NAME');
  });

  test('every bad option is reported at once', () => {
    expect(issuesOf({ parallelism: 0, platforms: ['linux/arm/v9'], flags: ['-o'] }).map((l) => l.split(' (got')[0])).toEqual([
      'option "platforms[0]"',
      'option "flags[0]"',
      'option "parallelism"',
    ]);
  });

  test('options that are not an object', () => {
    expect(issuesOf('linux/amd64')[0].startsWith('option "(options)" (got "linux/amd64"): ')).toBe(true);
  });

  test('unknown keys inside a target object are refused', () => {
    expect(() => parse({ targets: [{ path: './cmd/a', nmae: 'x' }] })).toThrow(FnbuildError);
  });

  // BUG (options.ts:58-60): an unrecognized key inside a nested object is reported as a
  // top-level option, with the top-level list of valid options (path, name are the valid ones).
  test('an unknown key inside a target names where it is and the keys valid there', () => {
    expect(issuesOf({ targets: [{ path: './cmd/a', nmae: 'x' }] })).toEqual(['option "targets[0]": unknown key "nmae"; valid keys: path, name']);
  });

  // BUG (options.ts:56): the value is looked up in the raw input, so for a comma-separated
  // string the "(got ...)" part is lost and the user does not see which entry was bad.
  test('a bad entry of a comma-separated list shows the value given', () => {
    expect(issuesOf({ tags: 'ok,not ok' })).toEqual(['option "tags[1]" (got "not ok"): a build tag is letters, digits, "_", "." or "-"']);
  });

  // Minor (options.ts:17-22): -buildmode is reserved but the message does not mention it.
  test('a reserved -buildmode says that -buildmode is the reason', () => {
    const [line] = issuesOf({ flags: ['-buildmode=pie'] });
    expect(line.startsWith('option "flags[0]" (got "-buildmode=pie"): ')).toBe(true);
    expect(line.slice(line.indexOf('): ') + 3)).toContain('-buildmode');
  });

  // Minor: a wrongly typed ldflags says only "Invalid input", not what is valid.
  test('ldflags of the wrong type says a string or a list of strings is expected', () => {
    expect(issuesOf({ ldflags: 5 })[0]).toMatch(/^option "ldflags" \(got 5\): .*string/);
  });
});
