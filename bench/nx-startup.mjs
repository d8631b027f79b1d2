#!/usr/bin/env node
// Benchmark: what a no-op build-binaries costs inside Nx. In a temporary Nx workspace
// with both packages installed from their packed tarballs (as users get them), times
// `nx run hello:build-binaries --skip-nx-cache` on examples/hello with every binary
// already built (2 targets × 5 platforms) against Nx's own floor (an `nx:run-commands`
// target running `true`, same inputs) and plain `go build`'s own no-op for the same 10
// binaries. Nx forks a process per task, so `nx affected` over many projects pays our
// start-up once per project. Then shows where our share goes: Nx's own cost of a forked
// executor (a do-nothing local executor; nx:run-commands runs in Nx's process, unforked),
// the engine (the executor's own figure), loading the executor's modules, and which
// modules that load is made of; and, for comparison, the same no-op through the fnbuild
// CLI in an nx:run-commands target. Prints figures and ratios; asserts nothing.
//
//   npm run build && node bench/nx-startup.mjs [--runs 5] [--link] [--keep]
//
// --link uses the repository's node_modules (workspace symlinks) instead of installing
// the tarballs: quicker to set up, but not the layout users get.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec, fmt, median, repo, time } from './lib.mjs';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 5;
const link = args.includes('--link');
const keep = args.includes('--keep');

const platforms = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'darwin/arm64', 'windows/amd64'];
const targets = ['client', 'server'];
const parallelism = availableParallelism();
const ldflags = '-s -w -X main.version={version}';
const AIM = 0.25;

const root = mkdtempSync(join(tmpdir(), 'nx-startup-bench-'));
const project = join(root, 'apps', 'hello');
const env = {
  ...process.env,
  CI: 'true',
  NX_DAEMON: 'false',
  NX_NO_CLOUD: 'true',
  NX_TUI: 'false',
  FORCE_COLOR: '0',
  NX_CACHE_DIRECTORY: join(root, '.nx', 'cache'),
  NX_FNBUILD_CACHE_DIR: join(root, '.fnbuild-cache'),
  GOFLAGS: '',
  GOWORK: 'off',
  GOPROXY: 'off',
  GOTOOLCHAIN: 'local',
};
for (const k of Object.keys(env)) if (k.startsWith('npm_') || k === 'NX_WORKSPACE_DATA_DIRECTORY') delete env[k];

const writeJson = (path, value) => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
const git = (...argv) =>
  exec('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', '-c', 'commit.gpgsign=false', ...argv], { cwd: root, env });

// CPU time (user + sys of the process and the children it waited for), through GNU time where
// it is installed: much steadier than wall time on a busy machine. Commands are measured one
// at a time, so a running total tells each measurement's share.
const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
let cpuTotal = 0;
let timeFiles = 0;
async function measured(cmd, argv, opts) {
  if (!gnuTime) return exec(cmd, argv, opts);
  const file = join(root, '.bench', `time-${timeFiles++}`);
  const out = await exec(gnuTime, ['-f', '%U %S', '-o', file, cmd, ...argv], opts);
  const [user, sys] = readFileSync(file, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
  cpuTotal += (user + sys) * 1000;
  return out;
}
async function timeCpu(fn) {
  const before = cpuTotal;
  const r = await time(fn);
  return { ...r, cpu: cpuTotal - before };
}
const nx = (...argv) => measured(process.execPath, [join(root, 'node_modules/nx/dist/bin/nx.js'), ...argv], { cwd: root, env });

/** The same inputs for every target, so the differences between them are the executors alone. */
function projectJson(inputs) {
  const cli = ['node', 'node_modules/@nx-fnbuild/core/dist/cli.js', 'build-binaries', '--project', 'apps/hello', '--workspace-root', '.'];
  const cliArgs = [`--platforms=${platforms.join(',')}`, `--ldflags=${ldflags}`, `--parallelism=${parallelism}`, '--quiet'];
  return {
    name: 'hello',
    projectType: 'application',
    targets: {
      'build-binaries': { executor: 'nx-fnbuild:build-binaries', inputs, outputs: ['{projectRoot}/bin'], options: { platforms, ldflags, parallelism } },
      floor: { executor: 'nx:run-commands', inputs, options: { command: 'true' } },
      'noop-executor': { executor: './tools/noop:noop', inputs },
      'cli-build-binaries': {
        executor: 'nx:run-commands',
        inputs,
        outputs: ['{projectRoot}/bin'],
        options: { command: [...cli, ...cliArgs].map((a) => `'${a}'`).join(' ') },
      },
    },
  };
}

/** A local executor that does nothing: what Nx itself costs for a task it forks a process for. */
function writeNoopExecutor() {
  const dir = join(root, 'tools', 'noop');
  mkdirSync(dir, { recursive: true });
  writeJson(join(dir, 'package.json'), { name: 'noop-executor', version: '0.0.0', executors: './executors.json' });
  writeJson(join(dir, 'executors.json'), { executors: { noop: { implementation: './noop.js', schema: './schema.json', description: 'Does nothing.' } } });
  writeJson(join(dir, 'schema.json'), { type: 'object', properties: {} });
  writeFileSync(join(dir, 'noop.js'), 'module.exports = async function noop() {\n  return { success: true };\n};\n');
}

async function install() {
  const nxVersion = JSON.parse(readFileSync(join(repo, 'node_modules/nx/package.json'), 'utf8')).version;
  const devkitVersion = JSON.parse(readFileSync(join(repo, 'node_modules/@nx/devkit/package.json'), 'utf8')).version;
  if (link) {
    symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'));
    writeJson(join(root, 'package.json'), { name: 'nx-startup-bench', private: true });
    return { nxVersion, layout: 'the repository node_modules (--link)' };
  }
  const packDir = join(root, '.bench', 'pack');
  mkdirSync(packDir, { recursive: true });
  const tarball = async (dir) => {
    const out = await exec('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: join(repo, dir), env });
    return join(packDir, JSON.parse(out.slice(out.indexOf('[')))[0].filename);
  };
  const [core, plugin] = [await tarball('packages/core'), await tarball('packages/nx-fnbuild')];
  writeJson(join(root, 'package.json'), {
    name: 'nx-startup-bench',
    private: true,
    devDependencies: { nx: nxVersion, '@nx/devkit': devkitVersion, '@nx-fnbuild/core': `file:${core}`, 'nx-fnbuild': `file:${plugin}` },
  });
  process.stderr.write('installing nx and the packed tarballs into the bench workspace...\n');
  await exec('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: root, env });
  return { nxVersion, layout: 'both packages from npm pack tarballs' };
}

/** The peer: one `go build` per target × platform with the same parallelism, into its own folder. */
async function plainGoBuild() {
  const jobs = targets.flatMap((t) =>
    platforms.map((p) => {
      const [os, arch, variant] = p.split('/');
      const goEnv = { GOOS: os, GOARCH: arch, CGO_ENABLED: '0', ...(arch === 'arm' && { GOARM: (variant ?? 'v7').slice(1) }) };
      const out = join(root, '.bench', 'bin-plain', p.replaceAll('/', '_'), t + (os === 'windows' ? '.exe' : ''));
      const argv = ['build', '-trimpath', '-buildvcs=false', `-ldflags=${ldflags.replace('{version}', '0.0.0-dev')}`, '-o', out, `./cmd/${t}`];
      return () => measured('go', argv, { cwd: project, env: { ...env, ...goEnv } });
    }),
  );
  let next = 0;
  await Promise.all(
    Array.from({ length: parallelism }, async () => {
      while (next < jobs.length) await jobs[next++]();
    }),
  );
}

/** The summary line of the executor and the CLI: "10 binaries (0 built, 10 cached) in 29 ms → …". */
function engineMs(out) {
  const m = /(\d+) binaries \((\d+) built, (\d+) cached\) in (\d+(?:\.\d+)?) ?(ms|s) →/.exec(out);
  if (!m) throw new Error(`no summary line in the output:\n${out}`);
  if (m[2] !== '0') process.stderr.write(`warning: a no-op run built ${m[2]} binaries\n`);
  return Number(m[4]) * (m[5] === 's' ? 1000 : 1);
}

// Runs in a fresh node: require() timed inclusively per module, to give each file its own
// (exclusive) share; files are grouped by package, and our own by their dist/ folder.
const requireProfile = String.raw`
const Module = require('node:module');
const path = require('node:path');
const load = Module._load;
const stack = [];
const self = new Map();
Module._load = function (request, parent, isMain) {
  let file = request;
  try { file = Module._resolveFilename(request, parent, isMain); } catch {}
  const t = performance.now();
  stack.push(0);
  try { return load.apply(this, arguments); } finally {
    const inclusive = performance.now() - t;
    const children = stack.pop();
    if (stack.length) stack[stack.length - 1] += inclusive;
    self.set(file, (self.get(file) ?? 0) + inclusive - children);
  }
};
const groupOf = (f) => {
  if (!path.isAbsolute(f)) return 'node builtins';
  const dist = /(?:nx-fnbuild|@nx-fnbuild[\\/]core|packages[\\/]core)[\\/]dist[\\/]([^\\/]+)/.exec(f);
  if (dist) return (/core[\\/]dist/.test(f) ? '@nx-fnbuild/core ' : 'nx-fnbuild ') + (dist[1].endsWith('.js') ? dist[1] : dist[1] + '/');
  const m = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(f.split('node_modules').length > 2 ? f.slice(f.lastIndexOf('node_modules')) : f);
  return m ? m[1].replace('\\', '/') : f;
};
const t0 = performance.now();
require(process.argv[1]);
const total = performance.now() - t0;
const groups = {};
for (const [f, ms] of self) groups[groupOf(f)] = (groups[groupOf(f)] ?? 0) + ms;
process.stdout.write(JSON.stringify({ total, files: self.size, groups }));
`;

async function requireBreakdown(module) {
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(JSON.parse(await exec(process.execPath, ['-e', requireProfile, module], { cwd: root, env })));
  const names = [...new Set(samples.flatMap((s) => Object.keys(s.groups)))];
  const groups = names.map((n) => [n, median(samples.map((s) => s.groups[n] ?? 0))]).sort((a, b) => b[1] - a[1]);
  return { total: median(samples.map((s) => s.total)), files: samples[0].files, groups };
}

/** require() of one module alone in a fresh node, timed with performance.now(); median of the runs. */
async function requireTime(module) {
  const samples = [];
  const script = 'const t = performance.now(); require(process.argv[1]); process.stdout.write(String(performance.now() - t));';
  for (let i = 0; i < runs; i++) samples.push(Number(await exec(process.execPath, ['-e', script, module], { cwd: root, env })));
  return median(samples);
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const loadBefore = load();
try {
  mkdirSync(join(root, '.bench'), { recursive: true });
  const { nxVersion, layout } = await install();
  cpSync(join(repo, 'examples/hello'), project, { recursive: true, filter: (s) => !/[\\/](bin|project\.json)$/.test(s) });
  const repoNx = JSON.parse(readFileSync(join(repo, 'nx.json'), 'utf8'));
  writeJson(join(root, 'nx.json'), { neverConnectToCloud: true, analytics: false, cacheDirectory: '.nx/cache', namedInputs: { go: repoNx.namedInputs.go } });
  writeJson(join(project, 'project.json'), projectJson(['go']));
  writeNoopExecutor();
  writeFileSync(join(root, '.gitignore'), 'node_modules\n.nx\n.bench\n.fnbuild-cache\nbin\n');
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'bench workspace');

  // Warm everything: go's build cache, our cache and outputs, Nx's project graph.
  process.stderr.write('warming up (go build cache, outputs, Nx graph)...\n');
  await nx('run', 'hello:build-binaries', '--skip-nx-cache');
  await plainGoBuild();
  await nx('run', 'hello:floor', '--skip-nx-cache');
  await nx('run', 'hello:noop-executor', '--skip-nx-cache');
  engineMs(await nx('run', 'hello:cli-build-binaries', '--skip-nx-cache'));
  await new Promise((r) => setTimeout(r, 2500)); // let fresh outputs age past the racy-clean window, as between real builds

  const names = ['floor', 'forked', 'ours', 'viaCli', 'plain', 'node'];
  const wall = Object.fromEntries(names.map((n) => [n, []]));
  const cpu = Object.fromEntries(names.map((n) => [n, []]));
  const engine = [];
  const cliEngine = [];
  const record = (name, r) => {
    wall[name].push(r.wall);
    cpu[name].push(r.cpu);
    return r.inner;
  };
  for (let i = 0; i < runs; i++) {
    record('floor', await timeCpu(() => nx('run', 'hello:floor', '--skip-nx-cache')));
    record('forked', await timeCpu(() => nx('run', 'hello:noop-executor', '--skip-nx-cache')));
    engine.push(engineMs(record('ours', await timeCpu(() => nx('run', 'hello:build-binaries', '--skip-nx-cache')))));
    cliEngine.push(engineMs(record('viaCli', await timeCpu(() => nx('run', 'hello:cli-build-binaries', '--skip-nx-cache')))));
    record('plain', await timeCpu(() => plainGoBuild()));
    record('node', await timeCpu(() => measured(process.execPath, ['-e', '0'], { env })));
  }
  // Differences and ratios per round (each round runs every command once, back to back), then their median:
  // steadier than a difference of medians when the machine's load drifts.
  const paired = (m, fn) => median(m.floor.map((_, i) => fn(i)));
  const figures = (m) => ({
    above: paired(m, (i) => m.ours[i] - m.floor[i]),
    fork: paired(m, (i) => m.forked[i] - m.floor[i]),
    cliAbove: paired(m, (i) => m.viaCli[i] - m.floor[i]),
    ratio: paired(m, (i) => (m.ours[i] - m.floor[i]) / m.plain[i]),
    ratioOverFork: paired(m, (i) => (m.ours[i] - m.forked[i]) / m.plain[i]),
    ratioCli: paired(m, (i) => (m.viaCli[i] - m.floor[i]) / m.plain[i]),
  });
  const w = figures(wall);
  const e = median(engine);

  const executor = join(root, 'node_modules/nx-fnbuild/dist/executors/build-binaries/executor.js');
  const breakdown = await requireBreakdown(executor);
  const coreAlone = await requireTime('@nx-fnbuild/core');

  console.log(
    `nx-startup bench: examples/hello, ${targets.length} targets × ${platforms.length} platforms, all cached; nx ${nxVersion}, ${layout}; daemon off; median of ${runs}`,
  );
  console.log(
    `  ${(await exec('go', ['version'], { env })).trim()}, node ${process.version}, parallelism ${parallelism}; load average (1, 5, 15 min) ${loadBefore} at the start, ${load()} at the end (a shared machine inflates wall time: CPU time below is steadier)\n`,
  );
  const row = (label, ms, all) => console.log(`  ${label.padEnd(68)} ${fmt(ms).padStart(7)}${all ? `   (${all.map(fmt).join(', ')})` : ''}`);
  const labels = {
    floor: "nx run hello:floor (nx:run-commands `true`): Nx's floor",
    forked: 'nx run hello:noop-executor (a local executor doing nothing)',
    ours: 'nx run hello:build-binaries --skip-nx-cache (no-op)',
    viaCli: 'nx run hello:cli-build-binaries (fnbuild CLI in nx:run-commands)',
    plain: 'plain go build no-op, 10 binaries, same parallelism',
    node: 'node -e 0 (a bare node process)',
  };
  for (const n of names) row(labels[n], median(wall[n]), wall[n]);
  console.log('');
  row('ours above the floor (median of per-round differences)', w.above);
  row('  Nx forking an executor process (noop-executor - floor)', w.fork);
  row('  the engine (the executor\'s own "in … ms")', e, engine);
  row('  the rest: loading our modules, executor plumbing', w.above - w.fork - e);
  row('the fnbuild CLI in nx:run-commands, above the floor', w.cliAbove);
  row('  its engine (the CLI\'s own "in … ms")', median(cliEngine), cliEngine);
  const ratios = (f) => {
    console.log(`  ours above the floor / plain go build no-op:         ${f.ratio.toFixed(2)}× (aim ≤ ${AIM}×)`);
    console.log(`  ours above a do-nothing executor / plain go no-op:   ${f.ratioOverFork.toFixed(2)}×`);
    console.log(`  the CLI in nx:run-commands above the floor / plain:  ${f.ratioCli.toFixed(2)}×`);
  };
  console.log('\n  wall time:');
  ratios(w);
  console.log(`  engine alone / plain go build no-op:                 ${paired(wall, (i) => engine[i] / wall.plain[i]).toFixed(2)}×\n`);
  if (gnuTime) {
    const c = figures(cpu);
    console.log('  CPU time (user + sys, whole process tree; GNU time, 10 ms resolution):');
    for (const n of names) row(`  ${labels[n]}`, median(cpu[n]));
    row('  ours above the floor', c.above);
    row('    Nx forking an executor process', c.fork);
    row('  the fnbuild CLI in nx:run-commands, above the floor', c.cliAbove);
    ratios(c);
    console.log('');
  }

  console.log(`  require() in a fresh node, median of ${runs}:`);
  row('    nx-fnbuild/dist/executors/build-binaries/executor.js', breakdown.total);
  row('    @nx-fnbuild/core alone', coreAlone);
  console.log(`\n  the executor's require() by where the time is spent (exclusive per file, ${breakdown.files} files):`);
  for (const [name, ms] of breakdown.groups.slice(0, 15)) row(`    ${name}`, ms);
} finally {
  if (keep) console.log(`kept ${root}`);
  else rmSync(root, { recursive: true, force: true });
}
