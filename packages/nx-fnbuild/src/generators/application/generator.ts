import { formatFiles, logger, type Tree } from '@nx/devkit';
import { createModule, normalizeDirectory, placementFor } from '../go-layout';
import { initGenerator } from '../init/generator';
import { mainGo, mainTestGo } from './files';

export interface ApplicationOptions {
  directory: string;
  module?: string;
  port?: number;
  skipFormat?: boolean;
}

/** A Go service: a main package with a `version` variable, in its own module or under an existing module's cmd/. */
export async function applicationGenerator(tree: Tree, options: ApplicationOptions): Promise<void> {
  const dir = normalizeDirectory(options.directory);
  const place = placementFor(tree, dir);
  if (place.module) {
    const cmd = place.module.dir === '.' ? 'cmd' : `${place.module.dir}/cmd`;
    if (!dir.startsWith(cmd + '/')) {
      throw new Error(
        `${dir} is inside the Go module ${place.module.path} (${place.module.dir === '.' ? '' : place.module.dir + '/'}go.mod): a command of that module belongs under ${cmd}/, ` +
          `e.g. \`nx g nx-fnbuild:application ${cmd}/${dir.split('/').pop()}\`; or pick a folder outside the module for a module of its own.`,
      );
    }
    if (options.module) throw new Error(`--module only applies to a new module; ${dir} joins ${place.module.path}`);
  } else {
    await createModule(tree, place, options.module);
  }
  const name = dir.split('/').pop()!;
  if (tree.exists(`${dir}/main.go`)) throw new Error(`${dir}/main.go already exists`);
  tree.write(`${dir}/main.go`, mainGo(name, options.port ?? 8080));
  tree.write(`${dir}/main_test.go`, mainTestGo(name));
  await initGenerator(tree, { skipFormat: true });
  if (!options.skipFormat) await formatFiles(tree);
  logger.info(`nx-fnbuild: ${dir} is a Go service: nx run ${name}:build-binaries, nx run ${name}:build-image`);
}

export default applicationGenerator;
