import { logger, readNxJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { applicationGenerator } from './application/generator';
import { addToWork, workUses } from './go-layout';
import { initGenerator } from './init/generator';
import { libraryGenerator } from './library/generator';

let tree: Tree;
beforeEach(() => {
  tree = createTreeWithEmptyWorkspace();
  jest.spyOn(logger, 'info').mockImplementation(() => undefined);
});

describe('init', () => {
  test('registers the plugin once and keeps bin/, dist/ and .fnbuild/ out of git; a second run changes nothing', async () => {
    tree.write('.gitignore', 'node_modules\n/dist\n');
    await initGenerator(tree, {});
    const plugins = readNxJson(tree)?.plugins ?? [];
    expect(plugins.filter((p) => (typeof p === 'string' ? p : p.plugin) === 'nx-fnbuild')).toEqual([
      {
        plugin: 'nx-fnbuild',
        options: { buildBinariesTargetName: 'build-binaries', buildImageTargetName: 'build-image', pushTargetName: 'push', testTargetName: 'test' },
      },
    ]);
    expect(tree.read('.gitignore', 'utf8')).toBe('node_modules\n/dist\n\n# nx-fnbuild: binaries, images and the build cache\nbin/\n.fnbuild/\n');
    const before = tree.listChanges().map((c) => [c.path, c.content?.toString()]);
    await initGenerator(tree, {});
    expect(tree.listChanges().map((c) => [c.path, c.content?.toString()])).toEqual(before);
  });

  test('a plugin registered as a plain string counts', async () => {
    tree.write('nx.json', JSON.stringify({ plugins: ['nx-fnbuild'] }));
    await initGenerator(tree, { skipFormat: true });
    expect(readNxJson(tree)?.plugins).toEqual(['nx-fnbuild']);
  });
});

describe('application', () => {
  test('outside any module: a module of its own with a main package that has a version variable', async () => {
    await applicationGenerator(tree, { directory: 'services/api', skipFormat: true });
    expect(tree.read('services/api/go.mod', 'utf8')).toMatch(/^module example\.com\/api\n\ngo \d+\.\d+\n$/);
    const main = tree.read('services/api/main.go', 'utf8')!;
    expect(main).toContain('package main');
    expect(main).toContain('var version = "dev"');
    expect(main).toContain('":" + envOr("PORT", "8080")');
    expect(tree.exists('services/api/main_test.go')).toBe(true);
    expect(readNxJson(tree)?.plugins).toHaveLength(1);
  });

  test('under a go.work: joins it, with a module path next to its modules and its go version', async () => {
    tree.write('go.work', 'go 1.23.4\n\nuse (\n\t./libs/shared\n)\n');
    tree.write('libs/shared/go.mod', 'module github.com/acme/platform/shared\n\ngo 1.23\n');
    await applicationGenerator(tree, { directory: 'services/billing', skipFormat: true });
    expect(tree.read('services/billing/go.mod', 'utf8')).toBe('module github.com/acme/platform/billing\n\ngo 1.23.4\n');
    expect(tree.read('go.work', 'utf8')).toBe('go 1.23.4\n\nuse (\n\t./libs/shared\n\t./services/billing\n)\n');
  });

  test('inside a module: a command under its cmd/, or a clear error', async () => {
    tree.write('apps/shop/go.mod', 'module example.com/shop\n');
    await applicationGenerator(tree, { directory: 'apps/shop/cmd/api', skipFormat: true });
    expect(tree.exists('apps/shop/cmd/api/go.mod')).toBe(false);
    expect(tree.read('apps/shop/cmd/api/main.go', 'utf8')).toContain('package main');
    await expect(applicationGenerator(tree, { directory: 'apps/shop/api', skipFormat: true })).rejects.toThrow(
      'apps/shop/api is inside the Go module example.com/shop (apps/shop/go.mod): a command of that module belongs under apps/shop/cmd/, e.g. `nx g nx-fnbuild:application apps/shop/cmd/api`',
    );
    await expect(applicationGenerator(tree, { directory: 'apps/shop', skipFormat: true })).rejects.toThrow('apps/shop already holds a Go module');
    await expect(applicationGenerator(tree, { directory: '../outside', skipFormat: true })).rejects.toThrow('must be a folder inside the workspace');
  });
});

describe('library', () => {
  test('a new module joining the go.work, or a package of the module around it', async () => {
    tree.write('go.work', 'go 1.22\n\nuse ./services/api\n');
    tree.write('services/api/go.mod', 'module example.com/api\n');
    await libraryGenerator(tree, { directory: 'libs/shared-utils', module: 'example.com/sharedutils', skipFormat: true });
    expect(tree.read('libs/shared-utils/go.mod', 'utf8')).toBe('module example.com/sharedutils\n\ngo 1.22\n');
    expect(tree.read('libs/shared-utils/sharedutils.go', 'utf8')).toContain('package sharedutils');
    expect(workUses(tree.read('go.work', 'utf8')!)).toEqual(['./services/api', './libs/shared-utils']);
    await libraryGenerator(tree, { directory: 'services/api/internal/store', skipFormat: true });
    expect(tree.exists('services/api/internal/store/go.mod')).toBe(false);
    expect(tree.read('services/api/internal/store/store.go', 'utf8')).toContain('package store');
  });
});

test('addToWork: idempotent, into the use block when there is one', () => {
  tree.write('go.work', 'go 1.22\n\nuse ./a\n');
  addToWork(tree, 'go.work', 'a');
  addToWork(tree, 'go.work', 'b/c');
  expect(tree.read('go.work', 'utf8')).toBe('go 1.22\n\nuse ./a\n\nuse ./b/c\n');
  expect(workUses('use (\n\t./x // c\n\t"./y"\n)\nuse ./z\n')).toEqual(['./x', './y', './z']);
});
