#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { buildBinaries, defaultCacheDir } from './binaries/build-binaries';
import { buildNotes } from './build/notes';
import { consoleReporter, formatMs } from './graph/console-reporter';
import { DEFAULT_MAX_CACHE_BYTES, parseSize, pruneStore } from './cache/prune';
import { FnbuildError, isUserError } from './util/errors';
import { buildImage } from './images/build-image';
import { pushImages } from './publish/publish';
import { abortOnSignals } from './process/run';
import { goCacheProgramOnStdio } from './gocache/main';
import type { RemoteCacheReport } from './binaries/build';

const USAGE = `fnbuild: the nx-fnbuild engine without Nx

  fnbuild build-binaries [--project DIR] [--workspace-root DIR] [--platforms linux/amd64,linux/arm64]
                         [--targets ./cmd/server] [--ldflags="-X main.version={version}"] [--version V]
                         [--tags a,b] [--flags=-race] [--cgo] [--output-path DIR] [--parallelism N]
                         [--cache-dir DIR] [--function-name Hello] [--quiet]
  fnbuild build-image [--project DIR] [--workspace-root DIR] [--name NAME] --options '{"platforms":["linux/amd64"],...}'
  fnbuild push [--project DIR] [--workspace-root DIR] [--name NAME] --options '<build-image options>' --push-options '{"repository":"..."}'
  fnbuild prune [--workspace-root DIR] [--cache-dir DIR] [--max-size 5GiB]

  build-image and push take the executors' options as JSON (see the README).
`;

function json(text: string | undefined, flag: string): Record<string, unknown> {
  if (!text) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new FnbuildError(`${flag} is not JSON: ${(err as Error).message}`, `Write it like ${flag} '{"platforms":["linux/amd64"]}'.`);
  }
}

const OPTIONS = {
  project: { type: 'string' },
  'workspace-root': { type: 'string' },
  platforms: { type: 'string' },
  targets: { type: 'string', multiple: true },
  ldflags: { type: 'string' },
  version: { type: 'string' },
  tags: { type: 'string' },
  flags: { type: 'string', multiple: true },
  cgo: { type: 'boolean' },
  'output-path': { type: 'string' },
  parallelism: { type: 'string' },
  'cache-dir': { type: 'string' },
  'function-name': { type: 'string' },
  'max-size': { type: 'string' },
  quiet: { type: 'boolean' },
  name: { type: 'string' },
  options: { type: 'string' },
  'push-options': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS }>>['values'];

/** build-binaries' options from its flags (the others take JSON). */
function binariesOptions(values: Values): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries({
      platforms: values.platforms,
      targets: values.targets,
      ldflags: values.ldflags,
      version: values.version,
      tags: values.tags,
      flags: values.flags,
      cgo: values.cgo,
      outputPath: values['output-path'],
      parallelism: values.parallelism,
      cacheDir: values['cache-dir'],
      functionName: values['function-name'],
    }).filter(([, v]) => v !== undefined),
  );
}

/** The remote cache's summary line, and why Go's own cache does not use it (if so). */
function remoteLines(r: { remoteCache?: RemoteCacheReport }): string[] {
  if (!r.remoteCache) return [];
  return [r.remoteCache.summary, ...(r.remoteCache.goCacheNote ? [`note: ${r.remoteCache.goCacheNote}`] : [])];
}

async function main(argv: string[], signal: AbortSignal): Promise<number> {
  const [command, ...rest] = argv;
  // Go's cache program (GOCACHEPROG): no flags, configured by the environment only (a remote URL can hold credentials).
  if (command === 'gocacheprog') return goCacheProgramOnStdio();
  const { values } = parseArgs({ args: rest, options: OPTIONS });
  const workspaceRoot = resolve(values['workspace-root'] ?? '.');
  if (command === 'build-binaries') {
    const started = performance.now();
    const r = await buildBinaries({
      workspaceRoot,
      projectRoot: resolve(values.project ?? '.'),
      options: binariesOptions(values),
      report: values.quiet ? undefined : consoleReporter((l) => process.stderr.write(l + '\n')),
      signal,
    });
    for (const line of [...buildNotes(r, process.env, workspaceRoot), ...remoteLines(r)]) process.stderr.write(line + '\n');
    process.stderr.write(
      `${r.artifacts.length} binaries (${r.built} built, ${r.cached} cached) in ${formatMs(performance.now() - started)} → ${r.outputPath}\n`,
    );
    return 0;
  }
  const report = values.quiet ? undefined : consoleReporter((l) => process.stderr.write(l + '\n'));
  const projectRoot = resolve(values.project ?? '.');
  if (command === 'build-image') {
    const started = performance.now();
    const r = await buildImage({ workspaceRoot, projectRoot, projectName: values.name, options: json(values.options, '--options'), report, signal });
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    for (const line of [...buildNotes(r, process.env, workspaceRoot), ...remoteLines(r)]) process.stderr.write(line + '\n');
    for (const img of r.images) process.stdout.write(`${img.name}@${img.digest} ${img.output.join(' ')}\n`);
    process.stderr.write(`${r.images.length} image(s) in ${formatMs(performance.now() - started)}\n`);
    return 0;
  }
  if (command === 'push') {
    const started = performance.now();
    const pushed = await pushImages({
      workspaceRoot,
      projectRoot,
      projectName: values.name,
      buildOptions: json(values.options, '--options'),
      options: json(values['push-options'], '--push-options'),
      report,
      signal,
    });
    for (const img of pushed) for (const ref of img.refs) process.stdout.write(`${ref.repository}:${ref.tag}@${ref.digest}\n`);
    for (const line of remoteLines(pushed)) process.stderr.write(line + '\n');
    const b = pushed.reduce((n, i) => ({ up: n.up + i.blobs.uploaded, mnt: n.mnt + i.blobs.mounted, ms: n.ms + i.ms }), { up: 0, mnt: 0, ms: 0 });
    process.stderr.write(`pushed in ${formatMs(performance.now() - started)} (registry ${formatMs(b.ms)}; ${b.up} blobs uploaded, ${b.mnt} mounted)\n`);
    return 0;
  }
  if (command === 'prune') {
    const dir = defaultCacheDir(workspaceRoot, process.env, values['cache-dir']);
    const r = await pruneStore(dir, values['max-size'] ? parseSize(values['max-size']) : DEFAULT_MAX_CACHE_BYTES);
    process.stdout.write(`pruned ${dir}: ${r.entriesRemoved} entries and ${r.blobsRemoved} blobs removed, ${r.bytesBefore} → ${r.bytesAfter} bytes\n`);
    return 0;
  }
  process.stderr.write(USAGE);
  return command ? 2 : 0;
}

// Ctrl-C or a SIGTERM stops the build: its go processes die, and the exit code says why (130).
const interrupt = abortOnSignals();
main(process.argv.slice(2), interrupt.signal).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (interrupt.signal.aborted) {
      process.stderr.write(`error: ${(interrupt.signal.reason as Error).message}\n`);
      process.exit(130);
    }
    if ((err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${(err as Error).message}\n\n${USAGE}`);
      process.exit(2);
    }
    process.stderr.write(isUserError(err) ? `error: ${err.message}\n` : `${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
