import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatMemo } from '../cache/stat-memo';
import type { GoModule } from '../go/module';
import type { PackageListing } from '../go/packages';
import type { Target } from '../go/targets';
import type { Toolchain } from '../go/toolchain';
import { goCacheEnv } from '../gocache/env';
import { parsePlatform, type Platform } from '../platform/platform';
import { CompileError, compileNode, type CompileSettings } from './compile';

/**
 * The compile key decides whether a binary is rebuilt: every input that can change the
 * bytes must change it, and nothing else may. No Go needed: a fake toolchain and a fake
 * go list answer, over real files hashed by a real StatMemo.
 */

let base: string;
let moduleDir: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'fnb-compilekey-'));
  moduleDir = join(base, 'ws');
  writeModule(moduleDir);
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

function writeModule(dir: string) {
  mkdirSync(join(dir, 'cmd', 'app'), { recursive: true });
  mkdirSync(join(dir, 'internal', 'greeting'), { recursive: true });
  writeFileSync(join(dir, 'go.mod'), 'module example.com/ws\n\ngo 1.21\n');
  writeFileSync(join(dir, 'cmd', 'app', 'main.go'), 'package main\n\nfunc main() { println("v1") }\n');
  writeFileSync(join(dir, 'internal', 'greeting', 'greeting.go'), 'package greeting\n');
  writeFileSync(join(dir, 'internal', 'greeting', 'greeting.txt'), 'hello\n');
}

interface Inputs {
  tc: Toolchain;
  dir: string;
  files: string[];
  importPath: string;
  platform: Platform;
  settings: CompileSettings;
  modulesKey: string;
  listingError?: string;
  packageName?: string;
}

function baseline(): Inputs {
  return {
    tc: {
      go: '/opt/go/bin/go',
      version: 'go1.26.8',
      semver: [1, 26, 8],
      env: { GOFLAGS: '', GOEXPERIMENT: '', GOFIPS140: 'off', GOROOT: '/opt/go', GOMODCACHE: '/home/u/go/pkg/mod', CC: 'gcc', CGO_CFLAGS: '-O2 -g' },
      processEnv: { PATH: '/usr/bin', HOME: '/home/u' },
    },
    dir: moduleDir,
    files: ['cmd/app/main.go', 'internal/greeting/greeting.go', 'internal/greeting/greeting.txt'],
    importPath: 'example.com/ws/cmd/app',
    platform: parsePlatform('linux/amd64'),
    settings: { flags: [], tags: [], ldflags: '', cgo: false, env: {} },
    modulesKey: 'm'.repeat(64),
  };
}

function nodeFor(i: Inputs) {
  const module: GoModule = { path: 'example.com/ws', dir: i.dir, buildListFiles: [join(i.dir, 'go.mod'), join(i.dir, 'go.sum')] };
  const target: Target = { pattern: './cmd/app', dir: join(i.dir, 'cmd', 'app'), name: 'app' };
  const listing = async (): Promise<PackageListing> => ({
    targets: [
      {
        pattern: './cmd/app',
        importPath: i.importPath,
        name: i.packageName ?? 'main',
        dir: join(i.dir, 'cmd', 'app'),
        files: i.files.map((f) => join(i.dir, f)).sort(),
        error: i.listingError,
      },
    ],
    dirs: [],
    std: [],
  });
  // A fresh memo per key, as a new build would have.
  return compileNode({
    tc: i.tc,
    module,
    target,
    platform: i.platform,
    settings: i.settings,
    modulesKey: Promise.resolve(i.modulesKey),
    listing,
    memo: StatMemo.inMemory(),
  });
}

const keyOf = (i: Inputs) => nodeFor(i).key!();

describe('compile key', () => {
  test('same inputs → same key, across nodes and memos', async () => {
    const k1 = await keyOf(baseline());
    const k2 = await keyOf(baseline());
    expect(k1).toMatch(/^[0-9a-f]{64}$/);
    expect(k2).toBe(k1);
  });

  test('a remote cache configured (GOCACHEPROG and NX_FNBUILD_* in the go commands env, as the plan merges them) → same key', async () => {
    const i = baseline();
    const remote = { url: 'https://user:secret@cache.example/fnbuild', mode: 'read' as const, insecureRegistries: ['localhost:5000'] };
    const { env } = goCacheEnv({ goVersion: i.tc.semver, cacheDir: join(base, 'store'), remote, userEnv: i.tc.processEnv, goEnv: i.tc.env });
    expect(Object.keys(env).sort()).toEqual([
      'GOCACHEPROG',
      'NX_FNBUILD_CACHE_DIR',
      'NX_FNBUILD_INSECURE_REGISTRIES',
      'NX_FNBUILD_REMOTE_CACHE',
      'NX_FNBUILD_REMOTE_CACHE_MODE',
    ]);
    const withRemote = await keyOf({ ...i, tc: { ...i.tc, processEnv: { ...i.tc.processEnv, ...env } } });
    expect(withRemote).toBe(await keyOf(i));
  });

  test('node id and label', () => {
    const n = nodeFor({ ...baseline(), platform: parsePlatform('linux/arm/v7') });
    expect([n.kind, n.id, n.label]).toEqual(['compile', 'compile ./cmd/app linux/arm/v7', 'compile app linux/arm/v7']);
  });

  const changes: [string, (i: Inputs) => Inputs | void][] = [
    ["a Go file's content (same size)", (i) => void writeFileSync(join(i.dir, 'cmd', 'app', 'main.go'), 'package main\n\nfunc main() { println("v2") }\n')],
    ["an embedded file's content", (i) => void writeFileSync(join(i.dir, 'internal', 'greeting', 'greeting.txt'), 'hullo\n')],
    [
      'an added file',
      (i) => {
        writeFileSync(join(i.dir, 'internal', 'greeting', 'extra.go'), 'package greeting\n');
        return { ...i, files: [...i.files, 'internal/greeting/extra.go'] };
      },
    ],
    ['a removed file', (i) => ({ ...i, files: i.files.slice(1) })],
    [
      'a renamed file (same content)',
      (i) => {
        writeFileSync(join(i.dir, 'internal', 'greeting', 'renamed.go'), 'package greeting\n');
        return { ...i, files: ['cmd/app/main.go', 'internal/greeting/renamed.go', 'internal/greeting/greeting.txt'] };
      },
    ],
    ['a listed file that went missing', (i) => void rmSync(join(i.dir, 'internal', 'greeting', 'greeting.go'))],
    ['flags', (i) => ({ ...i, settings: { ...i.settings, flags: ['-race'] } })],
    ['tags', (i) => ({ ...i, settings: { ...i.settings, tags: ['netgo'] } })],
    ['ldflags', (i) => ({ ...i, settings: { ...i.settings, ldflags: '-s -w' } })],
    ['ldflags expanded to another version', (i) => ({ ...i, settings: { ...i.settings, ldflags: '-X main.version=1.0.1' } })],
    ['platform arch', (i) => ({ ...i, platform: parsePlatform('linux/arm64') })],
    ['platform os', (i) => ({ ...i, platform: parsePlatform('darwin/amd64') })],
    ['platform variant', (i) => ({ ...i, platform: parsePlatform('linux/amd64/v3') })],
    ['cgo', (i) => ({ ...i, settings: { ...i.settings, cgo: true } })],
    ['user env', (i) => ({ ...i, settings: { ...i.settings, env: { FEATURE: 'on' } } })],
    ['user env value', (i) => ({ ...i, settings: { ...i.settings, env: { FEATURE: 'off' } } })],
    ['GOFLAGS in the toolchain env', (i) => ({ ...i, tc: { ...i.tc, env: { ...i.tc.env, GOFLAGS: '-mod=mod' } } })],
    ['GOEXPERIMENT in the toolchain env', (i) => ({ ...i, tc: { ...i.tc, env: { ...i.tc.env, GOEXPERIMENT: 'greenteagc' } } })],
    ['GOFIPS140 in the toolchain env', (i) => ({ ...i, tc: { ...i.tc, env: { ...i.tc.env, GOFIPS140: 'latest' } } })],
    ['toolchain version', (i) => ({ ...i, tc: { ...i.tc, version: 'go1.26.9', semver: [1, 26, 9] } })],
    ['modules key', (i) => ({ ...i, modulesKey: 'n'.repeat(64) })],
    ['import path', (i) => ({ ...i, importPath: 'example.com/other/cmd/app' })],
  ];

  test.each(changes)('%s alone → a different key', async (_what, change) => {
    const before = await keyOf(baseline());
    const after = await keyOf(change(baseline()) ?? baseline());
    expect(after).not.toBe(before);
  });

  test('every change gives its own key (no two collide)', async () => {
    const keys = new Set([await keyOf(baseline())]);
    for (const [what, change] of changes) {
      rmSync(moduleDir, { recursive: true, force: true });
      writeModule(moduleDir);
      const k = await keyOf(change(baseline()) ?? baseline());
      expect({ what, seen: keys.has(k) }).toEqual({ what, seen: false });
      keys.add(k);
    }
  });

  test('with cgo on, the C toolchain env is part of the key; with cgo off it is not', async () => {
    const withCC = (i: Inputs, cc: string) => ({ ...i, tc: { ...i.tc, env: { ...i.tc.env, CC: cc } } });
    const off = baseline();
    expect(await keyOf(withCC(off, 'clang'))).toBe(await keyOf(off));
    const on = { ...baseline(), settings: { ...baseline().settings, cgo: true } };
    expect(await keyOf(withCC(on, 'clang'))).not.toBe(await keyOf(on));
    const flagsChanged = { ...on, tc: { ...on.tc, env: { ...on.tc.env, CGO_CFLAGS: '-O3' } } };
    expect(await keyOf(flagsChanged)).not.toBe(await keyOf(on));
  });

  test("not part of the key: where the checkout is, GOROOT's path, unrelated process env", async () => {
    const before = await keyOf(baseline());
    const elsewhere = join(base, 'another-checkout');
    cpSync(moduleDir, elsewhere, { recursive: true });
    expect(await keyOf({ ...baseline(), dir: elsewhere })).toBe(before);
    expect(await keyOf({ ...baseline(), tc: { ...baseline().tc, env: { ...baseline().tc.env, GOROOT: '/usr/local/go' } } })).toBe(before);
    expect(await keyOf({ ...baseline(), tc: { ...baseline().tc, processEnv: { PATH: '/bin', HOME: '/root', TERM: 'xterm' } } })).toBe(before);
  });

  test('a go list error for the package fails the key with a CompileError naming target and platform', async () => {
    const n = nodeFor({ ...baseline(), listingError: 'cmd/app/main.go:3:8: package example.com/ws/missing is not in std' });
    const err = await n.key!().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CompileError);
    expect((err as Error).message).toBe('app (./cmd/app) for linux/amd64:\n    cmd/app/main.go:3:8: package example.com/ws/missing is not in std');
  });

  test('a target that is not package main is refused', async () => {
    const err = await nodeFor({ ...baseline(), packageName: 'greeting' }).key!().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CompileError);
    expect((err as Error).message).toContain('package greeting is not a main package');
  });
});
