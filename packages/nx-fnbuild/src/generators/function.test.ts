import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { logger, readNxJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { parseFuncYaml } from '@nx-fnbuild/core';
import { functionGenerator, functionPackageName } from './function/generator';
import { workUses } from './go-layout';

let tree: Tree;
beforeEach(() => {
  tree = createTreeWithEmptyWorkspace();
  jest.spyOn(logger, 'info').mockImplementation(() => undefined);
});

const filesUnder = (dir: string) =>
  tree
    .listChanges()
    .filter((c) => c.type !== 'DELETE' && c.path.startsWith(dir + '/'))
    .map((c) => c.path.slice(dir.length + 1))
    .sort();

test('outside any module: a module of its own joining the go.work, an Fn func.yaml, a handler and its test, no main package and no project.json', async () => {
  tree.write('go.work', 'go 1.23.4\n\nuse (\n\t./libs/shared\n)\n');
  tree.write('libs/shared/go.mod', 'module github.com/acme/platform/shared\n\ngo 1.23\n');
  await functionGenerator(tree, { name: 'hello-fn', directory: 'functions/hello-fn', skipFormat: true });
  expect(filesUnder('functions/hello-fn')).toEqual(['func.yaml', 'go.mod', 'handler.go', 'handler_test.go']);
  expect(tree.read('functions/hello-fn/go.mod', 'utf8')).toBe('module github.com/acme/platform/hello-fn\n\ngo 1.23.4\n');
  expect(workUses(tree.read('go.work', 'utf8')!)).toEqual(['./libs/shared', './functions/hello-fn']);

  const yaml = tree.read('functions/hello-fn/func.yaml', 'utf8')!;
  expect(yaml).toMatch(/^# .*\n# runtime \(go1\.N\), build_image \(golang:1\.N\.P\) and run_image .*\n# pinned here by the first build/);
  expect(parseFuncYaml(yaml, 'func.yaml').data).toEqual({ schema_version: 20180708, name: 'hello-fn', version: '0.0.1' });

  const handler = tree.read('functions/hello-fn/handler.go', 'utf8')!;
  expect(handler).toContain('\npackage hellofn\n');
  expect(handler).toContain('func Handle(w http.ResponseWriter, r *http.Request) {');
  expect(handler).toContain('r.URL.Query().Get("name")');
  const test = tree.read('functions/hello-fn/handler_test.go', 'utf8')!;
  expect(test).toMatch(/^package hellofn\n/);
  expect(test).toContain('"net/http/httptest"');
  expect(test).toContain('Handle(rec, httptest.NewRequest("GET", target, nil))');
  expect(readNxJson(tree)?.plugins).toHaveLength(1);
});

test('the name is the folder by default; inside a module the function is a package of it, with the functionName asked for', async () => {
  await functionGenerator(tree, { name: 'greeter', module: 'example.com/team/greeter', skipFormat: true });
  expect(tree.read('greeter/go.mod', 'utf8')).toMatch(/^module example\.com\/team\/greeter\n\ngo \d+\.\d+\n$/);
  expect(tree.read('greeter/handler.go', 'utf8')).toContain('package greeter\n');

  tree.write('apps/shop/go.mod', 'module example.com/shop\n');
  await functionGenerator(tree, { name: 'shop/checkout', directory: 'apps/shop/functions/func', functionName: 'Checkout', skipFormat: true });
  expect(filesUnder('apps/shop/functions/func')).toEqual(['func.yaml', 'handler.go', 'handler_test.go']);
  expect(tree.read('apps/shop/functions/func/func.yaml', 'utf8')).toContain('\nname: shop/checkout\n');
  // "func" is a Go keyword: the package gets a name Go accepts.
  expect(tree.read('apps/shop/functions/func/handler.go', 'utf8')).toContain('package funcfn\n');
  expect(tree.read('apps/shop/functions/func/handler.go', 'utf8')).toContain('func Checkout(w http.ResponseWriter, r *http.Request)');
  expect(tree.read('apps/shop/functions/func/handler_test.go', 'utf8')).toContain('func TestCheckout(t *testing.T)');
  expect(['main', 'hello-world', '9lives', 'type'].map(functionPackageName)).toEqual(['mainfn', 'helloworld', 'pkg9lives', 'typefn']);
});

test('clear errors: an image name func.yaml rejects, an unexported functionName, --module inside a module, a folder already holding Go code', async () => {
  await expect(functionGenerator(tree, { name: 'Hello World', directory: 'fns/hello', skipFormat: true })).rejects.toThrow(
    /^name "Hello World" cannot name the function's image: .*field "name"/,
  );
  await expect(functionGenerator(tree, { name: 'hello', functionName: 'handle', skipFormat: true })).rejects.toThrow(
    'functionName "handle" must be an exported Go identifier',
  );
  tree.write('apps/shop/go.mod', 'module example.com/shop\n');
  await expect(functionGenerator(tree, { name: 'pay', directory: 'apps/shop/pay', module: 'example.com/pay', skipFormat: true })).rejects.toThrow(
    '--module only applies to a new module',
  );
  tree.write('apps/shop/internal/cart/cart.go', 'package cart\n');
  await expect(functionGenerator(tree, { name: 'cart', directory: 'apps/shop/internal/cart', skipFormat: true })).rejects.toThrow(
    'apps/shop/internal/cart already holds Go code or a func.yaml',
  );
  await expect(functionGenerator(tree, { name: 'shop', directory: 'apps/shop', skipFormat: true })).rejects.toThrow('apps/shop already holds a Go module');
});

test('the scaffold compiles, passes go vet and its own test with the real go command', async () => {
  await functionGenerator(tree, { name: 'hello', directory: 'fns/hello', functionName: 'Hello', skipFormat: true });
  const dir = mkdtempSync(join(tmpdir(), 'nx-fnbuild-function-'));
  try {
    for (const file of filesUnder('fns/hello')) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), tree.read(`fns/hello/${file}`)!);
    }
    const env: NodeJS.ProcessEnv = { ...process.env, GOTOOLCHAIN: 'local', GOWORK: 'off', GOPROXY: 'off' };
    delete env.GOFLAGS;
    const go = (args: string[]) =>
      execFileSync(process.env.GO?.trim() || 'go', args, { cwd: dir, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    go(['vet', './...']);
    expect(go(['test', '-count=1', '-v', './...'])).toMatch(/--- PASS: TestHello[\s\S]*\nok\s+example\.com\/hello\b/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);
