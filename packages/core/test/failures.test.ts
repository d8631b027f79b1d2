/**
 * What the user sees when things go wrong, with the real go command (or a fake one that
 * pretends to be old).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildFailedError } from '../src/binaries/build-binaries';
import { CompileError } from '../src/binaries/compile';
import { PlatformError } from '../src/platform/platform';
import { FnbuildError } from '../src/util/errors';
import { realGo, removeDir, tempDir } from '../../../testkit';
import { build, copyFixture, HOST, HOST_FOLDER, makeExecutable, testEnv } from './fixtures/helpers';

jest.setTimeout(300_000);

let tmp: string;
beforeEach(() => {
  tmp = tempDir('fail');
});
afterEach(() => removeDir(tmp));

async function failureOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the build to fail');
}

test('a syntax error in one target: BuildFailedError names target, platform and main.go:<line>:, and the other target is still built', async () => {
  const project = copyFixture('multi', tmp);
  const main = join(project, 'cmd', 'client', 'main.go');
  const lines = readFileSync(main, 'utf8').split('\n');
  const brokenLine = lines.findIndex((l) => l.includes('fmt.Println')) + 1;
  lines[brokenLine - 1] = '\tfmt.Println("client:", greeting.Text(}';
  writeFileSync(main, lines.join('\n'));

  const err = await failureOf(
    build({ workspaceRoot: tmp, projectRoot: project, options: { cacheDir: join(tmp, 'cache'), platforms: [HOST] }, env: testEnv({}) }),
  );
  expect(err).toBeInstanceOf(BuildFailedError);
  expect(err.message.startsWith(`1 of 2 builds failed:\n  ✖ client (./cmd/client) for ${HOST}:\n`)).toBe(true);
  expect(err.message).toContain(`cmd/client/main.go:${brokenLine}:`);
  expect(err.message).not.toContain(project); // paths are relative to the module, like compiler output
  const failures = (err as BuildFailedError).failures;
  expect(failures).toHaveLength(1);
  expect(failures[0]).toBeInstanceOf(CompileError);

  // Failure isolation: the server binary exists, the client's does not, artifacts.json lists the server only.
  expect(existsSync(join(project, 'bin', HOST_FOLDER, 'server'))).toBe(true);
  expect(existsSync(join(project, 'bin', HOST_FOLDER, 'client'))).toBe(false);
  const listed = JSON.parse(readFileSync(join(project, 'bin', 'artifacts.json'), 'utf8')) as { name: string }[];
  expect(listed.map((a) => a.name)).toEqual(['server']);
});

test('an import that resolves nowhere is reported from go list with file:line relative to the module', async () => {
  const project = copyFixture('multi', tmp);
  const main = join(project, 'cmd', 'client', 'main.go');
  const lines = readFileSync(main, 'utf8').split('\n');
  const importLine = lines.findIndex((l) => l.startsWith('import (')) + 2;
  lines.splice(importLine - 1, 0, '\t_ "example.com/multi/internal/nowhere"');
  writeFileSync(main, lines.join('\n'));

  const err = await failureOf(
    build({
      workspaceRoot: tmp,
      projectRoot: project,
      options: { cacheDir: join(tmp, 'cache'), platforms: [HOST], targets: ['./cmd/client'] },
      env: testEnv({}),
    }),
  );
  expect(err).toBeInstanceOf(BuildFailedError);
  expect(err.message).toMatch(new RegExp(`cmd/client/main\\.go:${importLine}:\\d+: .*internal/nowhere`));
  expect(err.message).not.toContain(project);
});

test('a syntax error is not cached: after the fix the target builds', async () => {
  const project = copyFixture('multi', tmp);
  const main = join(project, 'cmd', 'client', 'main.go');
  const good = readFileSync(main, 'utf8');
  writeFileSync(main, good.replace('func main() {', 'func main() {\n\tx :='));
  const opts = {
    workspaceRoot: tmp,
    projectRoot: project,
    options: { cacheDir: join(tmp, 'cache'), platforms: [HOST], targets: ['./cmd/client'] },
    env: testEnv({}),
  };
  expect(await failureOf(build(opts))).toBeInstanceOf(BuildFailedError);
  writeFileSync(main, good);
  const r = await build(opts);
  expect(r.artifacts.map((a) => [a.name, a.cached])).toEqual([['client', false]]);
});

test('a platform Go does not know: PlatformError naming the valid ones for that os', async () => {
  const project = copyFixture('root-main', tmp);
  const err = await failureOf(
    build({ workspaceRoot: tmp, projectRoot: project, options: { cacheDir: join(tmp, 'cache'), platforms: ['linux/foo'] }, env: testEnv({}) }),
  );
  expect(err).toBeInstanceOf(PlatformError);
  expect(err.name).toBe('PlatformError');
  expect(err.message.startsWith('platform "linux/foo" is not one this Go toolchain supports (go tool dist list); for os linux: ')).toBe(true);
  expect(err.message).toContain('linux/386, linux/amd64, linux/arm, linux/arm64');
  expect(existsSync(join(project, 'bin'))).toBe(false);
});

test('no go.mod: FnbuildError pointing at go mod init', async () => {
  const project = join(tmp, 'nomod');
  mkdirSync(project);
  writeFileSync(join(project, 'main.go'), 'package main\n\nfunc main() {}\n');
  const err = await failureOf(build({ workspaceRoot: tmp, projectRoot: project, options: { cacheDir: join(tmp, 'cache') }, env: testEnv({}) }));
  expect(err).toBeInstanceOf(FnbuildError);
  expect(err.message).toBe(`no go.mod found in ${project} or any folder above it\n  Create one with \`go mod init <module path>\` in the module root.`);
});

test('GO pointing at a missing file: a clear error naming it', async () => {
  const project = copyFixture('root-main', tmp);
  const missing = join(tmp, 'nowhere', 'go');
  const err = await failureOf(build({ workspaceRoot: tmp, projectRoot: project, options: { cacheDir: join(tmp, 'cache') }, env: testEnv({ GO: missing }) }));
  expect(err).toBeInstanceOf(FnbuildError);
  expect(err.message).toBe(
    `GO=${missing} is not an executable file\n  Point GO at the go command (e.g. /usr/local/go/bin/go) or unset it to use the one on PATH.`,
  );
});

test('GO pointing at a file that is not executable: the same clear error', async () => {
  const project = copyFixture('root-main', tmp);
  const notExec = join(tmp, 'go');
  writeFileSync(notExec, '#!/bin/sh\n', { mode: 0o644 });
  const err = await failureOf(build({ workspaceRoot: tmp, projectRoot: project, options: { cacheDir: join(tmp, 'cache') }, env: testEnv({ GO: notExec }) }));
  // root may execute anything, but X_OK still requires an execute bit somewhere.
  expect(err.message.split('\n')[0]).toBe(`GO=${notExec} is not an executable file`);
});

test('no go on PATH and no GO: says so and how to fix it', async () => {
  const project = copyFixture('root-main', tmp);
  const emptyBin = join(tmp, 'empty-bin');
  mkdirSync(emptyBin);
  const err = await failureOf(build({ workspaceRoot: tmp, projectRoot: project, options: { cacheDir: join(tmp, 'cache') }, env: testEnv({ PATH: emptyBin }) }));
  expect(err).toBeInstanceOf(FnbuildError);
  expect(err.message).toBe(
    `Go toolchain not found: no "go" on PATH (${emptyBin})\n  Install Go 1.21 or newer (https://go.dev/dl) and put it on PATH, or set GO=/path/to/go.`,
  );
});

test('a go older than 1.21: "found go1.20.1 ... needs Go 1.21 or newer"', async () => {
  const project = copyFixture('root-main', tmp);
  const fake = makeExecutable(
    join(tmp, 'old-go'),
    [
      '#!/bin/sh',
      'case "$1" in',
      `  env) echo '{"GOVERSION":"go1.20.1","GOOS":"linux","GOARCH":"amd64","GOMOD":"${join(project, 'go.mod')}","GOROOT":"/opt/go1.20"}' ;;`,
      '  version) echo "go version go1.20.1 linux/amd64" ;;',
      '  *) echo "unexpected: $*" >&2; exit 2 ;;',
      'esac',
      '',
    ].join('\n'),
  );
  const err = await failureOf(build({ workspaceRoot: tmp, projectRoot: project, options: { cacheDir: join(tmp, 'cache') }, env: testEnv({ GO: fake }) }));
  expect(err).toBeInstanceOf(FnbuildError);
  expect(err.message).toBe(`found go1.20.1 at ${fake}, but nx-fnbuild needs Go 1.21 or newer\n  Install a newer Go (https://go.dev/dl) or point GO at one.`);
});

test('a GO that is not the go command: says so', async () => {
  const project = copyFixture('root-main', tmp);
  const fake = makeExecutable(join(tmp, 'not-go'), '#!/bin/sh\necho "hello, I am not go"\n');
  const err = await failureOf(build({ workspaceRoot: tmp, projectRoot: project, options: { cacheDir: join(tmp, 'cache') }, env: testEnv({ GO: fake }) }));
  expect(err).toBeInstanceOf(FnbuildError);
  expect(err.message).toBe(`${fake} env -json printed something that is not JSON; is ${fake} really the go command?`);
});

test('invalid options fail before go is even looked for', async () => {
  const project = copyFixture('root-main', tmp);
  const err = await failureOf(
    build({ workspaceRoot: tmp, projectRoot: project, options: { platforms: ['linux/arm/v9'], parallelism: 0 }, env: testEnv({ GO: join(tmp, 'nowhere') }) }),
  );
  expect(err).toBeInstanceOf(FnbuildError);
  expect(err.message.split('\n').slice(0, 2)).toEqual([
    'invalid build-binaries options:',
    '  option "platforms[0]" (got "linux/arm/v9"): platform "linux/arm/v9" is not one Go supports: valid arm variants are v5, v6, v7',
  ]);
});

test('a target folder that does not exist', async () => {
  const project = copyFixture('multi', tmp);
  const err = await failureOf(
    build({ workspaceRoot: tmp, projectRoot: project, options: { cacheDir: join(tmp, 'cache'), targets: ['./cmd/nope'] }, env: testEnv({ GO: realGo() }) }),
  );
  expect(err).toBeInstanceOf(FnbuildError);
  expect(err.message.split('\n')[0]).toBe(`target "./cmd/nope": no such folder ${join(project, 'cmd', 'nope')}`);
});
