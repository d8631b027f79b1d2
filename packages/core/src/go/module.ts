import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pureMemo } from '../cache/pure-memo';
import type { Store } from '../cache/store';
import { runOk } from '../process/run';
import { FnbuildError } from '../util/errors';
import { keyOf } from '../util/hash';
import type { Toolchain } from './toolchain';

/** The Go module a project lives in, and every file that decides its build list. */
export interface GoModule {
  /** Module path, e.g. example.com/hello. */
  path: string;
  /** Directory holding go.mod. */
  dir: string;
  /** go.work in effect, if any. */
  workFile?: string;
  /**
   * go.mod/go.sum of this module, of every module the go.work uses and every module a
   * local replace points at, plus go.work and go.work.sum: the inputs of modules(M).
   */
  buildListFiles: string[];
}

interface ModFileJson {
  Module?: { Path: string };
  Go?: string;
  Toolchain?: string;
  Replace?: { Old: { Path: string }; New: { Path: string; Version?: string } }[] | null;
}

interface WorkFileJson {
  Use?: { DiskPath: string }[] | null;
  Replace?: ModFileJson['Replace'];
}

const isLocalPath = (p: string) => p.startsWith('./') || p.startsWith('../') || isAbsolute(p);

/** `go mod edit -json FILE` / `go work edit -json FILE`, memoized by the file's digest. */
async function editJson<T>(tc: Toolchain, store: Store, verb: 'mod' | 'work', file: string): Promise<T> {
  const digest = (await store.statMemo.digest(file))?.digest ?? null;
  const key = keyOf({ kind: `${verb}-edit`, v: 1, go: tc.version, file, digest });
  return pureMemo(store, key, async () => JSON.parse(await runOk(tc.go, [verb, 'edit', '-json', file], { cwd: dirname(file), env: tc.processEnv })) as T);
}

/** Reads module facts through the go command (`go mod edit -json`, `go work edit -json`), never by parsing. */
export async function loadModule(tc: Toolchain, store: Store, projectDir: string): Promise<GoModule> {
  const gomod = tc.env.GOMOD ?? '';
  if (!gomod || gomod === '/dev/null' || gomod === 'NUL') {
    throw new FnbuildError(`no go.mod found in ${projectDir} or any folder above it`, 'Create one with `go mod init <module path>` in the module root.');
  }
  const dir = dirname(gomod);
  const modJson = await editJson<ModFileJson>(tc, store, 'mod', gomod);
  const files = new Set<string>();
  const addModule = (moduleDir: string, withSum: boolean) => {
    files.add(join(moduleDir, 'go.mod'));
    if (withSum) files.add(join(moduleDir, 'go.sum'));
  };
  addModule(dir, true);
  for (const r of modJson.Replace ?? []) if (isLocalPath(r.New.Path)) addModule(resolve(dir, r.New.Path), false);

  const gowork = tc.env.GOWORK ?? '';
  let workFile: string | undefined;
  if (gowork && gowork !== 'off') {
    workFile = gowork;
    const workDir = dirname(gowork);
    const work = await editJson<WorkFileJson>(tc, store, 'work', gowork);
    files.add(gowork);
    files.add(`${gowork}.sum`);
    for (const u of work.Use ?? []) addModule(resolve(workDir, u.DiskPath), true);
    for (const r of work.Replace ?? []) if (isLocalPath(r.New.Path)) addModule(resolve(workDir, r.New.Path), false);
  }
  const path = modJson.Module?.Path;
  if (!path) throw new FnbuildError(`${gomod} has no module line`, 'Add `module <path>` at its top (see `go help mod init`).');
  // Missing optional files (no go.sum yet) still count: their absence is part of the key.
  return { path, dir, workFile, buildListFiles: [...files].sort() };
}
