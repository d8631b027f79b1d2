#!/usr/bin/env node
// Benchmark: Go's own cache through nx-fnbuild's cache program (GOCACHEPROG) and a shared
// remote, for a one-line change on examples/hello (both targets, one go command per platform):
//   warm     a machine that built the previous commit (plain GOCACHE): the peer
//   clean    a clean machine, plain GOCACHE: today's CI
//   remote   a clean machine whose cache program reads a remote another machine filled
//   prog     the warm machine again, through the cache program (its overhead)
// and a no-op build, plain vs through the program. Compile actions are counted from `go build -x`.
// The remote is a folder (no network; --latency-ms adds a delay per remote call to stand in
// for one), or with --nginx Debian's nginx with WebDAV PUT on loopback spoken to as a Bazel
// HTTP cache by the project's own client (remote/config.js in dist, or the module
// named by BENCH_REMOTE_CONFIG). Prints figures and ratios; asserts nothing.
//
//   node bench/gocacheprog.mjs [--runs 3] [--platforms linux/amd64,linux/arm64] [--latency-ms 0] [--nginx] [--verbose]
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fmt, freePort, median, repo } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const runs = Number(opt('--runs', '3'));
const platforms = opt('--platforms', 'linux/amd64,linux/arm64').split(',');
const latencyMs = Number(opt('--latency-ms', '0'));
const useNginx = args.includes('--nginx');
const verbose = args.includes('--verbose');

// The cache program with a folder as its remote: written next to the work dir, run by go.
const PROGRAM = `
const { promises: fs } = require('node:fs');
const { createHash } = require('node:crypto');
const { dirname, join } = require('node:path');
const { goCacheProgramOnStdio } = require(${JSON.stringify(join(repo, 'packages/core/dist/gocache/main.js'))});
const root = process.env.BENCH_REMOTE_DIR, delay = Number(process.env.BENCH_LATENCY_MS || 0);
const wait = () => (delay ? new Promise((r) => setTimeout(r, delay)) : undefined);
const put = async (p, b) => { await fs.mkdir(dirname(p), { recursive: true }); const t = p + '.' + process.pid + Math.random() + '.tmp'; await fs.writeFile(t, b); await fs.rename(t, p); };
const stats = { hits: 0, misses: 0, bytesDown: 0, bytesUp: 0, ms: 0, errors: 0 };
const remote = {
  name: 'folder-remote',
  async getEntry(area, key) { await wait(); return fs.readFile(join(root, area, key)).catch(() => undefined); },
  async putEntry(area, key, bytes) { await wait(); await put(join(root, area, key), bytes); },
  async hasBlob(d) { await wait(); return fs.stat(join(root, 'cas', d.slice(7))).then(() => true, () => false); },
  async getBlob(d, dest) {
    await wait();
    const b = await fs.readFile(join(root, 'cas', d.slice(7))).catch(() => undefined);
    if (!b || 'sha256:' + createHash('sha256').update(b).digest('hex') !== d) return false;
    await put(dest, b); return true;
  },
  async putBlob(d, size, path) { await wait(); await put(join(root, 'cas', d.slice(7)), await fs.readFile(path)); },
  stats: () => stats,
};
const url = process.env.BENCH_REMOTE_URL;
const http = url && require(process.env.BENCH_REMOTE_CONFIG || ${JSON.stringify(join(repo, 'packages/core/dist/remote/config.js'))}).remoteCacheFrom({ env: { NX_FNBUILD_REMOTE_CACHE: url } });
goCacheProgramOnStdio(() => (http ? { remote: http, mode: 'read-write' } : root ? { remote, mode: 'read-write' } : undefined)).then((code) => process.stdout.write('', () => process.exit(code)));
`;

const work = mkdtempSync(join(tmpdir(), 'fnbuild-bench-gocache-'));
const programFile = join(work, 'program.cjs');
writeFileSync(programFile, PROGRAM);

/** nginx serving `dir` with WebDAV PUT on a free loopback port: a Bazel HTTP cache. */
async function startNginx(dir) {
  const port = await freePort();
  mkdirSync(join(dir, 'data'), { recursive: true });
  // nginx's workers run as another user when started by root: they must reach and write the data folder.
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'data'), 0o777);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `pid ${dir}/nginx.pid; error_log ${dir}/error.log; events {}
http { access_log off; client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;
  server { listen 127.0.0.1:${port}; root ${dir}/data; client_max_body_size 0; location / { dav_methods PUT; create_full_put_path on; } } }\n`,
  );
  const child = spawn('nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`http://127.0.0.1:${port}/`).then(
        () => true,
        () => false,
      )
    )
      return {
        url: `http://127.0.0.1:${port}/cache`,
        stop: () => {
          child.kill();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('nginx did not start (apt-get install nginx)');
}

function go(argv, { cwd, env }) {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn('go', argv, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`go ${argv.join(' ')} in ${cwd} exited ${code}:\n${err.slice(-2000)}`));
      if (verbose) for (const l of err.split('\n')) if (/^(gocacheprog|warning)/.test(l)) console.log(`    ${l}`);
      resolve({ ms: performance.now() - t, compiles: (err.match(/\/compile -o /g) ?? []).length });
    });
  });
}

let machines = 0;
/** A machine: a checkout of examples/hello, its own GOCACHE and store; `prog` routes Go's cache through the program. */
function machine(platform, { prog, remote }) {
  const remoteEnv = remote?.startsWith('http') ? { BENCH_REMOTE_URL: remote } : remote ? { BENCH_REMOTE_DIR: remote } : {};
  const root = join(work, `m${++machines}`);
  const src = join(root, 'hello');
  cpSync(join(repo, 'examples/hello'), src, { recursive: true, filter: (s) => !s.includes('/bin') });
  const [GOOS, GOARCH] = platform.split('/');
  const env = { ...process.env, GOOS, GOARCH, CGO_ENABLED: '0', GOFLAGS: '', GOPROXY: 'off', GOTOOLCHAIN: 'local', GOCACHE: join(root, 'gocache') };
  if (prog)
    Object.assign(env, {
      GOCACHEPROG: `${process.execPath} ${programFile}`,
      NX_FNBUILD_CACHE_DIR: join(root, 'store'),
      BENCH_LATENCY_MS: String(latencyMs),
      ...remoteEnv,
      ...(verbose && { NX_FNBUILD_GOCACHEPROG_VERBOSE: '1' }),
    });
  const file = join(src, 'internal/greeting/greeting.go');
  const original = readFileSync(file, 'utf8');
  return {
    /** The one-line change of commit `n` (0: the checkout as it is). */
    checkout: (n) => writeFileSync(file, n ? original.replace('name = "world"', `name = "world ${n}"`) : original),
    build: () => go(['build', '-x', '-trimpath', '-buildvcs=false', '-o', join(root, 'bin') + '/', './cmd/...'], { cwd: src, env }),
  };
}

const line = (label, ms, compiles, base) =>
  console.log(`  ${label.padEnd(44)} ${fmt(ms).padStart(9)}  ${String(compiles).padStart(4)} compiles${base ? `  ${(ms / base).toFixed(2)}×` : ''}`);
const goVersion = await new Promise((r) => spawn('go', ['version']).stdout.on('data', (d) => r(String(d).trim())));
const nginx = useNginx ? await startNginx(mkdtempSync(join(tmpdir(), 'fnbuild-bench-nginx-'))) : undefined;
console.log(
  `bench: GOCACHEPROG on examples/hello (client+server), ${runs} runs per figure (median), remote: ${nginx ? 'nginx WebDAV (Bazel HTTP) on loopback' : 'a folder'}${latencyMs ? ` + ${latencyMs} ms per call` : ''}, ${goVersion}`,
);

for (const platform of platforms) {
  const remote = nginx ? `${nginx.url}/${platform.replace('/', '_')}` : join(work, `remote-${platform.replace('/', '_')}`);
  if (!nginx) mkdirSync(remote);
  const warm = machine(platform, { prog: false });
  const viaProg = machine(platform, { prog: true, remote });
  const coldPlain = (await warm.build()).ms; // also warms `warm` for commit 0
  const coldProg = await viaProg.build(); // fills the remote with commit 0
  const w = [],
    p = [],
    r = [],
    noopPlain = [],
    noopProg = [];
  for (let i = 1; i <= runs; i++) {
    warm.checkout(i);
    w.push(await warm.build());
    noopPlain.push(await warm.build());
    viaProg.checkout(i);
    p.push(await viaProg.build());
    noopProg.push(await viaProg.build());
    const clean = machine(platform, { prog: true, remote });
    clean.checkout(runs + i); // a change no machine has built: what CI sees after a push
    r.push(await clean.build());
  }
  const ms = (xs) => median(xs.map((x) => x.ms));
  const compiles = (xs) => median(xs.map((x) => x.compiles));
  const base = ms(w);
  console.log(`${platform}: one-line change`);
  line('warm machine, plain GOCACHE (the peer)', base, compiles(w));
  line('clean machine, plain GOCACHE (cold)', coldPlain, '-', base);
  line('clean machine, GOCACHEPROG + warm remote', ms(r), compiles(r), base);
  line('warm machine, through GOCACHEPROG', ms(p), compiles(p), base);
  console.log(`${platform}: no-op build and cold build`);
  line('no-op, plain GOCACHE', ms(noopPlain), compiles(noopPlain));
  line('no-op, through GOCACHEPROG', ms(noopProg), compiles(noopProg), ms(noopPlain));
  line('cold, through GOCACHEPROG (+ uploads)', coldProg.ms, coldProg.compiles, coldPlain);
}
nginx?.stop();
rmSync(work, { recursive: true, force: true });
