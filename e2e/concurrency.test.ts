/**
 * Two builds at once on one cold nx-fnbuild cache: `nx run` and the core's CLI, into
 * different output folders. A barrier in the go wrapper holds each process's first
 * `go build` until the other has reached one too, so their builds really overlap.
 */
import { promises as fs } from 'node:fs';
import { expectSuccess } from './harness/assert';
import { fileStates, filesUnder, readArtifacts, runBinary, sha256Of, VERSION, Workspace, PROJECT } from './harness/workspace';

const PLATFORMS = ['linux/amd64', 'linux/arm64'];
const BINARIES = PLATFORMS.flatMap((p) => ['client', 'server'].map((t) => `${p.replace(/\//g, '_')}/${t}`)).sort();

let ws: Workspace;

beforeAll(async () => {
  ws = await Workspace.create();
}, 5 * 60_000);

afterAll(async () => {
  await ws?.dispose();
});

test('nx run and fnbuild build-binaries at once on a cold cache: both succeed with identical binaries, and the cache they wrote is whole', async () => {
  const cache = ws.path('.cold-cache');
  const env = { NX_FNBUILD_CACHE_DIR: cache, E2E_GO_BARRIER: ws.path('.e2e', 'barrier') };
  const [viaNx, viaCli] = await Promise.all([
    ws.nx(['run', 'demo:build-binaries', '--skip-nx-cache', `--platforms=${PLATFORMS.join(',')}`, '--parallelism=4'], env),
    ws.fnbuild(
      ['build-binaries', '--workspace-root', ws.root, '--project', PROJECT, '--platforms', PLATFORMS.join(','), '--ldflags=-X main.version={version}', '--parallelism', '4', '--output-path', 'out/cli'],
      env,
    ),
  ]);
  expectSuccess(viaNx, 'nx run');
  expectSuccess(viaCli, 'fnbuild build-binaries');

  // Both processes ran go build, and at least one target/platform was built by both at once.
  const builds = await ws.goLog.builds();
  const byCaller = new Map<string, Set<string>>();
  for (const b of builds) byCaller.set(b.ppid, (byCaller.get(b.ppid) ?? new Set()).add(`${b.pkg} ${b.platform}`));
  expect(byCaller.size).toBe(2);
  const [a, b] = [...byCaller.values()];
  expect([...a].filter((k) => b.has(k)).length).toBeGreaterThan(0);

  const nxOut = ws.projectPath('bin');
  const cliOut = ws.path('out', 'cli');
  expect(await filesUnder(nxOut)).toEqual([...BINARIES, 'artifacts.json'].sort());
  expect(await filesUnder(cliOut)).toEqual([...BINARIES, 'artifacts.json'].sort());
  for (const rel of BINARIES) {
    const [x, y] = [await sha256Of(`${nxOut}/${rel}`), await sha256Of(`${cliOut}/${rel}`)];
    expect([rel, x]).toEqual([rel, y]);
  }
  for (const out of [nxOut, cliOut]) {
    const listed = await readArtifacts(out);
    expect(listed.map((l) => l.path).sort()).toEqual(BINARIES);
    for (const l of listed) expect([l.path, l.sha256]).toEqual([l.path, await sha256Of(`${out}/${l.path}`)]);
    expect(await runBinary(`${out}/linux_amd64/server`, ['-version'])).toBe(`server ${VERSION}\n`);
    expect(await runBinary(`${out}/linux_amd64/client`, ['-name', 'e2e'])).toBe('Hello, e2e!\n');
  }

  // No scratch files left in the cache, and every entry the two wrote is usable: a third build builds nothing.
  expect(await fs.readdir(`${cache}/tmp`)).toEqual([]);
  const before = await fileStates(BINARIES.map((rel) => `${nxOut}/${rel}`));
  await ws.goLog.reset();
  expectSuccess(await ws.nx(['run', 'demo:build-binaries', '--skip-nx-cache', `--platforms=${PLATFORMS.join(',')}`], { NX_FNBUILD_CACHE_DIR: cache }), 'the third build');
  expect(await ws.goLog.builds()).toEqual([]);
  expect(await fileStates(BINARIES.map((rel) => `${nxOut}/${rel}`))).toEqual(before);
}, 10 * 60_000);
