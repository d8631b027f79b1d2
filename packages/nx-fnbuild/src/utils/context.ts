import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { abortOnSignals, isUserError } from '@nx-fnbuild/core/common';

export function projectRootOf(context: ExecutorContext): string {
  const name = context.projectName;
  const project = name ? context.projectsConfigurations?.projects[name] : undefined;
  if (!project) throw new Error(`nx-fnbuild: no project configuration for ${name ?? '(unnamed project)'}`);
  return join(context.root, project.root);
}

/**
 * Options as the core wants them: {projectRoot}/{workspaceRoot} tokens replaced (Nx does
 * this for most paths, not inside arrays and objects), and Nx's own bookkeeping keys
 * (__unparsed__ and friends) dropped so that only real options are validated.
 */
export function resolveTokens(options: Record<string, unknown>, context: ExecutorContext): Record<string, unknown> {
  const project = context.projectName ? context.projectsConfigurations?.projects[context.projectName] : undefined;
  const replace = (v: unknown): unknown =>
    typeof v === 'string'
      ? v
          .split('{projectRoot}')
          .join(project?.root ?? '.')
          .split('{workspaceRoot}')
          .join(context.root)
          .split('{projectName}')
          .join(context.projectName ?? '')
      : Array.isArray(v)
        ? v.map(replace)
        : v && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replace(x)]))
          : v;
  const out = Object.fromEntries(
    Object.entries(options)
      .filter(([k]) => !k.startsWith('__'))
      .map(([k, v]) => [k, replace(v)]),
  );
  // Nx keeps --version for itself, so the command line says --build-version.
  if ('buildVersion' in out) {
    out.version = out.buildVersion;
    delete out.buildVersion;
  }
  return out;
}

/** A user error is its message; anything else is a bug and keeps its stack. */
export function reportFailure(err: unknown): void {
  const text = isUserError(err) ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`\nnx-fnbuild: ${text}\n`);
}

/** Runs a build with a signal that SIGINT and SIGTERM abort (Ctrl-C, Nx stopping the task): its go processes die with it. */
export async function interruptible<T>(build: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const interrupt = abortOnSignals();
  try {
    return await build(interrupt.signal);
  } finally {
    interrupt.dispose();
  }
}
