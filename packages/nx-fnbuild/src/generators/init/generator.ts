import { formatFiles, readNxJson, updateNxJson, type Tree } from '@nx/devkit';

export interface InitOptions {
  skipFormat?: boolean;
  keepExistingVersions?: boolean;
  updatePackageScripts?: boolean;
}

export const PLUGIN = 'nx-fnbuild';

/** What nx-fnbuild writes that never belongs in git: binaries, images, its build cache. */
export const IGNORED = ['bin/', 'dist/', '.fnbuild/'];

/** Registers the plugin (once, with its target names spelled out so they are easy to change). */
export function addPlugin(tree: Tree): boolean {
  const nxJson = readNxJson(tree) ?? {};
  const plugins = (nxJson.plugins ??= []);
  if (plugins.some((p) => (typeof p === 'string' ? p : p.plugin) === PLUGIN)) return false;
  plugins.push({
    plugin: PLUGIN,
    options: { buildBinariesTargetName: 'build-binaries', buildImageTargetName: 'build-image', pushTargetName: 'push', testTargetName: 'test' },
  });
  updateNxJson(tree, nxJson);
  return true;
}

/** Adds the missing entries of IGNORED to .gitignore (an entry written with or without the slashes counts). */
export function ignoreOutputs(tree: Tree): boolean {
  const text = tree.exists('.gitignore') ? (tree.read('.gitignore', 'utf8') ?? '') : '';
  const present = new Set(text.split(/\r?\n/).map((l) => l.trim().replace(/^\//, '').replace(/\/$/, '')));
  const missing = IGNORED.filter((entry) => !present.has(entry.replace(/\/$/, '')));
  if (!missing.length) return false;
  const sep = text === '' ? '' : text.endsWith('\n') ? '\n' : '\n\n';
  tree.write('.gitignore', `${text}${sep}# nx-fnbuild: binaries, images and the build cache\n${missing.join('\n')}\n`);
  return true;
}

/** `nx add nx-fnbuild` runs this: the plugin in nx.json, its outputs in .gitignore. Idempotent. */
export async function initGenerator(tree: Tree, options: InitOptions = {}): Promise<void> {
  addPlugin(tree);
  ignoreOutputs(tree);
  if (!options.skipFormat) await formatFiles(tree);
}

export default initGenerator;
