import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../cache/store';
import { FnbuildError } from '../util/errors';
import { writeFileAtomic } from '../util/fs-atomic';
import { sha256, sha256Hex } from '../util/hash';
import { FRAMEWORK_TEMPLATE, HEAD_TEMPLATE, HTTP_TEMPLATE } from './entrypoint-template';

/** The folder, inside the function's package, where go sees the generated main package; it exists only in the overlay. */
export const ENTRY_DIR = '_fnbuild_main';

export const FRAMEWORK_MODULE = 'github.com/OpenFunction/functions-framework-go';

export interface EntrypointSpec {
  /** The Go function (or HandlerFunc variable) served. */
  functionName: string;
  /** Import path of the function's package. */
  importPath: string;
  /** What the server logs as the function's name and version when FUNC_CONTEXT has none. */
  name: string;
  version: string;
  /** Paths served besides "/" (func.yaml's http triggers). */
  patterns: string[];
  /** The function registers itself with OpenFunction's functions-framework-go: let the framework serve it. */
  framework: boolean;
}

const q = (s: string) => JSON.stringify(s); // a JSON string is a valid Go interpreted string literal

/** The generated main package: an HTTP server for the function, or the OpenFunction framework's main. */
export function entrypointSource(spec: EntrypointSpec): string {
  const values: Record<string, string> = {
    FUNCTION: spec.functionName,
    IMPORT_PATH_RAW: spec.importPath,
    IMPORT_PATH: q(spec.importPath),
    FUNCTION_STRING: q(spec.functionName),
    NAME_STRING: q(spec.name),
    VERSION_STRING: q(spec.version),
    PATTERNS: spec.patterns.map(q).join(', '),
    FRAMEWORK_MODULE,
  };
  const template = HEAD_TEMPLATE + (spec.framework ? FRAMEWORK_TEMPLATE : HTTP_TEMPLATE);
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_whole, name: string) => values[name]);
}

/** A generated entrypoint as go sees it: through -overlay, at a folder that is never written. */
export interface Entrypoint {
  /** The folder go builds ("<package>/_fnbuild_main"); it exists only in the overlay. */
  dir: string;
  /** The overlay file to pass as -overlay. */
  overlay: string;
  /** Digest of the generated source: part of every key that depends on it. */
  digest: string;
  source: string;
}

/**
 * Writes the entrypoint into the store (never into the user's tree) with an overlay that
 * shows it to go at `<packageDir>/_fnbuild_main/main.go`, so it builds inside the user's
 * module: the same go.mod, go.sum, module cache and keys as any target.
 */
export async function writeEntrypoint(store: Store, packageDir: string, spec: EntrypointSpec): Promise<Entrypoint> {
  const dir = join(packageDir, ENTRY_DIR);
  if (await fs.stat(dir).catch(() => undefined)) {
    throw new FnbuildError(
      `${dir} exists: nx-fnbuild shows the function's generated entrypoint to go at that path`,
      `Rename or remove the ${ENTRY_DIR} folder.`,
    );
  }
  const source = entrypointSource(spec);
  const digest = sha256(source);
  const home = join(store.root, 'entrypoints', sha256Hex(`${dir}\n${source}`).slice(0, 32));
  const main = join(home, 'main.go');
  const overlay = join(home, 'overlay.json');
  if (await fs.stat(overlay).catch(() => undefined)) {
    const now = new Date();
    await fs.utimes(overlay, now, now).catch(() => undefined); // in use: kept by the prune
  } else {
    await writeFileAtomic(main, source);
    await writeFileAtomic(overlay, JSON.stringify({ Replace: { [join(dir, 'main.go')]: main } }) + '\n');
  }
  return { dir, overlay, digest, source };
}
