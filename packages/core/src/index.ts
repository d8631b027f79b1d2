export * from './platform/platform';
export {
  buildBinaries,
  BuildFailedError,
  defaultCacheDir,
  type Artifact,
  type BuildBinariesRequest,
  type BuildBinariesResult,
} from './binaries/build-binaries';
export { CompileError } from './binaries/compile';
export { buildBinariesOptionsSchema, buildSettingsSchema, parseOptions, type BuildBinariesOptions } from './binaries/options';
export { consoleReporter, formatMs } from './graph/console-reporter';
export type { NodeEvent, Reporter } from './graph/reporting';
export { pruneStore, parseSize, DEFAULT_MAX_CACHE_BYTES, type PruneResult } from './cache/prune';
export { loadToolchain, parseGoVersion, type Toolchain } from './go/toolchain';
export { FnbuildError, isUserError } from './util/errors';
export { buildImage, type BuildImageRequest, type BuildImageResult, type BuiltImage } from './images/build-image';
export { buildImageOptionsSchema, type BuildImageOptions } from './images/options';
export type { Base, PlatformBase, BaseLayer } from './images/base';
export type { Build, BuildRequest } from './binaries/build';
export type { ProjectPlan, PlanRequest, PlanInput } from './plan/plan';
export type { ImageDefaults } from './plan/image';
export { abortOnSignals } from './process/run';
export { buildNotes } from './build/notes';
export { pushImages, type PushRequest, type PushedImage } from './publish/publish';
export { pushOptionsSchema, type PushOptions } from './publish/options';
export { parseGoHead, constraintExcludesAlways, isBuildableGoFile, type GoFileHead } from './go/source';
export { goImportGraph, readGoWork, readModReplaces, type GoImportGraph } from './go/graph';
export { readFuncYaml, parseFuncYaml, FUNC_YAML, FN_SCHEMA_VERSION, type FuncYaml, type FuncYamlData, type FuncYamlPins } from './functions/func-yaml';
export { isMovableRef, type ResolvedSource } from './functions/git-source';
export { ACCEPTED_SIGNATURES } from './functions/handler';
