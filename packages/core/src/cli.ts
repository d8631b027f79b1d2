#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { buildBinaries, defaultCacheDir } from './binaries/build-binaries';
import { consoleReporter, formatMs } from './graph/console-reporter';
import { DEFAULT_MAX_CACHE_BYTES, parseSize, pruneStore } from './cache/prune';
import { isUserError } from './util/errors';

const USAGE = `fnbuild: the nx-fnbuild engine without Nx

  fnbuild build-binaries [--project DIR] [--workspace-root DIR] [--platforms linux/amd64,linux/arm64]
                         [--targets ./cmd/server] [--ldflags="-X main.version={version}"] [--version V]
                         [--tags a,b] [--flags=-race] [--cgo] [--output-path DIR] [--parallelism N]
                         [--cache-dir DIR] [--quiet]
  fnbuild prune [--workspace-root DIR] [--cache-dir DIR] [--max-size 5GiB]
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
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
      'max-size': { type: 'string' },
      quiet: { type: 'boolean' },
    },
  });
  const workspaceRoot = resolve(values['workspace-root'] ?? '.');
  if (command === 'build-binaries') {
    const started = performance.now();
    const options = Object.fromEntries(
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
      }).filter(([, v]) => v !== undefined),
    );
    const r = await buildBinaries({
      workspaceRoot,
      projectRoot: resolve(values.project ?? '.'),
      options,
      report: values.quiet ? undefined : consoleReporter((l) => process.stderr.write(l + '\n')),
    });
    process.stderr.write(`${r.artifacts.length} binaries (${r.built} built, ${r.cached} cached) in ${formatMs(performance.now() - started)} → ${r.outputPath}\n`);
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if ((err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${(err as Error).message}\n\n${USAGE}`);
      process.exit(2);
    }
    process.stderr.write(isUserError(err) ? `error: ${err.message}\n` : `${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
