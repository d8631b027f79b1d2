// The whole API. Callers that run one command load its entry instead (`@nx-fnbuild/core/binaries`,
// `/images`, `/publish`, `/common`, `/workspace`): each loads only the modules that command needs.
export * from './platform/platform';
export * from './entries/binaries';
export * from './entries/images';
export * from './entries/publish';
export type { ProjectPlan, PlanRequest, PlanInput } from './plan/plan';
export type { ImageDefaults } from './plan/image';
export { pruneStore, parseSize, DEFAULT_MAX_CACHE_BYTES, type PruneResult } from './cache/prune';
export { loadToolchain, parseGoVersion, type Toolchain } from './go/toolchain';
export { parseGoHead, constraintExcludesAlways, isBuildableGoFile, type GoFileHead } from './go/source';
export { goImportGraph, readGoWork, readModReplaces, type GoImportGraph } from './go/graph';
export { readFuncYaml, parseFuncYaml, FUNC_YAML, FN_SCHEMA_VERSION, type FuncYaml, type FuncYamlData, type FuncYamlPins } from './functions/func-yaml';
export { ACCEPTED_SIGNATURES } from './functions/handler';
