/**
 * nx run demo:build-binaries from the packed plugin: five platforms, what lands on disk, and
 * that building again with nothing changed builds and writes nothing.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { expectSuccess } from './harness/assert';
import { fileStates, filesUnder, fileType, readArtifacts, runBinary, sha256Of, VERSION, Workspace } from './harness/workspace';

const PLATFORMS = [
  { platform: 'linux/amd64', folder: 'linux_amd64', exe: '', goos: 'linux', goarch: 'amd64', file: /^ELF 64-bit LSB executable, x86-64, .*statically linked/ },
  {
    platform: 'linux/arm64',
    folder: 'linux_arm64',
    exe: '',
    goos: 'linux',
    goarch: 'arm64',
    file: /^ELF 64-bit LSB executable, ARM aarch64, .*statically linked/,
  },
  {
    platform: 'linux/arm/v7',
    folder: 'linux_arm_v7',
    exe: '',
    goos: 'linux',
    goarch: 'arm',
    goarm: '7',
    file: /^ELF 32-bit LSB executable, ARM, EABI5 .*statically linked/,
  },
  { platform: 'darwin/arm64', folder: 'darwin_arm64', exe: '', goos: 'darwin', goarch: 'arm64', file: /^Mach-O 64-bit arm64 executable/ },
  { platform: 'windows/amd64', folder: 'windows_amd64', exe: '.exe', goos: 'windows', goarch: 'amd64', file: /^PE32\+ executable \(console\) x86-64/ },
];
const TARGETS = ['client', 'server'];
const BINARIES = PLATFORMS.flatMap((p) => TARGETS.map((t) => ({ ...p, target: t, rel: `${p.folder}/${t}${p.exe}` })));

let ws: Workspace;
const bin = (...rel: string[]) => ws.projectPath('bin', ...rel);

beforeAll(async () => {
  ws = await Workspace.create();
}, 5 * 60_000);

afterAll(async () => {
  await ws?.dispose();
});

/** `go version -m`: the build settings Go itself recorded in the binary. */
async function buildInfo(path: string): Promise<string[]> {
  return (await ws.go(['version', '-m', path])).stdout
    .split('\n')
    .map((l) => l.trim().split('\t').join(' '))
    .filter(Boolean);
}

test(
  'cross-compiles client and server for five platforms into bin/<os>_<arch>[_<variant>]/',
  async () => {
    // A cold build whatever ran before: no nx-fnbuild cache, Nx's cache skipped, only this build's go calls.
    await fs.rm(ws.env.NX_FNBUILD_CACHE_DIR!, { recursive: true, force: true });
    await ws.goLog.reset();
    const r = await ws.nx(['run', 'demo:build-binaries', '--skip-nx-cache']);
    expectSuccess(r, 'nx run demo:build-binaries');
    expect(r.output).toContain('Successfully ran target build-binaries for project demo');

    // Exactly these files: ten binaries and the manifest, no temp files left behind.
    expect(await filesUnder(bin())).toEqual([...BINARIES.map((b) => b.rel), 'artifacts.json'].sort());

    // One go build per target and platform, with the platform's GOOS/GOARCH/GOARM (from the logging wrapper).
    expect(await ws.goLog.buildSet()).toEqual(BINARIES.map((b) => `./cmd/${b.target} ${b.platform}`).sort());

    const goVersion = (await ws.go(['env', 'GOVERSION'])).stdout.trim();
    const artifacts = await readArtifacts(bin());
    expect(artifacts).toHaveLength(BINARIES.length);
    for (const b of BINARIES) {
      const path = bin(b.rel);
      const st = await fs.stat(path);
      expect([b.rel, st.mode & 0o777]).toEqual([b.rel, 0o755]);
      expect([b.rel, await fileType(path)]).toEqual([b.rel, expect.stringMatching(b.file)]);

      const info = await buildInfo(path);
      expect(info).toEqual(
        expect.arrayContaining([
          `path example.com/demo/cmd/${b.target}`,
          `build GOOS=${b.goos}`,
          `build GOARCH=${b.goarch}`,
          'build CGO_ENABLED=0',
          'build -trimpath=true',
          ...(b.goarm ? [`build GOARM=${b.goarm}`] : []),
        ]),
      );

      const entry = artifacts.find((a) => a.path === b.rel);
      expect(entry).toEqual({
        target: `./cmd/${b.target}`,
        name: b.target,
        importPath: `example.com/demo/cmd/${b.target}`,
        platform: b.platform,
        path: b.rel,
        sha256: await sha256Of(path),
        size: st.size,
        goVersion,
        cached: false,
      });
    }

    // The linux/amd64 binaries run here, with the version from the git tag injected by ldflags.
    expect(await runBinary(bin('linux_amd64/server'), ['-version'])).toBe(`server ${VERSION}\n`);
    expect(await runBinary(bin('linux_amd64/client'), ['-version'])).toBe(`client ${VERSION}\n`);
    expect(await runBinary(bin('linux_amd64/client'), ['-name', 'e2e'])).toBe('Hello, e2e!\n');
    expect(await runBinary(bin('linux_amd64/server'), ['-greet', 'e2e'])).toBe('Hello, e2e!\n');
  },
  10 * 60_000,
);

test(
  'building again with nothing changed runs no go build and writes no binary',
  async () => {
    expectSuccess(await ws.nx(['run', 'demo:build-binaries', '--skip-nx-cache']), 'the first build');
    const paths = BINARIES.map((b) => bin(b.rel));
    const before = await fileStates(paths);
    await ws.goLog.reset();

    // --skip-nx-cache: Nx runs the executor; only nx-fnbuild's own cache can make this a no-op.
    const r = await ws.nx(['run', 'demo:build-binaries', '--skip-nx-cache']);
    expectSuccess(r, 'the no-op build');
    expect(await ws.goLog.builds()).toEqual([]);
    expect(await ws.goLog.modDownloads()).toEqual([]);
    expect(r.output).toContain(`${BINARIES.length} binaries (0 built, ${BINARIES.length} cached)`);
    for (const b of BINARIES) expect(r.output).toMatch(new RegExp(`cached +compile ${b.target} ${b.platform.replace(/\//g, '\\/')} `));

    // Same bytes, same mtime, same inode: not rewritten, not even atomically replaced.
    expect(await fileStates(paths)).toEqual(before);
    const artifacts = await readArtifacts(bin());
    expect(artifacts.map((a) => [a.path, a.sha256, a.cached]).sort()).toEqual(BINARIES.map((b) => [b.rel, before[bin(b.rel)].sha256, true]).sort());
  },
  5 * 60_000,
);

test(
  'a no-op build starts no go process at all (go env, go list and git facts are memoized)',
  async () => {
    expectSuccess(await ws.nx(['run', 'demo:build-binaries', '--skip-nx-cache']), 'the first build');
    await ws.goLog.reset();
    expectSuccess(await ws.nx(['run', 'demo:build-binaries', '--skip-nx-cache']), 'the no-op build');
    expect((await ws.goLog.calls()).map((c) => c.args)).toEqual([]);
  },
  5 * 60_000,
);

test(
  'the Nx cache restores the binaries when nx-fnbuild is not even asked',
  async () => {
    expectSuccess(await ws.nx(['run', 'demo:build-binaries']), 'the first build');
    const before = await fileStates(BINARIES.map((b) => bin(b.rel)));
    await fs.rm(bin(), { recursive: true });
    await ws.goLog.reset();
    const r = await ws.nx(['run', 'demo:build-binaries']);
    expectSuccess(r, 'the cached build');
    expect(r.output).toContain('nx run demo:build-binaries  [local cache]');
    expect(r.output).toContain('Nx read the output from the cache instead of running the command for 1 out of 1 tasks');
    expect(await ws.goLog.calls()).toEqual([]);
    const after = await fileStates(BINARIES.map((b) => bin(b.rel)));
    for (const b of BINARIES) expect([b.rel, after[bin(b.rel)].sha256]).toEqual([b.rel, before[bin(b.rel)].sha256]);
    expect(await runBinary(join(bin(), 'linux_amd64', 'server'), ['-version'])).toBe(`server ${VERSION}\n`);
  },
  5 * 60_000,
);
