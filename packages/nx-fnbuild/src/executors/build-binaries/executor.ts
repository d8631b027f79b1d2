import type { ExecutorContext } from '@nx/devkit';
import { describePins, buildBinaries, consoleReporter, formatMs } from '@nx-fnbuild/core';
import { projectRootOf, reportFailure, resolveTokens } from '../../utils/context';
import { gitSourceLines } from '../../utils/git-source';

/** nx-fnbuild:build-binaries: a thin layer over the core's buildBinaries. */
export default async function buildBinariesExecutor(options: Record<string, unknown>, context: ExecutorContext): Promise<{ success: boolean }> {
  const started = performance.now();
  const projectRoot = projectRootOf(context);
  try {
    const r = await buildBinaries({
      workspaceRoot: context.root,
      projectRoot,
      options: resolveTokens(options, context),
      report: consoleReporter((line) => process.stdout.write(line + '\n')),
    });
    for (const line of gitSourceLines(r.source, context)) process.stdout.write(`${line}\n`);
    if (r.pinned) for (const line of describePins(r.pinned, process.env, context.root)) process.stdout.write(`${line}\n`);
    process.stdout.write(`\n${r.artifacts.length} binaries (${r.built} built, ${r.cached} cached) in ${formatMs(performance.now() - started)} → ${r.outputPath}\n`);
    return { success: true };
  } catch (err) {
    reportFailure(err);
    return { success: false };
  }
}
