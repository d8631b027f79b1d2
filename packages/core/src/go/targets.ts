import { type Dirent, promises as fs } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { validatedMemo } from '../cache/memo';
import type { Store } from '../cache/store';
import { run } from '../process/run';
import { FnbuildError } from '../util/errors';
import { keyOf } from '../util/hash';
import { parseJsonStream } from '../util/json-stream';
import type { GoModule } from './module';
import { patternFor } from './packages';
import type { Toolchain } from './toolchain';

/** A target as the user names it: a folder relative to the project, optionally a binary name. */
export interface TargetSpec {
  path: string;
  name?: string;
}

/** A main package to build and the name of its binary. */
export interface Target {
  /** Module-relative go list pattern: "./cmd/server", or "." for the module root. */
  pattern: string;
  dir: string;
  /** Binary name (without .exe): the folder's name unless overridden. */
  name: string;
  /** A function's generated main package, which go sees through an overlay (dir exists only there). */
  entry?: { overlay: string; digest: string };
}

/** `dir` and every folder below it that go would look for packages in (not ., _ or testdata ones). */
export async function packageDirsUnder(dir: string): Promise<string[]> {
  const st = await fs.stat(dir).catch(() => undefined);
  return st?.isDirectory() ? subdirs(dir) : [];
}

async function subdirs(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out = [dir];
  for (const e of entries) {
    if (e.isDirectory() && !e.name.startsWith('.') && !e.name.startsWith('_') && e.name !== 'testdata') out.push(...(await subdirs(join(dir, e.name))));
  }
  return out;
}

interface Found {
  Dir?: string;
  Name?: string;
  Error?: unknown;
}

/**
 * The project's targets: the given ones, or by default the project folder itself when it
 * is a main package, else every main package under its cmd/ (like `go build ./cmd/...`).
 */
export async function resolveTargets(
  tc: Toolchain,
  store: Store,
  module: GoModule,
  projectRoot: string,
  specs?: TargetSpec[],
  opts: { allowNone?: boolean } = {},
): Promise<Target[]> {
  if (specs?.length) {
    const seen = new Set<string>();
    return Promise.all(
      specs.map(async (s) => {
        const dir = resolve(projectRoot, s.path);
        const st = await fs.stat(dir).catch(() => undefined);
        if (!st?.isDirectory())
          throw new FnbuildError(`target "${s.path}": no such folder ${dir}`, 'Targets are package folders relative to the project root, e.g. "./cmd/server".');
        const name = s.name ?? basename(dir);
        if (seen.has(name)) throw new FnbuildError(`two targets would both be named "${name}"`, 'Give one of them a different "name".');
        seen.add(name);
        return { pattern: patternFor(module.dir, dir), dir, name };
      }),
    );
  }
  const key = keyOf({ kind: 'discover-targets', v: 2, projectRoot, go: tc.version, flags: tc.env.GOFLAGS ?? '' });
  const { value } = await validatedMemo(store, key, async () => {
    const r = await run(tc.go, ['list', '-e', '-find', '-json=Dir,Name,Error', '.', './cmd/...'], { cwd: projectRoot, env: tc.processEnv });
    if (r.exitCode !== 0) throw new FnbuildError(`go list failed in ${projectRoot}:\n${r.stderr.trim()}`);
    const mains = parseJsonStream<Found>(r.stdout)
      .filter((p) => p.Name === 'main' && p.Dir && !p.Error)
      .map((p) => p.Dir!);
    const root = mains.includes(projectRoot) ? [projectRoot] : mains.sort();
    // The project folder's own files decide whether it is a main package; cmd/'s whole tree which others exist.
    return { value: root, dirs: [{ dir: projectRoot, filesOnly: true as const }, ...(await subdirs(join(projectRoot, 'cmd')))] };
  });
  if (!value.length && !opts.allowNone) {
    throw new FnbuildError(
      `no main package in ${projectRoot} or under its cmd/ folder`,
      'Put a main package there, or list the packages to build with the "targets" option, e.g. ["./cmd/server"].',
    );
  }
  return value.map((dir) => ({ pattern: patternFor(module.dir, dir), dir, name: basename(dir) }));
}
