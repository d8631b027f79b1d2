/**
 * What a user sees when something is wrong: a compile error points at file:line and says
 * which target and platform failed; a bad option names the option, the value and what is
 * valid, before any go command runs.
 */
import { promises as fs } from 'node:fs';
import { expectFailure, expectSuccess } from './harness/assert';
import { readArtifacts, runBinary, VERSION, Workspace } from './harness/workspace';

const PLATFORMS = ['linux/amd64', 'linux/arm64'];

let ws: Workspace;

beforeAll(async () => {
  ws = await Workspace.create();
}, 5 * 60_000);

afterAll(async () => {
  await ws?.dispose();
});

const build = (...args: string[]) => ws.nx(['run', 'demo:build-binaries', '--skip-nx-cache', `--platforms=${PLATFORMS.join(',')}`, ...args]);

describe('a syntax error in cmd/server/main.go', () => {
  const file = 'cmd/server/main.go';
  let original: string;
  let line: number;

  beforeAll(async () => {
    expectSuccess(await build(), 'the build before the error');
    original = await fs.readFile(ws.projectPath(file), 'utf8');
    line = original.split('\n').indexOf('\tflag.Parse()') + 1;
    expect(line).toBeGreaterThan(0);
  }, 5 * 60_000);

  afterAll(async () => {
    await fs.writeFile(ws.projectPath(file), original);
  });

  test(
    'fails the nx run with file:line, the target and every platform; the client is still built',
    async () => {
      await ws.edit(file, (s) => s.replace('\tflag.Parse()\n', '\tflag.Parse())\n'));
      const r = await build();
      expectFailure(r, 'the build with a syntax error');
      expect(r.output).toContain(`${file}:${line}:14: syntax error`);
      expect(r.output).not.toContain(ws.projectPath(file)); // paths relative to the module, like the compiler's own
      for (const p of PLATFORMS) expect(r.output).toContain(`server (./cmd/server) for ${p}:`);
      expect(r.output).toContain('2 of 4 builds failed');
      expect(r.output).toContain('Running target build-binaries for project demo failed');

      // One target failing does not stop the other: the client binaries are there and listed.
      const artifacts = await readArtifacts(ws.projectPath('bin'));
      expect(artifacts.map((a) => `${a.name} ${a.platform}`).sort()).toEqual(PLATFORMS.map((p) => `client ${p}`));
      expect(await runBinary(ws.projectPath('bin/linux_amd64/client'), ['-version'])).toBe(`client ${VERSION}\n`);
    },
    5 * 60_000,
  );

  test(
    'a failure is not cached: building the same broken source again runs go build again',
    async () => {
      await ws.goLog.reset();
      const r = await build();
      expectFailure(r, 'the second build with the syntax error');
      expect(await ws.goLog.buildSet()).toEqual(PLATFORMS.map((p) => `./cmd/server ${p}`));
      expect(r.output).toContain(`${file}:${line}:14: syntax error`);
    },
    5 * 60_000,
  );

  test(
    'once fixed, the build succeeds (the source as it was before, so from the cache)',
    async () => {
      await fs.writeFile(ws.projectPath(file), original);
      await ws.goLog.reset();
      const r = await build();
      expectSuccess(r, 'the build after the fix');
      expect(await ws.goLog.builds()).toEqual([]);
      const artifacts = await readArtifacts(ws.projectPath('bin'));
      expect(artifacts.map((a) => `${a.name} ${a.platform}`).sort()).toEqual([...PLATFORMS.map((p) => `client ${p}`), ...PLATFORMS.map((p) => `server ${p}`)]);
      expect(await runBinary(ws.projectPath('bin/linux_amd64/server'), ['-version'])).toBe(`server ${VERSION}\n`);
    },
    5 * 60_000,
  );
});

describe('a bad option fails before any go command, naming the option, the value and what is valid', () => {
  beforeEach(() => ws.goLog.reset());

  test(
    '--platforms=linux/arm/v9',
    async () => {
      const r = await ws.nx(['run', 'demo:build-binaries', '--skip-nx-cache', '--platforms=linux/arm/v9']);
      expectFailure(r);
      expect(r.output).toMatch(/"platforms\[0\]" \(got "linux\/arm\/v9"\): .*valid arm variants are v5, v6, v7/);
      expect(await ws.goLog.calls()).toEqual([]);
    },
    2 * 60_000,
  );

  test(
    '--parallelism=0',
    async () => {
      const r = await ws.nx(['run', 'demo:build-binaries', '--skip-nx-cache', '--parallelism=0']);
      expectFailure(r);
      expect(r.output).toMatch(/"parallelism" \(got 0\): .*(greater than or equal to|>=) ?1/);
      expect(await ws.goLog.calls()).toEqual([]);
    },
    2 * 60_000,
  );

  test(
    'fnbuild build-binaries --parallelism 0 (the CLI, without Nx)',
    async () => {
      const r = await ws.fnbuild(['build-binaries', '--project', ws.project, '--parallelism', '0']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/^error: invalid build-binaries options:\n {2}option "parallelism" \(got "0"\): .*(greater than or equal to|>=) ?1/);
      expect(await ws.goLog.calls()).toEqual([]);
    },
    2 * 60_000,
  );

  test(
    'a platform this Go cannot build for (plan9/arm64) lists the ones it can',
    async () => {
      const r = await ws.nx(['run', 'demo:build-binaries', '--skip-nx-cache', '--platforms=plan9/arm64']);
      expectFailure(r);
      expect(r.output).toMatch(/platform "plan9\/arm64" is not one this Go toolchain supports.*plan9\/386, plan9\/amd64, plan9\/arm\b/);
      expect(await ws.goLog.builds()).toEqual([]);
    },
    2 * 60_000,
  );
});
