import { execFileSync } from 'node:child_process';

/**
 * Each command entry loads only that command's modules: an Nx executor runs in a forked
 * process and pays for every module it loads. Checked in a fresh node against the built
 * package (`npm run build`), the way Nx loads it.
 */
interface Loaded {
  files: string[];
  builtins: string[];
}

function loadedBy(specifier: string): Loaded {
  const script = `
    require(${JSON.stringify(specifier)});
    const files = Object.keys(require.cache).map((f) => f.replaceAll('\\\\', '/'));
    const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
    process.stdout.write(JSON.stringify({ files, builtins }));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: __dirname, encoding: 'utf8' })) as Loaded;
}

const ours = (l: Loaded, folder: string): string[] => l.files.filter((f) => f.includes(`/core/dist/${folder}/`));
const inPackage = (l: Loaded, name: string): string[] => l.files.filter((f) => f.includes(`/node_modules/${name}/`));

describe('@nx-fnbuild/core entries', () => {
  test('/binaries loads no images, registry, publishing, yaml or TLS', () => {
    const l = loadedBy('@nx-fnbuild/core/binaries');
    expect(ours(l, 'binaries').length).toBeGreaterThan(0);
    for (const folder of ['images', 'registry', 'publish']) expect(ours(l, folder)).toEqual([]);
    expect(inPackage(l, 'yaml')).toEqual([]);
    expect(l.builtins.filter((b) => b === 'https' || b === 'tls')).toEqual([]);
  });

  test('/images loads no publishing; /common loads no command', () => {
    const images = loadedBy('@nx-fnbuild/core/images');
    expect(ours(images, 'images').length).toBeGreaterThan(0);
    expect(ours(images, 'publish')).toEqual([]);
    const common = loadedBy('@nx-fnbuild/core/common');
    for (const folder of ['binaries', 'images', 'registry', 'publish', 'plan']) expect(ours(common, folder)).toEqual([]);
  });

  test('the index exports every name the entries do', () => {
    const names = (specifier: string): string[] => Object.keys(require(specifier) as object);
    const index = new Set(names('@nx-fnbuild/core'));
    for (const entry of ['binaries', 'images', 'publish', 'common']) {
      const missing = names(`@nx-fnbuild/core/${entry}`).filter((n) => !index.has(n));
      expect({ entry, missing }).toEqual({ entry, missing: [] });
    }
  });

  test('yaml is loaded by the first func.yaml parse, not before', () => {
    const script = `
      const { parseFuncYaml } = require('@nx-fnbuild/core');
      const yamlLoaded = () => Object.keys(require.cache).some((f) => f.replaceAll('\\\\', '/').includes('/node_modules/yaml/'));
      const before = yamlLoaded();
      const f = parseFuncYaml('schema_version: 20180708\\nname: hello\\n', 'func.yaml');
      process.stdout.write(JSON.stringify({ before, after: yamlLoaded(), name: f.data.name }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: __dirname, encoding: 'utf8' })) as unknown;
    expect(out).toEqual({ before: false, after: true, name: 'hello' });
  });
});
