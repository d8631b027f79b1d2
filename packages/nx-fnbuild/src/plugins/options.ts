/**
 * The plugin's options, as written in nx.json:
 *
 *   { "plugin": "nx-fnbuild", "options": { "platforms": ["linux/amd64", "linux/arm64"], "registry": "ghcr.io/acme" },
 *     "include": ["services/**"], "exclude": ["services/legacy/**"] }
 *
 * include/exclude are Nx's own plugin filters (which go.mod files the plugin sees).
 */
export interface FnbuildPluginOptions {
  buildBinariesTargetName?: string;
  buildImageTargetName?: string;
  pushTargetName?: string;
  /** `go test` of every Go project, libraries included. */
  testTargetName?: string;
  /** Platforms of build-binaries (default: the host). */
  platforms?: string[];
  /** Platforms of build-image (default: the linux entries of `platforms`, else linux/amd64). */
  imagePlatforms?: string[];
  /** Where push sends images: <registry>/<project name> (default: $NX_FNBUILD_REGISTRY/<image name>). */
  registry?: string;
  /** build-image's base (default: scratch). */
  baseImage?: string;
  /** ldflags of build-binaries and build-image, e.g. "-s -w -X main.version={version}" (default: none). */
  ldflags?: string;
}

type TargetNames = 'buildBinariesTargetName' | 'buildImageTargetName' | 'pushTargetName' | 'testTargetName';
export type NormalizedOptions = Required<Pick<FnbuildPluginOptions, TargetNames>> & Omit<FnbuildPluginOptions, TargetNames>;

const KNOWN = [
  'buildBinariesTargetName',
  'buildImageTargetName',
  'pushTargetName',
  'testTargetName',
  'platforms',
  'imagePlatforms',
  'registry',
  'baseImage',
  'ldflags',
];
const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9:._-]*$/;

function fail(message: string): never {
  throw new Error(`nx-fnbuild plugin options (nx.json): ${message}`);
}

/** Checks the options once and fills in the defaults; an error names the option, the value and what is valid. */
export function normalizeOptions(raw: FnbuildPluginOptions | undefined): NormalizedOptions {
  const o = (raw ?? {}) as Record<string, unknown>;
  if (typeof o !== 'object' || Array.isArray(o)) fail(`options must be an object, got ${JSON.stringify(raw)}`);
  const unknown = Object.keys(o).filter((k) => !KNOWN.includes(k));
  if (unknown.length) fail(`unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; valid options: ${KNOWN.join(', ')}`);
  const name = (key: string, dflt: string): string => {
    const v = o[key] ?? dflt;
    if (typeof v !== 'string' || !TARGET_NAME.test(v))
      fail(`option "${key}" (got ${JSON.stringify(v)}): a target name is letters, digits, ":", ".", "_" or "-"`);
    return v;
  };
  const list = (key: string): string[] | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.length || !v.every((x) => typeof x === 'string' && /^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9.]+)?$/.test(x))) {
      fail(`option "${key}" (got ${JSON.stringify(v)}): a non-empty list of platforms like ["linux/amd64", "linux/arm64"]`);
    }
    return v as string[];
  };
  const str = (key: string): string | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !v.trim()) fail(`option "${key}" (got ${JSON.stringify(v)}): a non-empty string`);
    return v;
  };
  const out: NormalizedOptions = {
    buildBinariesTargetName: name('buildBinariesTargetName', 'build-binaries'),
    buildImageTargetName: name('buildImageTargetName', 'build-image'),
    pushTargetName: name('pushTargetName', 'push'),
    testTargetName: name('testTargetName', 'test'),
    platforms: list('platforms'),
    imagePlatforms: list('imagePlatforms'),
    registry: str('registry')?.replace(/\/+$/, ''),
    baseImage: str('baseImage'),
    ldflags: str('ldflags'),
  };
  const names = [out.buildBinariesTargetName, out.buildImageTargetName, out.pushTargetName, out.testTargetName];
  if (new Set(names).size !== names.length) fail(`the target names must differ (got ${names.join(', ')})`);
  if (!out.imagePlatforms && out.platforms) {
    const linux = out.platforms.filter((p) => p.startsWith('linux/'));
    if (linux.length) out.imagePlatforms = linux;
  }
  return out;
}
