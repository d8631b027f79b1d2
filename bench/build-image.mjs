#!/usr/bin/env node
// Benchmark: nx-fnbuild's build-image against ko, both building examples/hello's two
// commands for linux/amd64 and linux/arm64 onto the same base (served by a registry on
// loopback) into an OCI layout: cold (empty GOCACHE and caches) and after a one-line
// edit. Prints figures and ratios; asserts nothing.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, exec, fmt, goTool, repo, startRegistry, time } from './lib.mjs';

const KO_VERSION = 'v0.19.1';
const platforms = ['linux/amd64', 'linux/arm64'];
// ko turns the layout path into a repository name: keep it lowercase.
const work = join(tmpdir(), `fnbuild-bench-image-${process.pid}`);
mkdirSync(work, { recursive: true });
const dir = join(work, 'hello');
cpSync(join(repo, 'examples/hello'), dir, { recursive: true, filter: (s) => !s.includes('/bin') && !s.includes('/dist') });
const registry = await startRegistry(join(work, 'registry'));
const ko = await goTool('github.com/google/ko', KO_VERSION, 'ko');
const env = (name) => ({ ...process.env, GOCACHE: join(work, `gocache-${name}`), GOFLAGS: '-buildvcs=false' });

try {
  // The shared base: a small two-platform image pushed once (built with our own tool; both sides pull it).
  const base = `${registry.host}/base:latest`;
  await exec(process.execPath, [
    cli,
    'push',
    '--project',
    join(dir, 'cmd/server'),
    '--workspace-root',
    work,
    '--name',
    'base',
    '--quiet',
    '--options',
    JSON.stringify({ platforms, version: '1', cacheDir: join(work, 'base-cache'), sbom: false }),
    '--push-options',
    JSON.stringify({ repository: `${registry.host}/base`, tags: ['latest'], insecureRegistries: [registry.host], sbom: false }),
  ]);

  const ours = () =>
    exec(
      process.execPath,
      [
        cli,
        'build-image',
        '--project',
        dir,
        '--workspace-root',
        dir,
        '--name',
        'hello',
        '--quiet',
        '--options',
        JSON.stringify({
          platforms,
          baseImage: base,
          insecureRegistries: [registry.host],
          version: '1.0.0',
          cacheDir: join(work, 'fnbuild-cache'),
          sbom: false,
          outputPath: join(work, 'out-ours'),
        }),
      ],
      { env: env('ours') },
    );
  const peer = () =>
    exec(
      ko,
      [
        'build',
        '--push=false',
        '--insecure-registry',
        '--oci-layout-path',
        join(work, 'out-ko'),
        '--platform',
        platforms.join(','),
        '--sbom=none',
        './cmd/client',
        './cmd/server',
      ],
      {
        cwd: dir,
        env: { ...env('ko'), KO_DEFAULTBASEIMAGE: base, KO_DOCKER_REPO: `${registry.host}/ko-hello` },
      },
    );

  const rows = [];
  const koCold = await time(peer);
  const oursCold = await time(ours);
  rows.push(['cold', koCold.wall, oursCold.wall]);
  const main = join(dir, 'cmd/server/main.go');
  writeFileSync(main, readFileSync(main, 'utf8').replace('listening on', 'listening on (edited)'));
  const koEdit = await time(peer);
  const oursEdit = await time(ours);
  rows.push(['one-line edit', koEdit.wall, oursEdit.wall]);
  const koNoop = await time(peer);
  const oursNoop = await time(ours);
  rows.push(['no change', koNoop.wall, oursNoop.wall]);

  console.log(`bench: examples/hello, 2 images × ${platforms.length} platforms on ${base}, ko ${KO_VERSION}`);
  console.log('\n| build | ko | nx-fnbuild | ratio |');
  console.log('|---|---|---|---|');
  for (const [name, k, o] of rows) console.log(`| ${name} | ${fmt(k)} | ${fmt(o)} | ${(o / k).toFixed(2)}× |`);
  console.log('\nwall time of a fresh process each; each side has its own empty GOCACHE at the start. targets: cold ≤ 1.0× ko, one-line edit ≤ 0.7× ko.');
} finally {
  registry.stop();
  rmSync(work, { recursive: true, force: true });
}
