import type { ExecutorContext } from '@nx/devkit';
import { buildImage, consoleReporter, formatMs } from '@nx-fnbuild/core/images';
import { interruptible, projectRootOf, reportFailure, resolveTokens } from '../../utils/context';
import { executorNotes } from '../../utils/notes';

/** nx-fnbuild:build-image: a thin layer over the core's buildImage. */
export default async function buildImageExecutor(options: Record<string, unknown>, context: ExecutorContext): Promise<{ success: boolean }> {
  const started = performance.now();
  try {
    const r = await interruptible((signal) =>
      buildImage({
        workspaceRoot: context.root,
        projectRoot: projectRootOf(context),
        projectName: context.projectName,
        options: resolveTokens(options, context),
        report: consoleReporter((line) => process.stdout.write(line + '\n')),
        signal,
      }),
    );
    process.stdout.write('\n');
    for (const img of r.images) {
      if (img.base) process.stdout.write(`base ${img.base.name}${img.base.digest ? `@${img.base.digest}` : ''}\n`);
      const where = img.output.map((o) => o.slice(context.root.length + 1)).join(', ');
      process.stdout.write(`${img.name}@${img.digest} (${img.platforms.map((p) => p.platform).join(', ')}) tags ${img.tags.join(', ')} → ${where}\n`);
    }
    for (const w of r.warnings) process.stdout.write(`warning: ${w}\n`);
    for (const line of executorNotes(r, context)) process.stdout.write(`${line}\n`);
    process.stdout.write(`${r.images.length} image${r.images.length === 1 ? '' : 's'} in ${formatMs(performance.now() - started)}\n`);
    return { success: true };
  } catch (err) {
    reportFailure(err);
    return { success: false };
  }
}
