#!/usr/bin/env node
// Benchmark: Nx with the nx-fnbuild plugin on a generated workspace of 200 Go projects.
// Times `nx show projects` and the project graph (`nx graph --file`), cold (no Nx graph
// cache, no plugin memos) and warm, plus a graph after one Go file changed, against the
// same workspace without the plugin (Nx's own floor), and Nx's own measure of the
// plugin's share (NX_PERF_LOGGING). Daemon off, as in CI, and once warm with the daemon
// (interactive use). Prints figures; asserts nothing.
//
//   npm run build && node bench/nx-graph.mjs [--runs 5] [--keep]
//
// The workspace: platform/go.work joining 10 library modules and 140 service modules
// (each service imports two libraries), plus 5 modules of 9 commands each (a project per
// command and one for the module): 10 + 140 + 5 × 10 = 200 projects.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { exec, fmt, median, repo, time } from './lib.mjs';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 5;
const keep = args.includes('--keep');

const LIBS = 10;
const SERVICES = 140;
const MULTI = 5;
const COMMANDS = 9;

function write(root, rel, text) {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
}

function generate(root) {
  const lib = (i) => `lib${String(i).padStart(2, '0')}`;
  const svc = (i) => `svc${String(i).padStart(3, '0')}`;
  const uses = [];
  for (let i = 0; i < LIBS; i++) {
    const dir = `platform/libs/${lib(i)}`;
    uses.push(`./libs/${lib(i)}`);
    write(root, `${dir}/go.mod`, `module example.com/${lib(i)}\n\ngo 1.22\n`);
    write(root, `${dir}/${lib(i)}.go`, `package ${lib(i)}\n\nimport "example.com/${lib(i)}/util"\n\nfunc Name() string { return util.Upper("${lib(i)}") }\n`);
    write(root, `${dir}/util/util.go`, `package util\n\nimport "strings"\n\nfunc Upper(s string) string { return strings.ToUpper(s) }\n`);
  }
  for (let i = 0; i < SERVICES; i++) {
    const dir = `platform/services/${svc(i)}`;
    const [a, b] = [lib(i % LIBS), lib((i * 7 + 3) % LIBS)];
    uses.push(`./services/${svc(i)}`);
    write(root, `${dir}/go.mod`, `module example.com/${svc(i)}\n\ngo 1.22\n`);
    write(
      root,
      `${dir}/main.go`,
      `package main\n\nimport (\n\t"fmt"\n\n\t"example.com/${a}"\n\t"example.com/${b}"\n)\n\nfunc main() { fmt.Println(${a}.Name(), ${b}.Name()) }\n`,
    );
    write(root, `${dir}/main_test.go`, `package main\n\nimport "testing"\n\nfunc TestNothing(t *testing.T) {}\n`);
  }
  write(root, 'platform/go.work', `go 1.22\n\nuse (\n${uses.map((u) => `\t${u}\n`).join('')})\n`);
  for (let m = 0; m < MULTI; m++) {
    const dir = `apps/suite${m}`;
    write(root, `${dir}/go.mod`, `module example.com/suite${m}\n\ngo 1.22\n`);
    write(root, `${dir}/internal/core/core.go`, `package core\n\nfunc Answer() int { return ${m} }\n`);
    for (let c = 0; c < COMMANDS; c++) {
      write(
        root,
        `${dir}/cmd/s${m}c${c}/main.go`,
        `package main\n\nimport (\n\t"fmt"\n\n\t"example.com/suite${m}/internal/core"\n)\n\nfunc main() { fmt.Println(core.Answer()) }\n`,
      );
    }
  }
  write(root, 'package.json', JSON.stringify({ name: 'nx-graph-bench', private: true }));
  write(root, '.gitignore', 'node_modules\n.nx\n');
}

const nxJson = (plugin) => JSON.stringify({ neverConnectToCloud: true, analytics: false, cacheDirectory: '.nx/cache', plugins: plugin ? ['nx-fnbuild'] : [] });

const root = mkdtempSync(join(tmpdir(), 'nx-graph-bench-'));
const env = {
  ...process.env,
  CI: 'true',
  NX_DAEMON: 'false',
  NX_NO_CLOUD: 'true',
  NX_TUI: 'false',
  NX_CACHE_DIRECTORY: join(root, '.nx', 'cache'),
  GOWORK: '',
  GOFLAGS: '',
  GOPROXY: 'off',
  GOTOOLCHAIN: 'local',
};
for (const k of Object.keys(env)) if (k.startsWith('npm_') || k === 'NX_WORKSPACE_DATA_DIRECTORY') delete env[k];
const nxWith = (e, ...argv) => exec(process.execPath, [join(repo, 'node_modules/nx/dist/bin/nx.js'), ...argv], { cwd: root, env: e });
const nx = (...argv) => nxWith(env, ...argv);
const nxPerf = (...argv) =>
  exec(process.execPath, [join(repo, 'node_modules/nx/dist/bin/nx.js'), ...argv], { cwd: root, env: { ...env, NX_PERF_LOGGING: 'true' } });
const git = (...argv) => exec('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', ...argv], { cwd: root, env });
const clearGraphCaches = () => rmSync(join(root, '.nx'), { recursive: true, force: true });
const perf = (out, what) => Number(new RegExp(`Time taken for '${what}' ([0-9.]+)ms`).exec(out)?.[1] ?? NaN);

try {
  generate(root);
  // The plugin as built in this repository (packages/*/dist), through the repository's node_modules (nx 22).
  symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'));
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'generated');
  const nxVersion = JSON.parse(await exec('node', ['-p', `JSON.stringify(require('${join(repo, 'node_modules/nx/package.json')}').version)`])).toString();

  const measure = async (label, fn, n = runs) => {
    const walls = [];
    for (let i = 0; i < n; i++) walls.push((await fn()).wall);
    return { label, ms: median(walls), all: walls };
  };
  const rows = [];

  writeFileSync(join(root, 'nx.json'), nxJson(false));
  rows.push(await measure('no plugin: nx show projects (Nx alone, warm)', () => time(() => nx('show', 'projects'))));

  writeFileSync(join(root, 'nx.json'), nxJson(true));
  const projects = (await nx('show', 'projects')).trim().split('\n').length;
  rows.push(
    await measure('nx show projects, cold (no graph cache, no plugin memos)', () => {
      clearGraphCaches();
      return time(() => nx('show', 'projects'));
    }),
  );
  rows.push(await measure('nx show projects, warm', () => time(() => nx('show', 'projects'))));
  rows.push(
    await measure('nx graph --file, cold', () => {
      clearGraphCaches();
      return time(() => nx('graph', '--file=.nx/g.json'));
    }),
  );
  rows.push(await measure('nx graph --file, warm', () => time(() => nx('graph', '--file=.nx/g.json'))));
  let edit = 0;
  rows.push(
    await measure('nx graph --file, one service main.go changed', () => {
      writeFileSync(
        join(root, 'platform/services/svc000/main.go'),
        `package main\n\nimport (\n\t"fmt"\n\n\t"example.com/lib00"\n)\n\nfunc main() { fmt.Println(lib00.Name(), ${edit++}) }\n`,
      );
      return time(() => nx('graph', '--file=.nx/g.json'));
    }),
  );

  // Nx runs each plugin in a worker process of its own unless told otherwise.
  const inProcess = { ...env, NX_ISOLATE_PLUGINS: 'false' };
  rows.push(await measure('nx show projects, warm, plugins in-process (NX_ISOLATE_PLUGINS=false)', () => time(() => nxWith(inProcess, 'show', 'projects'))));

  // Interactive use: the Nx daemon keeps the graph (and the plugin) loaded between commands.
  const daemon = { ...env, NX_DAEMON: 'true' };
  try {
    await nxWith(daemon, 'show', 'projects');
    rows.push(await measure('nx show projects, warm, with the Nx daemon', () => time(() => nxWith(daemon, 'show', 'projects'))));
  } catch (err) {
    console.error(`(no daemon figures: ${err.message.split('\n')[0]})`);
  } finally {
    await nxWith(daemon, 'daemon', '--stop').catch(() => undefined);
  }

  // Nx's own accounting of the plugin's share, warm and cold.
  const warmPerf = await nxPerf('graph', '--file=.nx/g.json');
  clearGraphCaches();
  const coldPerf = await nxPerf('graph', '--file=.nx/g.json');
  const edges = Object.values(JSON.parse(await exec('cat', [join(root, '.nx/g.json')])).graph.dependencies).flat().length;

  console.log(`nx-graph bench: ${projects} Go projects, ${edges} dependency edges, nx ${nxVersion}, daemon off unless said, median of ${runs}`);
  for (const r of rows) console.log(`  ${r.label.padEnd(70)} ${fmt(r.ms).padStart(8)}   (${r.all.map(fmt).join(', ')})`);
  for (const [label, out] of [
    ['cold', coldPerf],
    ['warm', warmPerf],
  ]) {
    console.log(
      `  nx-fnbuild's share (${label}): createNodes ${fmt(perf(out, 'nx-fnbuild:createNodes'))}, createDependencies ${fmt(perf(out, 'nx-fnbuild:createDependencies'))}; ` +
        `Nx loading the plugin ${fmt(perf(out, `Load Nx Plugin: nx-fnbuild`))}, whole graph ${fmt(perf(out, 'createProjectGraphAsync'))}`,
    );
  }
} finally {
  if (keep) console.log(`kept ${root}`);
  else rmSync(root, { recursive: true, force: true });
}
