import { formatFiles, logger, type Tree } from '@nx/devkit';
import { createModule, normalizeDirectory, packageNameFor, placementFor } from '../go-layout';
import { initGenerator } from '../init/generator';

export interface LibraryOptions {
  directory: string;
  module?: string;
  skipFormat?: boolean;
}

/** A Go package: a module of its own (joining the go.work around it), or a package of the module around it. */
export async function libraryGenerator(tree: Tree, options: LibraryOptions): Promise<void> {
  const dir = normalizeDirectory(options.directory);
  const place = placementFor(tree, dir);
  const pkg = packageNameFor(dir);
  if (place.module && options.module) throw new Error(`--module only applies to a new module; ${dir} is a package of ${place.module.path}`);
  const modulePath = place.module ? undefined : await createModule(tree, place, options.module);
  const file = `${dir}/${pkg}.go`;
  if (tree.exists(file)) throw new Error(`${file} already exists`);
  tree.write(
    file,
    `// Package ${pkg} is a Go library.
package ${pkg}

// Greeting is what ${pkg} says to name.
func Greeting(name string) string {
	return "hello, " + name
}
`,
  );
  tree.write(
    `${dir}/${pkg}_test.go`,
    `package ${pkg}

import "testing"

func TestGreeting(t *testing.T) {
	if got := Greeting("gopher"); got != "hello, gopher" {
		t.Errorf("Greeting(gopher) = %q", got)
	}
}
`,
  );
  await initGenerator(tree, { skipFormat: true });
  if (!options.skipFormat) await formatFiles(tree);
  const importPath = place.module ? `${place.module.path}/${dir.slice(place.module.dir === '.' ? 0 : place.module.dir.length + 1)}` : modulePath;
  logger.info(`nx-fnbuild: import "${importPath}"${place.module ? ` (a package of the module at ${place.module.dir})` : ''}`);
}

export default libraryGenerator;
