import type * as Core from '@nx-fnbuild/core';

let core: typeof Core | undefined;

/**
 * The engine, loaded on first use. Nx loads the plugin for every command (`nx show
 * projects` included); with its memos warm, inference and the graph never need the
 * engine, so they do not pay for loading it. Go facts come from the small
 * `@nx-fnbuild/core/workspace` entry instead (see docs/architecture-skin.md).
 */
export function lazyCore(): typeof Core {
  return (core ??= require('@nx-fnbuild/core') as typeof Core);
}
