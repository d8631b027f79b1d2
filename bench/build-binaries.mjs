#!/usr/bin/env node
// Benchmark: nx-fnbuild's build-binaries against a plain `go build` loop with the same
// parallelism, on the bundled example (2 targets × 5 platforms), cold and no-op.
// Prints figures and ratios; asserts nothing (speed is proven here, never in tests).
//
//   node bench/build-binaries.mjs [--runs 5] [--skip-cold]
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, exec, fmt, median, repo, time } from './lib.mjs';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 5;
const skipCold = args.includes('--skip-cold');
const parallelism = availableParallelism();
const platforms = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'darwin/arm64', 'windows/amd64'];
const targets = ['client', 'server'];
const version = '1.0.0';
const ldflags = `-s -w -X main.version=${version}`;

const goEnvFor = (p) => {
  const [os, arch, variant] = p.split('/');
  const env = { GOOS: os, GOARCH: arch, CGO_ENABLED: '0' };
  if (arch === 'arm') env.GOARM = (variant ?? 'v7').slice(1);
  return env;
};
const folder = (p) => p.replaceAll('/', '_');

async function pool(jobs, n) {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) await jobs[next++]();
    }),
  );
}

/** The peer: what a Makefile or a Dockerfile stage does, one `go build` per target × platform. */
async function plainGoBuild(dir, env) {
  const jobs = targets.flatMap((t) =>
    platforms.map(
      (p) => () =>
        exec(
          'go',
          [
            'build',
            '-trimpath',
            '-buildvcs=false',
            `-ldflags=${ldflags}`,
            '-o',
            join(dir, 'bin-plain', folder(p), t + (p.startsWith('windows') ? '.exe' : '')),
            `./cmd/${t}`,
          ],
          {
            cwd: dir,
            env: { ...env, ...goEnvFor(p) },
          },
        ),
    ),
  );
  await pool(jobs, parallelism);
}

async function fnbuild(dir, env, cacheDir) {
  const out = await exec(
    process.execPath,
    [
      cli,
      'build-binaries',
      '--project',
      dir,
      '--workspace-root',
      dir,
      '--platforms',
      platforms.join(','),
      `--ldflags=-s -w -X main.version={version}`,
      '--version',
      version,
      '--cache-dir',
      cacheDir,
      '--parallelism',
      String(parallelism),
      '--quiet',
    ],
    { cwd: dir, env },
  );
  const m = /in (\d+(?:\.\d+)?)(ms|s) →/.exec(out);
  return m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : NaN; // the engine's own time, without Node start-up
}

const work = mkdtempSync(join(tmpdir(), 'fnbuild-bench-'));
const dir = join(work, 'hello');
cpSync(join(repo, 'examples/hello'), dir, { recursive: true, filter: (s) => !s.includes('/bin') });
const cacheDir = join(work, 'fnbuild-cache');
const baseEnv = { ...process.env };
console.log(
  `bench: examples/hello, ${targets.length} targets × ${platforms.length} platforms, parallelism ${parallelism}, ${(await exec('go', ['version'])).trim()}`,
);

try {
  const rows = [];
  if (!skipCold) {
    // Each side gets its own empty GOCACHE: a cold build compiles the standard library per platform.
    const plainCold = await time(() => plainGoBuild(dir, { ...baseEnv, GOCACHE: join(work, 'gocache-plain') }));
    const oursCold = await time(() => fnbuild(dir, { ...baseEnv, GOCACHE: join(work, 'gocache-ours') }, cacheDir));
    rows.push(['cold', plainCold.wall, oursCold.wall, oursCold.inner]);
  } else {
    await plainGoBuild(dir, baseEnv);
    await fnbuild(dir, baseEnv, cacheDir);
  }
  const noopEnvPlain = { ...baseEnv, GOCACHE: skipCold ? (baseEnv.GOCACHE ?? '') : join(work, 'gocache-plain') };
  const noopEnvOurs = { ...baseEnv, GOCACHE: skipCold ? (baseEnv.GOCACHE ?? '') : join(work, 'gocache-ours') };
  if (!noopEnvPlain.GOCACHE) delete noopEnvPlain.GOCACHE;
  if (!noopEnvOurs.GOCACHE) delete noopEnvOurs.GOCACHE;
  await new Promise((r) => setTimeout(r, 2500)); // let fresh outputs age past the racy-clean window, as they would between real builds
  const plain = [],
    ours = [],
    oursInner = [];
  for (let i = 0; i < runs; i++) {
    plain.push((await time(() => plainGoBuild(dir, noopEnvPlain))).wall);
    const o = await time(() => fnbuild(dir, noopEnvOurs, cacheDir));
    ours.push(o.wall);
    oursInner.push(o.inner);
  }
  rows.push(['no-op', median(plain), median(ours), median(oursInner)]);

  console.log('\n| build | plain go build | nx-fnbuild (process) | ratio | nx-fnbuild (engine) | ratio |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, p, o, inner] of rows) {
    console.log(`| ${name} | ${fmt(p)} | ${fmt(o)} | ${(o / p).toFixed(2)}× | ${fmt(inner)} | ${(inner / p).toFixed(2)}× |`);
  }
  console.log(
    `\nno-op: median of ${runs}. "process" = a fresh \`fnbuild\` process (Node start-up included); "engine" = buildBinaries() itself, as the Nx executor calls it.`,
  );
  console.log('targets: cold ≤ 1.05× plain; no-op ≤ 0.25× plain.');
} finally {
  rmSync(work, { recursive: true, force: true });
}
