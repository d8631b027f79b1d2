import { formatFiles, logger, type Tree } from '@nx/devkit';
import { FUNC_YAML, parseFuncYaml } from '@nx-fnbuild/core';
import { createModule, normalizeDirectory, packageNameFor, placementFor } from '../go-layout';
import { initGenerator } from '../init/generator';
import { funcYaml, handlerGo, handlerTestGo } from './files';

export interface FunctionOptions {
  /** The function's name in func.yaml: the image name. */
  name: string;
  /** Its folder (default: the name). */
  directory?: string;
  /** The exported Go handler (default: Handle). */
  functionName?: string;
  module?: string;
  skipFormat?: boolean;
}

const GO_KEYWORDS = new Set(
  'break case chan const continue default defer else fallthrough for func go goto if import interface map package range return select struct switch type var'.split(
    ' ',
  ),
);

/** The function's Go package: named after its folder, never main (that would make it a command) nor a keyword. */
export function functionPackageName(dir: string): string {
  const pkg = packageNameFor(dir);
  return pkg === 'main' || GO_KEYWORDS.has(pkg) ? `${pkg}fn` : pkg;
}

/**
 * A Go function: a package exporting an HTTP handler, with a func.yaml naming its image, in
 * a module of its own (joining the go.work around it) or as a package of the module around it.
 */
export async function functionGenerator(tree: Tree, options: FunctionOptions): Promise<void> {
  const dir = normalizeDirectory(options.directory ?? options.name);
  const functionName = options.functionName ?? 'Handle';
  if (!/^[A-Z][A-Za-z0-9_]*$/.test(functionName))
    throw new Error(`functionName "${functionName}" must be an exported Go identifier (starting with an upper-case letter), e.g. Handle`);
  const yaml = funcYaml(options.name);
  try {
    parseFuncYaml(yaml, `${dir}/${FUNC_YAML}`);
  } catch (err) {
    throw new Error(`name "${options.name}" cannot name the function's image: ${(err as Error).message}`);
  }
  const place = placementFor(tree, dir);
  if (place.module && options.module) throw new Error(`--module only applies to a new module; ${dir} is a package of ${place.module.path}`);
  if (tree.exists(dir) && tree.children(dir).some((f) => f === FUNC_YAML || f.endsWith('.go')))
    throw new Error(`${dir} already holds Go code or a func.yaml: a function gets a folder of its own`);
  if (!place.module) await createModule(tree, place, options.module);
  const pkg = functionPackageName(dir);
  tree.write(`${dir}/${FUNC_YAML}`, yaml);
  tree.write(`${dir}/handler.go`, handlerGo(pkg, functionName));
  tree.write(`${dir}/handler_test.go`, handlerTestGo(pkg, functionName));
  await initGenerator(tree, { skipFormat: true });
  if (!options.skipFormat) await formatFiles(tree);
  const project = dir.split('/').pop()!;
  logger.info(`nx-fnbuild: ${dir} is a Go function (${functionName}): nx run ${project}:build-image builds the image ${options.name}:0.0.1`);
}

export default functionGenerator;
