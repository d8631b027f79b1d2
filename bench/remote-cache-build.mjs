#!/usr/bin/env node
// Benchmark: what the shared remote cache buys a clean CI machine, with real Nx. On
// examples/hello (2 commands, 2 platforms), `nx run-many -t build-binaries,build-image` after
// a one-line change to one command, side by side in one run:
//   warm           a machine that built the previous commit, no remote: the peer
//   clean          a clean machine, no remote: today's CI
//   clean+oci      a clean machine, the remote (CNCF Distribution on loopback) filled by another
//                  machine that built the previous commit; read-write, then read-only (a fork's PR)
//   clean+http     the same with Debian's nginx WebDAV (a Bazel HTTP cache) as the remote
// and two concurrent tasks vs one on a clean machine without remote: the run-many above
// (build-binaries ∥ build-image, Nx's default parallelism) against `nx run hello:build-binaries` alone.
// A machine is a git clone with its own HOME, GOCACHE, module cache, Nx cache and nx-fnbuild
// store; Nx and the plugin come from the repository's node_modules (`npm run build` first).
// Each measurement gets a one-line change of its own, so no run reuses another's result.
// Prints figures and ratios; asserts nothing.
//
//   node bench/remote-cache-build.mjs [--runs 2] [--cold-runs 1] [--platforms linux/amd64,linux/arm64] [--remotes oci,http] [--keep]
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec, fmt, freePort, median, repo, startRegistry, time } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const runs = Number(opt('--runs', '2'));
const coldRuns = Number(opt('--cold-runs', '1'));
const platforms = opt('--platforms', 'linux/amd64,linux/arm64').split(',');
const remotes = opt('--remotes', 'oci,http').split(',').filter(Boolean);
const keep = args.includes('--keep');

const work = mkdtempSync(join(tmpdir(), 'fnbuild-bench-remote-build-'));
const seed = join(work, 'seed');
const BUILD = ['run-many', '-t', 'build-binaries,build-image'];
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|GIT_|NX_)/.test(k)));

const git = (cwd, ...argv) =>
  exec('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', '-c', 'commit.gpgsign=false', ...argv], { cwd, env: baseEnv });
const writeJson = (path, value) => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);

/** The workspace every machine clones: examples/hello at apps/hello, both build targets on `platforms`, tagged v1.0.0. */
async function makeSeed() {
  mkdirSync(seed, { recursive: true });
  cpSync(join(repo, 'examples/hello'), join(seed, 'apps/hello'), { recursive: true, filter: (s) => !/\/bin(\/|$)/.test(s) });
  const options = { platforms, ldflags: '-s -w -X main.version={version}' };
  writeJson(join(seed, 'apps/hello/project.json'), {
    name: 'hello',
    projectType: 'application',
    targets: {
      'build-binaries': { executor: 'nx-fnbuild:build-binaries', cache: true, outputs: ['{projectRoot}/bin'], options },
      'build-image': { executor: 'nx-fnbuild:build-image', cache: true, outputs: ['{workspaceRoot}/dist/images'], options: { ...options, ports: [8080] } },
    },
  });
  writeJson(join(seed, 'nx.json'), { neverConnectToCloud: true, analytics: false, cacheDirectory: '.nx/cache' });
  writeJson(join(seed, 'package.json'), { name: 'remote-cache-bench', private: true });
  writeFileSync(join(seed, '.gitignore'), 'node_modules\n.nx/\n.fnbuild-cache/\n.bench/\nbin/\ndist/\n');
  await git(seed, 'init', '-q', '-b', 'main');
  await git(seed, 'add', '-A');
  await git(seed, 'commit', '-q', '-m', 'hello');
  await git(seed, 'tag', 'v1.0.0');
}

let changes = 0;
/** A one-line change to cmd/server on a branch of its own off v1.0.0; returns the branch. */
async function change() {
  const branch = `change-${++changes}`;
  await git(seed, 'checkout', '-q', '-B', branch, 'v1.0.0');
  const file = join(seed, 'apps/hello/cmd/server/main.go');
  const text = readFileSync(file, 'utf8');
  const edited = text.replace(/^(func main\(\) \{)$/m, `$1\n\t_ = "one-line change ${changes}"`);
  if (edited === text) throw new Error('the one-line change found no `func main() {` in examples/hello/cmd/server/main.go');
  writeFileSync(file, edited);
  await git(seed, 'commit', '-q', '-am', `one line (${changes})`);
  await git(seed, 'checkout', '-q', 'main');
  return branch;
}

/** A clean machine: a clone at `ref` with caches of its own, and the remote's settings if any. */
async function machine(name, ref, remoteEnv = {}) {
  const root = join(work, name);
  await exec('git', ['clone', '-q', '--branch', ref, seed, root], { cwd: work, env: baseEnv });
  symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'));
  const own = join(root, '.bench');
  mkdirSync(join(own, 'home'), { recursive: true });
  const env = {
    ...baseEnv,
    CI: 'true',
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_TUI: 'false',
    FORCE_COLOR: '0',
    HOME: join(own, 'home'),
    GOCACHE: join(own, 'gocache'),
    GOMODCACHE: join(own, 'gomodcache'),
    GOFLAGS: '',
    GOWORK: 'off',
    GOPROXY: 'off',
    GOTOOLCHAIN: 'local',
    NX_CACHE_DIRECTORY: join(root, '.nx', 'cache'),
    NX_FNBUILD_CACHE_DIR: join(root, '.fnbuild-cache'),
    NX_FNBUILD_GOCACHEPROG_STATS: join(own, 'gocacheprog.jsonl'),
    ...remoteEnv,
  };
  const nx = (argv, extra = {}) => exec(process.execPath, [join(root, 'node_modules/nx/dist/bin/nx.js'), ...argv], { cwd: root, env: { ...env, ...extra } });
  return {
    root,
    nx,
    /** Checks out another branch of the seed (the machine keeps its caches). */
    checkout: async (branch) => {
      await git(root, 'fetch', '-q', 'origin', branch);
      await git(root, 'checkout', '-q', 'FETCH_HEAD');
    },
    /** What Go's cache program did over the run: remote hits and bytes down, summed over go commands. */
    goCache: () => {
      const file = env.NX_FNBUILD_GOCACHEPROG_STATS;
      const lines = existsSync(file)
        ? readFileSync(file, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l))
        : [];
      rmSync(file, { force: true });
      const sum = (k) => lines.reduce((n, c) => n + (c[k] ?? 0), 0);
      return { commands: lines.length, hitsRemote: sum('hitsRemote'), misses: sum('misses'), bytesDown: sum('bytesDown'), bytesUp: sum('bytesUp') };
    },
  };
}

/** Nx's console output: how many compiles were built, fetched, cached (the engine's node lines). */
function nodeCounts(out) {
  const n = (state) => out.split('\n').filter((l) => new RegExp(`\\s${state}\\s+compile `).test(l)).length;
  return { built: n('built'), remote: n('remote'), cached: n('cached') };
}

/** nginx serving `dir` with WebDAV PUT on a free loopback port: a Bazel HTTP cache. */
async function startNginx(dir) {
  const port = await freePort();
  mkdirSync(join(dir, 'www', 'cache'), { recursive: true });
  // Started by root, nginx's workers run as another user unless told to stay root (the work folder is 0700).
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? 'user root;' : ''} pid ${dir}/nginx.pid; error_log ${dir}/error.log; events {}
http { access_log off; client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;
  server { listen 127.0.0.1:${port}; root ${dir}/www; client_max_body_size 0; location /cache/ { dav_methods PUT; create_full_put_path on; } } }\n`,
  );
  const child = spawn('/usr/sbin/nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`http://127.0.0.1:${port}/cache/`).then(
      () => true,
      () => false,
    );
    if (up) return { url: `http://127.0.0.1:${port}/cache/`, stop: () => child.kill() };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill();
  throw new Error('nginx did not start (apt-get install nginx)');
}

const rows = [];
/** Times `argv` on a machine; one row per scenario, the median of its runs. */
async function measure(scenario, m, argv = BUILD) {
  m.goCache(); // forget earlier runs' counters
  const t = await time(() => m.nx(argv));
  const counts = nodeCounts(t.inner);
  const go = m.goCache();
  const summary = t.inner.split('\n').find((l) => l.includes('remote cache ') && l.includes(' fetched ('));
  const warnings = [
    ...new Set(
      t.inner
        .split('\n')
        .filter((l) => /warning:/.test(l))
        .map((l) => l.trim()),
    ),
  ];
  let row = rows.find((r) => r.scenario === scenario);
  if (!row) rows.push((row = { scenario, ms: [], detail: '' }));
  row.ms.push(t.wall);
  row.detail =
    `compiles ${counts.built} built, ${counts.remote} remote, ${counts.cached} cached` +
    (go.commands
      ? `; Go cache ${go.hitsRemote} remote hits, ${go.misses} misses, ${(go.bytesDown / 1e6).toFixed(1)} MB down, ${(go.bytesUp / 1e6).toFixed(1)} MB up`
      : '') +
    (summary ? `; ${summary.trim()}` : '') +
    (warnings.length ? `; ${warnings.join('; ')}` : '');
  return t.wall;
}

const servers = [];
try {
  await makeSeed();
  const load = loadavg().map((l) => l.toFixed(2));
  console.log(
    `bench: examples/hello, 2 commands × ${platforms.join(' + ')}, ${(await exec('go', ['version'])).trim()}, load average at start ${load.join(' ')}`,
  );

  // The peer: a warm machine (built v1.0.0) building a one-line change, no remote.
  const warm = await machine('warm', 'v1.0.0');
  await warm.nx(BUILD);
  for (let i = 0; i < runs; i++) {
    await warm.checkout(await change());
    await measure('warm machine, no remote', warm);
  }

  // Today's CI: a clean machine, no remote; the same build with one task (two concurrent tasks vs one).
  for (let i = 0; i < coldRuns; i++) {
    await measure('clean machine, no remote', await machine(`clean-${i}`, await change()));
    await measure('clean machine, no remote, build-binaries alone', await machine(`clean-bb-${i}`, await change()), ['run', 'hello:build-binaries']);
  }

  for (const kind of remotes) {
    let env;
    if (kind === 'oci') {
      const reg = await startRegistry(join(work, 'registry'));
      servers.push(reg);
      env = { NX_FNBUILD_REMOTE_CACHE: `oci://${reg.host}/bench/fnbuild-cache`, NX_FNBUILD_INSECURE_REGISTRIES: reg.host };
    } else if (kind === 'http') {
      const nginx = await startNginx(join(work, 'nginx'));
      servers.push(nginx);
      env = { NX_FNBUILD_REMOTE_CACHE: nginx.url };
    } else throw new Error(`--remotes: unknown remote "${kind}" (oci, http)`);
    // Another machine fills the remote with v1.0.0 (its cold build, uploads included, is a figure too).
    await measure(`filling machine (cold, uploads to ${kind})`, await machine(`fill-${kind}`, 'v1.0.0', env));
    for (let i = 0; i < runs; i++) {
      await measure(`clean machine, ${kind} remote (read-write)`, await machine(`${kind}-rw-${i}`, await change(), env));
      await measure(`clean machine, ${kind} remote (read)`, await machine(`${kind}-ro-${i}`, await change(), { ...env, NX_FNBUILD_REMOTE_CACHE_MODE: 'read' }));
    }
  }

  const warmMs = median(rows[0].ms);
  console.log(`\n| scenario | median (runs) | vs warm machine | what happened (last run) |`);
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.scenario} | ${fmt(median(r.ms))} (${r.ms.length}) | ${(median(r.ms) / warmMs).toFixed(2)}× | ${r.detail} |`);
  const two = rows.find((r) => r.scenario === 'clean machine, no remote');
  const one = rows.find((r) => r.scenario === 'clean machine, no remote, build-binaries alone');
  if (two && one)
    console.log(`\ntwo concurrent tasks (build-binaries ∥ build-image) vs build-binaries alone, cold: ${(median(two.ms) / median(one.ms)).toFixed(2)}×`);
  console.log('aim (issue 14): a clean machine with the remote warm ≤ 1.2× the warm machine; two tasks ≈ one task plus the image work.');
  console.log(
    `load average at the end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (2 cores: figures above ~2 are shared with other work)`,
  );
} finally {
  for (const s of servers) s.stop();
  if (keep) console.log(`kept ${work}`);
  else {
    await exec('chmod', ['-R', 'u+w', work], { cwd: tmpdir(), env: baseEnv }).catch(() => undefined); // Go's module cache is read-only
    rmSync(work, { recursive: true, force: true });
  }
}
