#!/usr/bin/env node
// Benchmark: nx-fnbuild's push against `skopeo copy --all` of the same OCI layout to the
// same registry (CNCF Distribution on loopback): a first push and an unchanged re-push of
// the example's two-platform server image. Prints figures and ratios; asserts nothing.
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, exec, fmt, median, repo, startRegistry, time } from './lib.mjs';

const runs = 5;
const work = join(tmpdir(), `fnbuild-bench-push-${process.pid}`);
mkdirSync(work, { recursive: true });
const registry = await startRegistry(join(work, 'registry'));
const project = join(repo, 'examples/hello/cmd/server');
const build = {
  platforms: ['linux/amd64', 'linux/arm64'],
  version: '1.0.0',
  cacheDir: join(work, 'cache'),
  outputPath: join(work, 'layout'),
  sbom: false,
  tags: ['latest'],
};

const ours = (repository) =>
  exec(process.execPath, [
    cli,
    'push',
    '--project',
    project,
    '--workspace-root',
    work,
    '--name',
    'hello',
    '--quiet',
    '--options',
    JSON.stringify(build),
    '--push-options',
    JSON.stringify({ repository: `${registry.host}/${repository}`, insecureRegistries: [registry.host], sbom: false }),
  ]).then((out) => {
    const m = /registry (\d+(?:\.\d+)?)(ms|s);/.exec(out);
    return m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : NaN;
  });
const skopeo = (repository) =>
  exec('skopeo', ['copy', '--all', '--quiet', '--dest-tls-verify=false', `oci:${build.outputPath}:latest`, `docker://${registry.host}/${repository}:latest`]);

try {
  // Build the image first (not measured): both sides push the same layout.
  await exec(process.execPath, [
    cli,
    'build-image',
    '--project',
    project,
    '--workspace-root',
    work,
    '--name',
    'hello',
    '--quiet',
    '--options',
    JSON.stringify(build),
  ]);
  const first = { ours: [], oursRegistry: [], skopeo: [] };
  const again = { ours: [], oursRegistry: [], skopeo: [] };
  for (let i = 0; i < runs; i++) {
    const s1 = await time(() => skopeo(`skopeo-${i}`));
    const o1 = await time(() => ours(`ours-${i}`));
    const s2 = await time(() => skopeo(`skopeo-${i}`));
    const o2 = await time(() => ours(`ours-${i}`));
    first.skopeo.push(s1.wall);
    first.ours.push(o1.wall);
    first.oursRegistry.push(o1.inner);
    again.skopeo.push(s2.wall);
    again.ours.push(o2.wall);
    again.oursRegistry.push(o2.inner);
  }
  console.log(`bench: push of examples/hello's server image (linux/amd64 + linux/arm64) to Distribution on loopback, median of ${runs}`);
  console.log('\n| push | skopeo copy --all | nx-fnbuild (process) | ratio | nx-fnbuild (registry part) | ratio |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, r] of [
    ['first', first],
    ['unchanged', again],
  ]) {
    const [s, o, oi] = [median(r.skopeo), median(r.ours), median(r.oursRegistry)];
    console.log(`| ${name} | ${fmt(s)} | ${fmt(o)} | ${(o / s).toFixed(2)}× | ${fmt(oi)} | ${(oi / s).toFixed(2)}× |`);
  }
  console.log('\n"process" = a fresh `fnbuild push` (Node start-up and the build-image no-op included); "registry part" = the push itself.');
  console.log('targets: first push ≤ 1.0× skopeo; unchanged re-push < 60 ms.');
} finally {
  registry.stop();
  rmSync(work, { recursive: true, force: true });
}
