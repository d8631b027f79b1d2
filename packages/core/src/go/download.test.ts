import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatMemo } from '../cache/stat-memo';
import { modulesKey, modulesNode } from './download';
import type { GoModule } from './module';
import { MODULE_ENV_VARS, type Toolchain } from './toolchain';

let base: string;
let dir: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'fnb-modkey-'));
  dir = join(base, 'ws');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'go.mod'), 'module example.com/ws\n\ngo 1.21\n\nrequire example.com/greet v1.0.0\n');
  writeFileSync(join(dir, 'go.sum'), 'example.com/greet v1.0.0 h1:AAAA=\nexample.com/greet v1.0.0/go.mod h1:BBBB=\n');
  writeFileSync(join(dir, 'main.go'), 'package main\n');
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

interface Inputs {
  tc: Toolchain;
  module: GoModule;
}

function baseline(moduleDir = dir): Inputs {
  return {
    tc: {
      go: '/opt/go/bin/go',
      version: 'go1.26.8',
      semver: [1, 26, 8],
      env: {
        GOFLAGS: '',
        GOPROXY: 'https://proxy.golang.org,direct',
        GOSUMDB: 'sum.golang.org',
        GONOSUMDB: '',
        GOPRIVATE: '',
        GOWORK: '',
        GOTOOLCHAIN: 'local',
        GOEXPERIMENT: '',
        GOOS: 'linux',
      },
      processEnv: {},
    },
    module: { path: 'example.com/ws', dir: moduleDir, buildListFiles: [join(moduleDir, 'go.mod'), join(moduleDir, 'go.sum')] },
  };
}

const key = (i: Inputs) => modulesKey(i.tc, i.module, StatMemo.inMemory());
const withEnv = (i: Inputs, name: string, value: string): Inputs => ({ ...i, tc: { ...i.tc, env: { ...i.tc.env, [name]: value } } });

describe('modules key', () => {
  test('same inputs → same key', async () => {
    const k = await key(baseline());
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(await key(baseline())).toBe(k);
  });

  test('go.mod content → different key', async () => {
    const before = await key(baseline());
    writeFileSync(join(dir, 'go.mod'), 'module example.com/ws\n\ngo 1.22\n\nrequire example.com/greet v1.0.0\n');
    expect(await key(baseline())).not.toBe(before);
  });

  test('go.sum content → different key', async () => {
    const before = await key(baseline());
    writeFileSync(join(dir, 'go.sum'), 'example.com/greet v1.0.0 h1:CCCC=\nexample.com/greet v1.0.0/go.mod h1:BBBB=\n');
    expect(await key(baseline())).not.toBe(before);
  });

  test('a go.sum that appears (absent and empty differ)', async () => {
    rmSync(join(dir, 'go.sum'));
    const absent = await key(baseline());
    writeFileSync(join(dir, 'go.sum'), '');
    expect(await key(baseline())).not.toBe(absent);
  });

  test('a vendor/modules.txt that appears or changes', async () => {
    const before = await key(baseline());
    mkdirSync(join(dir, 'vendor'));
    writeFileSync(join(dir, 'vendor', 'modules.txt'), '# example.com/greet v1.0.0\n');
    const vendored = await key(baseline());
    expect(vendored).not.toBe(before);
    writeFileSync(join(dir, 'vendor', 'modules.txt'), '# example.com/greet v1.0.1\n');
    expect(await key(baseline())).not.toBe(vendored);
  });

  test('a go.work in the build list files', async () => {
    writeFileSync(join(base, 'go.work'), 'go 1.21\n\nuse ./ws\n');
    const withWork = (): Inputs => {
      const i = baseline();
      return { ...i, module: { ...i.module, workFile: join(base, 'go.work'), buildListFiles: [...i.module.buildListFiles, join(base, 'go.work')] } };
    };
    const before = await key(withWork());
    expect(before).not.toBe(await key(baseline()));
    writeFileSync(join(base, 'go.work'), 'go 1.21\n\nuse (\n\t./ws\n\t./lib\n)\n');
    expect(await key(withWork())).not.toBe(before);
  });

  test.each(MODULE_ENV_VARS.map((n) => [n]))('%s alone → different key', async (name) => {
    const before = await key(baseline());
    expect(await key(withEnv(baseline(), name, 'changed-value'))).not.toBe(before);
  });

  test('toolchain version → different key', async () => {
    const before = await key(baseline());
    expect(await key({ ...baseline(), tc: { ...baseline().tc, version: 'go1.27.0' } })).not.toBe(before);
  });

  test('not part of the key: source files, build-only env, where the checkout is', async () => {
    const before = await key(baseline());
    writeFileSync(join(dir, 'main.go'), 'package main // edited\n');
    expect(await key(baseline())).toBe(before);
    expect(await key(withEnv(baseline(), 'GOEXPERIMENT', 'greenteagc'))).toBe(before);
    expect(await key(withEnv(baseline(), 'GOOS', 'darwin'))).toBe(before);
    const elsewhere = join(base, 'other-checkout');
    cpSync(dir, elsewhere, { recursive: true });
    expect(await key(baseline(elsewhere))).toBe(before);
  });
});

describe('modules node', () => {
  test('identity: one per module folder, labelled by module path, keyed by the given key', async () => {
    const i = baseline();
    const n = modulesNode(i.tc, i.module, Promise.resolve('k'.repeat(64)));
    expect([n.kind, n.id, n.label]).toEqual(['modules', `modules ${dir}`, 'modules example.com/ws']);
    expect(await n.key!()).toBe('k'.repeat(64));
  });

  test('a vendored module downloads nothing (no go command is run)', async () => {
    mkdirSync(join(dir, 'vendor'));
    writeFileSync(join(dir, 'vendor', 'modules.txt'), '# example.com/greet v1.0.0\n');
    const i = baseline(); // its go points nowhere: running it would fail
    expect(await modulesNode(i.tc, i.module, Promise.resolve('k')).run('/nonexistent')).toEqual({ data: { modules: [], vendored: true } });
  });
});
