import { describePins, type FuncYamlPins } from '../functions/func-yaml';
import { describeSource, type ResolvedSource } from '../functions/git-source';

/**
 * The lines a build prints after its summary, for the CLI and the executors alike: which
 * commit a git source resolved to, and which pins it wrote into func.yaml.
 */
export function buildNotes(r: { source?: ResolvedSource; pinned?: FuncYamlPins }, env: Record<string, string | undefined>, root: string): string[] {
  return [...(r.source ? [describeSource(r.source)] : []), ...(r.pinned ? describePins(r.pinned, env, root) : [])];
}
