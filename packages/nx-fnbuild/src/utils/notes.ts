import type { ExecutorContext } from '@nx/devkit';
import { buildNotes, isMovableRef, type FuncYamlPins, type ResolvedSource } from '@nx-fnbuild/core';

/** One word for the shell Nx runs a runtime input in: as it is when it is safe, else single-quoted. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./~-]+$/.test(s) ? s : `'${s.split("'").join("'\\''")}'`;
}

/** The runtime input that makes Nx hash what the remote's ref points at. */
export function lsRemoteInput(source: Pick<ResolvedSource, 'url' | 'ref'>): { runtime: string } {
  return { runtime: `git ls-remote ${shellWord(source.url)} ${shellWord(source.ref ?? 'HEAD')}` };
}

function hasLsRemoteInput(context: ExecutorContext): boolean {
  const project = context.projectName ? context.projectsConfigurations?.projects[context.projectName] : undefined;
  const inputs = context.targetName ? project?.targets?.[context.targetName]?.inputs : undefined;
  return (inputs ?? []).some((i) => typeof i === 'object' && i !== null && 'runtime' in i && /\bls-remote\b/.test(String(i.runtime)));
}

/**
 * For a branch or the remote HEAD whose target has no ls-remote runtime input: Nx cannot
 * see the remote move (it hashes the options), and the input to add.
 */
function branchWarning(source: ResolvedSource, context: ExecutorContext): string[] {
  if (!isMovableRef(source.ref) || hasLsRemoteInput(context)) return [];
  const input = JSON.stringify(lsRemoteInput(source));
  return [
    `warning: revision "${source.revision ?? 'HEAD'}" is ${source.ref === 'HEAD' ? "the remote's HEAD" : `a branch (${source.ref})`}: Nx hashes this target's options, not the remote, ` +
      `so after a push there it can replay this build from its cache. Add ${input} to the inputs of ${context.projectName}:${context.targetName}, or pin a tag or a full commit.` +
      (source.url.includes('***@') ? ' Keep the credentials out of the input: use a git credential helper.' : ''),
  ];
}

/** The remote cache's lines of a result (core's RemoteCacheReport): the summary, and why Go's own cache does not use it, if so. */
export function remoteCacheNotes(r: { remoteCache?: { summary: string; goCacheNote?: string } }): string[] {
  if (!r.remoteCache) return [];
  const { summary, goCacheNote } = r.remoteCache;
  return [summary, ...(goCacheNote ? [`note: ${goCacheNote}`] : [])];
}

/** What an executor prints after a build: the core's notes (git commit, func.yaml pins), the remote cache's, then what only Nx makes true. */
export function executorNotes(
  r: { source?: ResolvedSource; pinned?: FuncYamlPins; remoteCache?: { summary: string; goCacheNote?: string } },
  context: ExecutorContext,
): string[] {
  return [...buildNotes(r, process.env, context.root), ...remoteCacheNotes(r), ...(r.source ? branchWarning(r.source, context) : [])];
}
