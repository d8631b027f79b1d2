import type { ExecutorContext } from '@nx/devkit';
import { consoleReporter, formatMs, pushImages } from '@nx-fnbuild/core';
import { interruptible, projectRootOf, reportFailure, resolveTokens } from '../../utils/context';
import { remoteCacheNotes } from '../../utils/notes';

/**
 * nx-fnbuild:push: builds (or finds) the image with the build target's options, then
 * publishes it. Declare it with "cache": false and "dependsOn": ["build-image"].
 */
export default async function pushExecutor(options: Record<string, unknown>, context: ExecutorContext): Promise<{ success: boolean }> {
  const started = performance.now();
  try {
    const buildTarget = (options.buildTarget as string | undefined) ?? 'build-image';
    const project = context.projectName ? context.projectsConfigurations?.projects[context.projectName] : undefined;
    const target = project?.targets?.[buildTarget];
    if (!target) throw new Error(`push: project ${context.projectName} has no "${buildTarget}" target to build the image with (set buildTarget)`);
    const pushed = await interruptible((signal) =>
      pushImages({
        workspaceRoot: context.root,
        projectRoot: projectRootOf(context),
        projectName: context.projectName,
        buildOptions: resolveTokens(target.options ?? {}, context),
        options: resolveTokens(options, context),
        report: consoleReporter((line) => process.stdout.write(line + '\n')),
        signal,
      }),
    );
    process.stdout.write('\n');
    for (const img of pushed) {
      for (const r of img.refs) process.stdout.write(`${r.repository}:${r.tag}@${r.digest}\n`);
      for (const sbom of img.sboms) process.stdout.write(`${sbom.repository}:${sbom.tag}@${sbom.digest} (SBOM)\n`);
      const b = img.blobs;
      process.stdout.write(
        `  blobs: ${b.uploaded} uploaded, ${b.mounted} mounted, ${b.exists} already there${img.unchanged.length ? `; unchanged in ${img.unchanged.join(', ')}` : ''}\n`,
      );
    }
    for (const line of remoteCacheNotes(pushed)) process.stdout.write(`${line}\n`);
    process.stdout.write(`pushed in ${formatMs(performance.now() - started)}\n`);
    return { success: true };
  } catch (err) {
    reportFailure(err);
    return { success: false };
  }
}
