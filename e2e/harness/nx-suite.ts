/**
 * nx-fnbuild as an Nx plugin, in fresh workspaces from the packed tarballs, for one Nx
 * release: inferred projects and targets, the import graph, `nx affected` exactness, the
 * self-hosted remote cache across clones, `nx add` and the generators. The checks read
 * what Nx itself reports (show project, graph, affected, the cache server's requests) and
 * what the logging $GO saw, not what the plugin says about itself.
 */
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { realGo } from '../../testkit';
import { NxCacheServer } from './nx-cache-server';
import { NxWorkspace, type NxRelease } from './nx-workspace';
import { filesUnder, sha256Of } from './workspace';

const BUILD_ENV = [{ env: 'GOFLAGS' }, { env: 'GOEXPERIMENT' }, { env: 'GOFIPS140' }, { env: 'GOTOOLCHAIN' }, { env: 'GOWORK' }];
const GIT = { runtime: 'git describe --tags --always --long --abbrev=40' };
const SOURCES = ['{projectRoot}/**/*', '!{projectRoot}/bin/**/*', '!{projectRoot}/**/*_test.go', '^default'];
const HELLO_MOD = ['{workspaceRoot}/apps/hello/go.mod', '{workspaceRoot}/apps/hello/go.sum'];
const PLATFORM_WORK = [
  '{workspaceRoot}/platform/go.work',
  '{workspaceRoot}/platform/go.work.sum',
  '{workspaceRoot}/platform/**/go.mod',
  '{workspaceRoot}/platform/**/go.sum',
];

/** Every Go service of the fixture (an application with build targets), and the libraries. */
const SERVICES = ['api', 'client', 'server', 'worker'];
const OUTPUT_DIRS = ['apps/hello/cmd/client/bin', 'apps/hello/cmd/server/bin', 'platform/services/api/bin', 'platform/services/worker/bin', 'dist/images'];

interface ShownTarget {
  executor?: string;
  cache?: boolean;
  inputs?: unknown[];
  outputs?: string[];
  dependsOn?: unknown[];
  options?: Record<string, unknown>;
  metadata?: { description?: string; technologies?: string[]; help?: { command?: string; example?: unknown } };
}
interface ShownProject {
  name: string;
  root: string;
  projectType?: string;
  targets: Record<string, ShownTarget>;
}

/** The parts of a target the plugin decides (Nx adds defaults of its own around them). */
const essentials = (t: ShownTarget | undefined) =>
  t && { executor: t.executor, cache: t.cache, inputs: t.inputs, outputs: t.outputs ?? [], dependsOn: t.dependsOn ?? [], options: t.options };

function expectedTargets(name: string, sources: { root: string; buildList: string[] }): Record<string, unknown> {
  return {
    'build-binaries': {
      executor: 'nx-fnbuild:build-binaries',
      cache: true,
      inputs: [...SOURCES, ...sources.buildList, { runtime: 'go version' }, ...BUILD_ENV, { env: 'FUNC_NAME' }],
      outputs: ['{projectRoot}/bin'],
      dependsOn: [],
      options: { platforms: ['linux/amd64'] },
    },
    'build-image': {
      executor: 'nx-fnbuild:build-image',
      cache: true,
      inputs: [...SOURCES, ...sources.buildList, { runtime: 'go version' }, ...BUILD_ENV, { env: 'SOURCE_DATE_EPOCH' }, GIT, { env: 'FUNC_NAME' }],
      outputs: [`{workspaceRoot}/dist/images/${name}`, `{workspaceRoot}/dist/images/${name}.spdx.json`],
      dependsOn: [],
      options: { platforms: ['linux/amd64'] },
    },
    push: { executor: 'nx-fnbuild:push', cache: false, inputs: undefined, outputs: [], dependsOn: ['build-image'], options: {} },
    test: {
      executor: 'nx:run-commands',
      cache: true,
      inputs: [
        '{projectRoot}/**/*',
        '!{projectRoot}/bin/**/*',
        '^default',
        ...sources.buildList,
        { runtime: 'go version' },
        ...BUILD_ENV,
        { env: 'CGO_ENABLED' },
        { env: 'GOOS' },
        { env: 'GOARCH' },
      ],
      outputs: [],
      dependsOn: [],
      options: expect.objectContaining({ command: 'go test ./...', cwd: sources.root }), // Nx resolves {projectRoot} in options
    },
  };
}

/** Files and their digests under the output folders: equal maps mean byte-identical outputs. */
async function outputDigests(ws: NxWorkspace): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const dir of OUTPUT_DIRS) {
    for (const f of await filesUnder(ws.path(dir))) out[`${dir}/${f}`] = await sha256Of(ws.path(dir, f));
  }
  return out;
}

async function waitForHttp(url: string, timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      return await r.text();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export function nxSuite(release: NxRelease): void {
  jest.setTimeout(10 * 60_000);

  let ws: NxWorkspace;
  let server: NxCacheServer;
  const show = async (name: string) => JSON.parse((await ws.nxOk(['show', 'project', name, '--json'])).stdout) as ShownProject;

  beforeAll(async () => {
    [ws, server] = await Promise.all([NxWorkspace.create(release, 'nx-monorepo'), NxCacheServer.start('e2e-token')]);
  }, 10 * 60_000);

  afterAll(async () => {
    await server?.close();
    await ws?.dispose();
  });

  test(`nx ${release.nx}: projects inferred from go.mod files, with their targets, inputs, outputs and dependsOn as designed`, async () => {
    // `nx show project` for one service of each layout; the graph file (one nx run) for the rest.
    const shown = { server: await show('server'), api: await show('api') };
    await ws.nxOk(['graph', '--file=.e2e/projects.json']);
    const nodes = (JSON.parse(await ws.read('.e2e/projects.json')) as { graph: { nodes: Record<string, { data: ShownProject }> } }).graph.nodes;
    expect(Object.keys(nodes).sort()).toEqual(['api', 'client', 'hello', 'server', 'shared', 'worker']);
    for (const [name, p] of Object.entries(shown))
      expect([name, p]).toEqual([name, expect.objectContaining({ root: nodes[name].data.root, targets: nodes[name].data.targets })]);
    const project = (name: string) => nodes[name].data;

    // A module with two commands: a project per command (named after its folder), the module a library.
    const hello = project('hello');
    expect([hello.root, hello.projectType, Object.keys(hello.targets)]).toEqual(['apps/hello', 'library', ['test']]);
    expect(hello.targets.test.options).toMatchObject({ command: 'go test ./internal/...', cwd: 'apps/hello' });
    for (const name of ['server', 'client']) {
      const p = project(name);
      expect([p.root, p.projectType]).toEqual([`apps/hello/cmd/${name}`, 'application']);
      expect(Object.fromEntries(Object.entries(p.targets).map(([t, c]) => [t, essentials(c)]))).toEqual(
        expectedTargets(name, { root: p.root, buildList: HELLO_MOD }),
      );
    }

    // A go.work with a shared library module and two services.
    const shared = project('shared');
    expect([shared.root, shared.projectType, Object.keys(shared.targets)]).toEqual(['platform/libs/shared', 'library', ['test']]);
    for (const name of ['api', 'worker']) {
      const p = project(name);
      expect([p.root, p.projectType]).toEqual([`platform/services/${name}`, 'application']);
      expect(Object.fromEntries(Object.entries(p.targets).map(([t, c]) => [t, essentials(c)]))).toEqual(
        expectedTargets(name, { root: p.root, buildList: PLATFORM_WORK }),
      );
    }

    // Every target explains itself.
    for (const name of Object.keys(nodes)) {
      for (const [target, t] of Object.entries(project(name).targets)) {
        expect([name, target, (t.metadata?.description ?? '').length > 20, t.metadata?.technologies, typeof t.metadata?.help?.command]).toEqual([
          name,
          target,
          true,
          ['go'],
          'string',
        ]);
      }
    }
    expect(shown.api.targets['build-binaries'].metadata?.help?.command).toBe('npx nx run api:build-binaries --help');
  });

  test(`nx ${release.nx}: the project graph has the Go imports (go list) as static edges`, async () => {
    await ws.nxOk(['graph', '--file=.e2e/graph.json']);
    const graph = JSON.parse(await ws.read('.e2e/graph.json')) as { graph: { dependencies: Record<string, { target: string; type: string }[]> } };
    const edges = Object.entries(graph.graph.dependencies)
      .flatMap(([source, deps]) => deps.map((d) => `${source} -> ${d.target} (${d.type})`))
      .sort();
    expect(edges).toEqual(['api -> shared (static)', 'client -> hello (static)', 'server -> hello (static)', 'worker -> shared (static)']);
  });

  test(`nx ${release.nx}: nx affected selects exactly the projects a change can reach`, async () => {
    const base = (await ws.git(['rev-parse', 'HEAD'])).stdout.trim();
    const affectedBy = async (change: () => Promise<void>): Promise<string[]> => {
      await change();
      await ws.commitAll('change');
      try {
        return (JSON.parse((await ws.nxOk(['show', 'projects', '--affected', `--base=${base}`, '--head=HEAD', '--json'])).stdout) as string[]).sort();
      } finally {
        await ws.git(['reset', '-q', '--hard', base]);
      }
    };
    const append = (rel: string, text: string) => ws.edit(rel, (t) => t + text);

    // go.work layout
    expect(await affectedBy(() => append('platform/libs/shared/greet/greet.go', '\n// changed\n'))).toEqual(['api', 'shared', 'worker']);
    expect(await affectedBy(() => append('platform/services/api/main.go', '\n// changed\n'))).toEqual(['api']);
    expect(await affectedBy(() => append('platform/go.work', '\n// changed\n'))).toEqual(['api', 'shared', 'worker']);
    expect(await affectedBy(() => ws.edit('platform/go.work', (t) => t.replace(/^go 1\.22$/m, 'go 1.23')))).toEqual(['api', 'shared', 'worker']);
    // one module, two commands
    expect(await affectedBy(() => append('apps/hello/cmd/server/main.go', '\n// changed\n'))).toEqual(['server']);
    expect(await affectedBy(() => ws.edit('apps/hello/internal/greeting/greeting.txt', (t) => t.replace('Hello', 'Hi')))).toEqual([
      'client',
      'hello',
      'server',
    ]);
    expect(await affectedBy(() => ws.edit('apps/hello/go.mod', (t) => t.replace(/^go 1\.21$/m, 'go 1.22')))).toEqual(['client', 'hello', 'server']);
    // neither
    expect(await affectedBy(() => append('README.md', '\nMore words.\n'))).toEqual([]);
  });

  test(`nx ${release.nx}: a clean clone replays every build from the self-hosted remote cache, byte for byte; GOFLAGS or another go version misses`, async () => {
    const remote = server.env();
    await ws.goLog.reset();
    // One task at a time: then build-image reuses build-binaries' compile through the engine's own cache.
    const first = await ws.nxOk(['run-many', '-t', 'build-binaries', 'build-image', '--parallel=1'], remote);
    expect(first.output).not.toContain('read the output from the cache');
    expect((await ws.goLog.builds()).length).toBe(SERVICES.length);
    const puts = server.requests.filter((r) => r.method === 'PUT');
    expect([puts.length, puts.every((r) => r.status === 200)]).toEqual([2 * SERVICES.length, true]);
    const built = await outputDigests(ws);
    expect(Object.keys(built).filter((f) => f.endsWith('artifacts.json')).length).toBe(SERVICES.length);
    expect(
      Object.keys(built)
        .filter((f) => /^dist\/images\/[a-z]+\.spdx\.json$/.test(f))
        .sort(),
    ).toEqual(SERVICES.map((s) => `dist/images/${s}.spdx.json`));

    const clone = await ws.clone();
    try {
      expect(existsSync(clone.path('dist'))).toBe(false);
      server.requests.length = 0;
      const replay = await clone.nxOk(['run-many', '-t', 'build-binaries', 'build-image'], remote);
      expect(replay.output).toContain(
        `Nx read the output from the cache instead of running the command for ${2 * SERVICES.length} out of ${2 * SERVICES.length} tasks`,
      );
      expect(await clone.goLog.builds()).toEqual([]);
      expect(server.requests.filter((r) => r.method === 'GET').map((r) => r.status)).toEqual(new Array(2 * SERVICES.length).fill(200));
      expect(await outputDigests(clone)).toEqual(built);

      // Build settings in the environment are inputs: a different GOFLAGS is a miss (and a real build).
      server.requests.length = 0;
      const flags = await clone.nxOk(['run', 'api:build-binaries'], { ...remote, GOFLAGS: '-tags=e2e' });
      expect(flags.output).not.toContain('read the output from the cache');
      expect((await clone.goLog.builds()).length).toBe(1);
      expect(server.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['GET 404', 'PUT 200']);

      // So is the toolchain: `go version` answering differently (a go first on PATH that says so) is a miss.
      const fakeGo = clone.path('.e2e', 'fake-go');
      await fs.mkdir(fakeGo, { recursive: true });
      await fs.writeFile(
        join(fakeGo, 'go'),
        `#!/bin/sh\nif [ "$1" = version ] && [ $# -eq 1 ]; then echo "go version go1.99.0 linux/amd64"; exit 0; fi\nexec '${realGo()}' "$@"\n`,
        { mode: 0o755 },
      );
      const other = await clone.nxOk(['run', 'api:build-binaries'], { ...remote, PATH: `${fakeGo}:${clone.env.PATH}` });
      expect(other.output).not.toContain('read the output from the cache');
      const again = await clone.nxOk(['run', 'api:build-binaries'], remote);
      expect(again.output).toContain('read the output from the cache');
    } finally {
      await clone.dispose();
    }
  });

  test(`nx ${release.nx}: nx add nx-fnbuild in a workspace with a Go module, then nx g nx-fnbuild:application api and nx g nx-fnbuild:function hello-fn build and run`, async () => {
    const empty = await NxWorkspace.create(release, 'nx-empty', { plugin: false });
    try {
      expect(JSON.parse((await empty.nxOk(['show', 'projects', '--json'])).stdout)).toEqual([]);
      const added = await empty.nxOk(['add', `nx-fnbuild@file:${empty.tarballs.plugin}`]);
      expect(added.output).toContain('Package nx-fnbuild added successfully');
      const nxJson = JSON.parse(await empty.read('nx.json')) as { plugins?: unknown[] };
      expect(nxJson.plugins).toEqual([
        {
          plugin: 'nx-fnbuild',
          options: { buildBinariesTargetName: 'build-binaries', buildImageTargetName: 'build-image', pushTargetName: 'push', testTargetName: 'test' },
        },
      ]);
      expect((await empty.read('.gitignore')).split('\n')).toEqual(expect.arrayContaining(['bin/', 'dist/', '.fnbuild/']));
      const hello = JSON.parse((await empty.nxOk(['show', 'project', 'hello', '--json'])).stdout) as ShownProject;
      expect(Object.keys(hello.targets).sort()).toEqual(['build-binaries', 'build-image', 'push', 'test']);

      // init again (what a second `nx add` runs) changes nothing.
      await empty.commitAll('nx add nx-fnbuild');
      await empty.nxOk(['g', 'nx-fnbuild:init']);
      expect((await empty.git(['status', '--porcelain'])).stdout).toBe('');

      await empty.nxOk(['g', 'nx-fnbuild:application', 'api']);
      const built = await empty.nxOk(['run', 'api:build-binaries']);
      expect(built.output).toContain('Successfully ran target build-binaries for project api');
      const bin = empty.path('api', 'bin', 'linux_amd64', 'api');
      const version = await new Promise<string>((resolve, reject) => {
        const p = spawn(bin, ['-version'], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.on('error', reject);
        p.on('close', () => resolve(out));
      });
      expect(version).toBe('dev\n');
      const port = 20000 + Math.floor(Math.random() * 20000);
      const service = spawn(bin, [], { env: { PORT: String(port) }, stdio: 'ignore' });
      try {
        expect(await waitForHttp(`http://127.0.0.1:${port}/healthz`, 10_000)).toBe('ok\n');
        expect(await waitForHttp(`http://127.0.0.1:${port}/`, 1_000)).toBe('api dev\n');
      } finally {
        service.kill();
      }
      const tested = await empty.nxOk(['run', 'api:test']);
      expect(tested.output).toMatch(/ok\s+example\.com\/api/);

      // A function: func.yaml, a handler and its test, no main package; inferred, built, served.
      await empty.nxOk(['g', 'nx-fnbuild:function', 'hello-fn']);
      const fn = JSON.parse((await empty.nxOk(['show', 'project', 'hello-fn', '--json'])).stdout) as ShownProject;
      expect(Object.keys(fn.targets).sort()).toEqual(['build-binaries', 'build-image', 'push', 'test']);
      expect(fn.targets['build-image'].outputs).toEqual(['{workspaceRoot}/dist/images/hello-fn', '{workspaceRoot}/dist/images/hello-fn.spdx.json']);
      expect((await empty.nxOk(['run', 'hello-fn:test'])).output).toMatch(/ok\s+\S*hello-fn/);
      await empty.nxOk(['run', 'hello-fn:build-binaries']);
      expect(await empty.read('hello-fn/func.yaml')).toMatch(/\nruntime: go1\.\d+\nbuild_image: golang:1\.\d+\.\d+\n$/);
      const fnPort = 20000 + Math.floor(Math.random() * 20000);
      const served = spawn(empty.path('hello-fn', 'bin', 'linux_amd64', 'hello-fn'), [], {
        env: { FUNC_CONTEXT: JSON.stringify({ port: String(fnPort) }) },
        stdio: 'ignore',
      });
      try {
        expect(await waitForHttp(`http://127.0.0.1:${fnPort}/?name=nx`, 10_000)).toBe('Hello, nx!\n');
      } finally {
        served.kill('SIGTERM');
      }
    } finally {
      await empty.dispose();
    }
  });
}
