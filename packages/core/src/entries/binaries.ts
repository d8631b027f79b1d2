// `@nx-fnbuild/core/binaries`: build-binaries alone, without images, registries or publishing.
export * from './common';
export {
  buildBinaries,
  BuildFailedError,
  defaultCacheDir,
  type Artifact,
  type BuildBinariesRequest,
  type BuildBinariesResult,
} from '../binaries/build-binaries';
export { CompileError } from '../binaries/compile';
export { buildBinariesOptionsSchema, buildSettingsSchema, parseOptions, type BuildBinariesOptions } from '../binaries/options';
export type { Build, BuildRequest } from '../binaries/build';
