export * from './platform/platform';
export { buildBinaries, BuildFailedError, defaultCacheDir, type Artifact, type BuildBinariesRequest, type BuildBinariesResult } from './binaries/build-binaries';
export { CompileError } from './binaries/compile';
export { buildBinariesOptionsSchema, buildSettingsSchema, parseOptions, type BuildBinariesOptions } from './binaries/options';
export { consoleReporter, formatMs } from './graph/console-reporter';
export type { NodeEvent, Reporter } from './graph/reporting';
export { pruneStore, parseSize, DEFAULT_MAX_CACHE_BYTES, type PruneResult } from './cache/prune';
export { loadToolchain, parseGoVersion, type Toolchain } from './go/toolchain';
export { FnbuildError, isUserError } from './util/errors';
