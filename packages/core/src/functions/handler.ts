import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { validatedMemo } from '../cache/memo';
import { parseGoHead } from '../go/source';
import type { Store } from '../cache/store';
import type { Node } from '../graph/node';
import type { Toolchain } from '../go/toolchain';
import { run } from '../process/run';
import { FnbuildError } from '../util/errors';
import { keyOf } from '../util/hash';

/** What a function project's entrypoint can serve, as the error for a wrong one says. */
export const ACCEPTED_SIGNATURES = ['func Name(w http.ResponseWriter, r *http.Request)', 'var Name http.HandlerFunc'];

/** An exported function or variable of the package, as `go doc -short` prints it. */
export interface Declaration {
  name: string;
  kind: 'func' | 'var';
  /** The declaration's line, e.g. "func Hello(w http.ResponseWriter, r *http.Request)". */
  text: string;
  /** Whether it has one of the accepted signatures. */
  handler: boolean;
}

/** Splits a parameter list at its top-level commas. */
function splitTop(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of list) {
    if ('([{'.includes(c)) depth++;
    if (')]}'.includes(c)) depth--;
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** The parameter types of a Go parameter list, names dropped ("a, b int" → ["int", "int"]). */
export function parameterTypes(list: string): string[] {
  const parts = splitTop(list);
  const named = parts.some((p) => /^[A-Za-z_][A-Za-z0-9_]*\s+\S/.test(p));
  if (!named) return parts.map((p) => p.replace(/\s+/g, ' '));
  const types: string[] = [];
  let pending = 0;
  for (const p of parts) {
    const m = /^[A-Za-z_][A-Za-z0-9_]*\s+(.+)$/.exec(p);
    if (!m) {
      pending++;
      continue;
    }
    const t = m[1].replace(/\s+/g, ' ');
    for (; pending > 0; pending--) types.push(t);
    types.push(t);
  }
  return types;
}

/** Parses one `go doc -short` line; undefined for types, consts and methods. */
export function parseDeclaration(line: string): Declaration | undefined {
  const fn = /^func ([A-Z][A-Za-z0-9_]*)\((.*)\)\s*(.*)$/.exec(line);
  if (fn) {
    const [, name, params, results] = fn;
    const types = parameterTypes(params);
    const handler =
      results.trim() === '' && types.length === 2 && /^[A-Za-z_]\w*\.ResponseWriter$/.test(types[0]) && /^\*[A-Za-z_]\w*\.Request$/.test(types[1]);
    return { name, kind: 'func', text: line, handler };
  }
  const v = /^var ([A-Z][A-Za-z0-9_]*)\b(.*)$/.exec(line);
  if (v) return { name: v[1], kind: 'var', text: line, handler: /^\s*(=\s*)?[A-Za-z_]\w*\.HandlerFunc\b/.test(v[2]) };
  return undefined;
}

/** A function project's package: what go list and go doc say of it. */
export interface FunctionPackage {
  importPath: string;
  name: string;
  imports: string[];
  declarations: Declaration[];
}

/**
 * function-package(dir): the package in `dir` and its exported functions and variables
 * (`go list -find`, `go doc`), reused while the package's files are unchanged. No cache key:
 * its validity is those files, which the memo checks; the id makes it once per build.
 */
export function functionPackageNode(tc: Toolchain, store: Store, dir: string): Node<FunctionPackage> {
  return {
    kind: 'function-package',
    id: `function-package ${dir}`,
    label: `function ${dir}`,
    run: async (_scratch, signal) => ({ data: await readFunctionPackage(tc, store, dir, signal) }),
  };
}

async function readFunctionPackage(tc: Toolchain, store: Store, dir: string, signal?: AbortSignal): Promise<FunctionPackage> {
  const key = keyOf({ kind: 'function-package', v: 2, go: tc.version, dir, flags: tc.env.GOFLAGS ?? '' });
  const { value } = await validatedMemo(store, key, async () => {
    // Both read only the package's own files: run them side by side.
    const [list, doc] = await Promise.all([
      run(tc.go, ['list', '-find', '-json=ImportPath,Name,GoFiles', '.'], { cwd: dir, env: tc.processEnv, signal }),
      run(tc.go, ['doc', '-short', '.'], { cwd: dir, env: tc.processEnv, signal }),
    ]);
    if (list.exitCode !== 0)
      throw new FnbuildError(
        `cannot read the Go package in ${dir}:\n${list.stderr.trim()}`,
        'A function project is a folder holding a Go package that exports the function.',
      );
    const pkg = JSON.parse(list.stdout) as { ImportPath: string; Name: string; GoFiles?: string[] };
    if (pkg.Name === 'main') {
      throw new FnbuildError(
        `${dir} is a main package, which cannot be imported: a function lives in a package of its own`,
        'Rename its package clause (e.g. "package hello"), or build it as a main package without functionName.',
      );
    }
    if (doc.exitCode !== 0) throw new FnbuildError(`go doc failed in ${dir}:\n${doc.stderr.trim()}`);
    const declarations = doc.stdout
      .split('\n')
      .map(parseDeclaration)
      .filter((d): d is Declaration => !!d);
    // go list -find does not resolve imports: the files' heads say what they import.
    const heads = await Promise.all((pkg.GoFiles ?? []).map(async (f) => parseGoHead(await fs.readFile(join(dir, f), 'utf8'))));
    const imports = [...new Set(heads.flatMap((h) => h.imports))].sort();
    return { value: { importPath: pkg.ImportPath, name: pkg.Name, imports, declarations }, dirs: [{ dir, filesOnly: true as const }] };
  });
  return value;
}

/** Checks that `name` is an exported handler of the package; the error lists the handlers there are and the accepted signatures. */
export function checkHandler(decls: Declaration[], name: string, dir: string): Declaration {
  const d = decls.find((x) => x.name === name);
  const handlers = decls.filter((x) => x.handler).map((x) => x.name);
  const there = handlers.length ? ` Handlers in this package: ${handlers.join(', ')}.` : ' This package exports no handler.';
  const accepted = `Accepted signatures: ${ACCEPTED_SIGNATURES.join('; ')}.`;
  if (!d) {
    const hint = /^[a-z]/.test(name) ? ` "${name}" is not exported: a function's name starts with an upper-case letter.` : '';
    throw new FnbuildError(`function "${name}" not found in ${dir}.${hint}${there}`, `${accepted} Set functionName (or FUNC_NAME) to one of them.`);
  }
  if (!d.handler) throw new FnbuildError(`function "${name}" in ${dir} has the wrong signature: ${d.text}`, `${accepted}${there}`);
  return d;
}

/** The one handler a package exports, for a func.yaml project that does not name its function. */
export function soleHandler(decls: Declaration[], dir: string): string {
  const handlers = decls.filter((x) => x.handler).map((x) => x.name);
  if (handlers.length === 1) return handlers[0];
  throw new FnbuildError(
    handlers.length ? `${dir} exports several handlers (${handlers.join(', ')}): which one is the function?` : `${dir} exports no HTTP handler to serve`,
    `Name it with the functionName option (or FUNC_NAME). Accepted signatures: ${ACCEPTED_SIGNATURES.join('; ')}.`,
  );
}
