import type { ExecutorContext } from '@nx/devkit';
import { buildBinaries, consoleReporter, formatMs } from '@nx-fnbuild/core/binaries';
import { interruptible, projectRootOf, reportFailure, resolveTokens } from '../../utils/context';
import { executorNotes } from '../../utils/notes';

/** nx-fnbuild:build-binaries: a thin layer over the core's buildBinaries. */
export default async function buildBinariesExecutor(options: Record<string, unknown>, context: ExecutorContext): Promise<{ success: boolean }> {
  const started = performance.now();
  const projectRoot = projectRootOf(context);
  try {
    const r = await interruptible((signal) =>
      buildBinaries({
        workspaceRoot: context.root,
        projectRoot,
        options: resolveTokens(options, context),
        report: consoleReporter((line) => process.stdout.write(line + '\n')),
        signal,
      }),
    );
    for (const line of executorNotes(r, context)) process.stdout.write(`${line}\n`);
    process.stdout.write(
      `\n${r.artifacts.length} binaries (${r.built} built, ${r.cached} cached) in ${formatMs(performance.now() - started)} → ${r.outputPath}\n`,
    );
    return { success: true };
  } catch (err) {
    reportFailure(err);
    return { success: false };
  }
}
