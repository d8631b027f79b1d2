import type { ExecutorContext } from '@nx/devkit';
import type { CreateNodesV2 } from '@nx/devkit';
import { createDependencies } from './plugins/create-dependencies';
import { createNodesV2 } from './plugins/create-nodes';
import type { FnbuildPluginOptions } from './plugins/options';

/**
 * The Nx plugin: `plugins: ["nx-fnbuild"]` in nx.json. Nx 22 reads `createNodesV2`,
 * Nx 23+ prefers `createNodes`: both are the same (V2-style) pair.
 */
export { createNodesV2, createDependencies };
export const createNodes: CreateNodesV2<FnbuildPluginOptions> = createNodesV2;
export type { FnbuildPluginOptions } from './plugins/options';

/*
 * The executors, for calling them from code. Nx itself loads them through executors.json;
 * here they load on first call, because Nx loads this entry for every command and the
 * engine behind them is only needed when one runs.
 */
type Executor = (options: Record<string, unknown>, context: ExecutorContext) => Promise<{ success: boolean }>;
export const buildBinariesExecutor: Executor = (options, context) =>
  (require('./executors/build-binaries/executor') as { default: Executor }).default(options, context);
export const buildImageExecutor: Executor = (options, context) =>
  (require('./executors/build-image/executor') as { default: Executor }).default(options, context);
export const pushExecutor: Executor = (options, context) => (require('./executors/push/executor') as { default: Executor }).default(options, context);
