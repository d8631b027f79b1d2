#!/usr/bin/env node
// Benchmark: a function project (examples/hello-fn: an exported handler, no main package)
// built by nx-fnbuild, against the same server written by hand as a main package and built
// with plain `go build` (the peer compiles the very entrypoint nx-fnbuild generates, copied
// into cmd/server). Two platforms, cold, after an edit of the handler, and no-op.
// Prints figures and ratios; asserts nothing.
//
//   node bench/functions.mjs [--runs 5]
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, exec, fmt, median, repo, time } from './lib.mjs';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 5;
const parallelism = availableParallelism();
const platforms = ['linux/amd64', 'linux/arm64'];

const goEnvFor = (p) => {
  const [os, arch] = p.split('/');
  return { GOOS: os, GOARCH: arch, CGO_ENABLED: '0' };
};

const work = mkdtempSync(join(tmpdir(), 'fnbuild-bench-fn-'));
const ours = join(work, 'ours');
const peer = join(work, 'peer');
const copy = (to) => cpSync(join(repo, 'examples/hello-fn'), to, { recursive: true, filter: (s) => !s.includes('/bin') });
copy(ours);
copy(peer);
const cacheDir = join(work, 'fnbuild-cache');
const envOurs = { ...process.env, GOCACHE: join(work, 'gocache-ours'), GOFLAGS: '' };
const envPeer = { ...process.env, GOCACHE: join(work, 'gocache-peer'), GOFLAGS: '' };

async function fnbuild() {
  const out = await exec(
    process.execPath,
    [
      cli,
      'build-binaries',
      '--project',
      ours,
      '--workspace-root',
      ours,
      '--platforms',
      platforms.join(','),
      '--function-name',
      'Hello',
      '--cache-dir',
      cacheDir,
      '--parallelism',
      String(parallelism),
      '--quiet',
    ],
    { cwd: ours, env: envOurs },
  );
  const m = /in (\d+(?:\.\d+)?)(ms|s) →/.exec(out);
  return m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : NaN;
}
async function plain() {
  await Promise.all(
    platforms.map((p) =>
      exec('go', ['build', '-trimpath', '-buildvcs=false', '-o', join(peer, 'bin-plain', p.replace('/', '_'), 'server'), './cmd/server'], {
        cwd: peer,
        env: { ...envPeer, ...goEnvFor(p) },
      }),
    ),
  );
}
const edit = (dir, i) => {
  const f = join(dir, 'hello.go');
  writeFileSync(f, readFileSync(f, 'utf8').replace(/Hello(, [^%]*)?, %s!/, `Hello${i ? `, ${i}` : ''}, %s!`));
};

console.log(`bench: examples/hello-fn (a function), ${platforms.length} platforms, parallelism ${parallelism}, ${(await exec('go', ['version'])).trim()}`);
try {
  // Cold: each side its own empty GOCACHE. nx-fnbuild first, so its entrypoint exists to copy.
  const oursCold = await time(fnbuild);
  const entry = join(cacheDir, 'entrypoints', readdirSync(join(cacheDir, 'entrypoints'))[0], 'main.go');
  mkdirSync(join(peer, 'cmd', 'server'), { recursive: true });
  writeFileSync(join(peer, 'cmd', 'server', 'main.go'), readFileSync(entry, 'utf8'));
  const peerCold = await time(plain);
  const rows = [['cold', peerCold.wall, oursCold.wall, oursCold.inner]];

  const e = { peer: [], ours: [], inner: [] };
  for (let i = 1; i <= runs; i++) {
    edit(peer, i);
    edit(ours, i);
    e.peer.push((await time(plain)).wall);
    const o = await time(fnbuild);
    e.ours.push(o.wall);
    e.inner.push(o.inner);
  }
  rows.push(['handler edited', median(e.peer), median(e.ours), median(e.inner)]);

  await new Promise((r) => setTimeout(r, 2500)); // past the racy-clean window, as between real builds
  const n = { peer: [], ours: [], inner: [] };
  for (let i = 0; i < runs; i++) {
    n.peer.push((await time(plain)).wall);
    const o = await time(fnbuild);
    n.ours.push(o.wall);
    n.inner.push(o.inner);
  }
  rows.push(['no-op', median(n.peer), median(n.ours), median(n.inner)]);

  console.log('\n| build | hand-written main, go build | nx-fnbuild function (process) | ratio | nx-fnbuild (engine) | ratio |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, p, o, inner] of rows)
    console.log(`| ${name} | ${fmt(p)} | ${fmt(o)} | ${(o / p).toFixed(2)}× | ${fmt(inner)} | ${(inner / p).toFixed(2)}× |`);
  console.log(
    `\nedited and no-op: median of ${runs}. "process" = a fresh \`fnbuild\` process (Node start-up included); "engine" = buildBinaries() itself, as the Nx executor calls it.`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
