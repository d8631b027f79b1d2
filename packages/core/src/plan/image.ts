import { basename } from 'node:path';
import type { FunctionImage } from '../functions/function';
import type { BuildImageOptions } from '../images/options';

/** What an image of the project is, before a base or a binary exists: the options over the function's defaults. */
export interface ImageDefaults {
  /** The image name (a project with several targets: <name>-<target>). */
  name: string;
  /** A registry reference; undefined: scratch. */
  base?: string;
  /** Tags: templates ({version}, ...) as imageDefaults returns them, expanded in the plan. */
  tags: string[];
  /** undefined: run the binary itself. */
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  env: Record<string, string>;
  /** Where the binary goes; {name} is the target's binary name. */
  binaryPath: string;
  user: string;
}

/** The precedence the README documents: an option wins, then the function's func.yaml, then nx-fnbuild's default. */
export function imageDefaults(o: { options: BuildImageOptions; fn?: FunctionImage; projectName?: string; projectRoot: string }): ImageDefaults {
  const { options: opts, fn } = o;
  const base = fn?.base ?? opts.baseImage;
  // The function's layout holds only when the options do not place the binary themselves.
  const layout = !opts.entrypoint && !opts.binaryPath ? fn?.layout : undefined;
  return {
    name: opts.imageName ?? fn?.name ?? o.projectName ?? basename(o.projectRoot),
    ...(base && base !== 'scratch' ? { base } : {}),
    tags: opts.tags ?? fn?.tags ?? ['latest', '{version}'],
    entrypoint: opts.entrypoint ?? fn?.entrypoint,
    cmd: opts.cmd ?? fn?.cmd,
    workingDir: opts.workingDir ?? layout?.workingDir,
    env: { ...(fn?.env ?? {}), ...(opts.env ?? {}) },
    binaryPath: opts.binaryPath ?? layout?.binaryPath ?? '/app/{name}',
    user: opts.user ?? '65532:65532',
  };
}
