/**
 * The one parser / normalizer / naming rule for target platforms. Go cross-compiles, OCI image
 * platforms and output folder names all go through here, so "linux/arm" and "linux/arm/v7" can
 * never end up as two different builds. Normalization follows containerd's platforms.Normalize
 * where it applies; variant values follow what the Go toolchain accepts.
 */

import { FnbuildError } from '../util/errors';

/** A normalized platform in OCI terms. variant is undefined when it is the default / irrelevant. */
export interface Platform {
  readonly os: string;
  readonly arch: string;
  readonly variant?: string;
}

/** A platform the user wrote that is malformed or unsupported: a user error, shown without a stack. */
export class PlatformError extends FnbuildError {
  override name = 'PlatformError';
}

const FORM_HINT = 'expected os/arch[/variant], e.g. linux/amd64, linux/arm64, linux/arm/v7, windows/amd64';

const OS_ALIASES: Readonly<Record<string, string>> = { macos: 'darwin', osx: 'darwin' };

/** Non-Go arch names people write (uname -m, Debian, Node); some also imply a variant. */
const ARCH_ALIASES: Readonly<Record<string, { arch: string; variant?: string }>> = {
  x86_64: { arch: 'amd64' },
  'x86-64': { arch: 'amd64' },
  x64: { arch: 'amd64' },
  aarch64: { arch: 'arm64' },
  i386: { arch: '386' },
  i686: { arch: '386' },
  x86: { arch: '386' },
  armhf: { arch: 'arm', variant: 'v7' },
  armel: { arch: 'arm', variant: 'v6' },
  armv5: { arch: 'arm', variant: 'v5' },
  armv5l: { arch: 'arm', variant: 'v5' },
  armv6: { arch: 'arm', variant: 'v6' },
  armv6l: { arch: 'arm', variant: 'v6' },
  armv7: { arch: 'arm', variant: 'v7' },
  armv7l: { arch: 'arm', variant: 'v7' },
};

interface VariantRule {
  /** The Go env var that selects the variant. */
  readonly goVar: string;
  /** Canonical variants, in the order we list them in errors. */
  readonly choices: readonly string[];
  /** Go's default. It normalizes to "no variant" (except arm, where OCI spells out v7). */
  readonly goDefault: string;
  /** Variants written with a leading digit ("7", "8.2") get a "v" prefix. */
  readonly vPrefix?: boolean;
  /** Shorthands: arm64 "v9" means Go's "v9.0". */
  readonly aliases?: Readonly<Record<string, string>>;
  /** How the canonical variant is spelled in the Go env var. */
  readonly toGo?: (variant: string) => string;
}

const ARM64_CHOICES = [...Array.from({ length: 10 }, (_, i) => `v8.${i}`), ...Array.from({ length: 6 }, (_, i) => `v9.${i}`)];

const VARIANT_RULES: Readonly<Record<string, VariantRule>> = {
  arm: { goVar: 'GOARM', choices: ['v5', 'v6', 'v7'], goDefault: 'v7', vPrefix: true, toGo: (v) => v.slice(1) },
  amd64: { goVar: 'GOAMD64', choices: ['v1', 'v2', 'v3', 'v4'], goDefault: 'v1', vPrefix: true },
  arm64: { goVar: 'GOARM64', choices: ARM64_CHOICES, goDefault: 'v8.0', vPrefix: true, aliases: { v8: 'v8.0', v9: 'v9.0' } },
  riscv64: { goVar: 'GORISCV64', choices: ['rva20u64', 'rva22u64', 'rva23u64'], goDefault: 'rva20u64' },
  '386': { goVar: 'GO386', choices: ['sse2', 'softfloat'], goDefault: 'sse2' },
};

/** Folders and image platforms are built from segments, so keep them to plain names (no "..", spaces, slashes). */
const SEGMENT = /^[a-z0-9][a-z0-9._-]*$/;

function make(os: string, arch: string, variant: string | undefined): Platform {
  return variant === undefined ? { os, arch } : { os, arch, variant };
}

/** Canonical variant for arch, or undefined when it is the default; throws with the valid choices. */
function normalizeVariant(input: string, os: string, arch: string, variant: string | undefined): string | undefined {
  const rule = VARIANT_RULES[arch];
  if (!rule) {
    if (variant === undefined) return undefined;
    throw new PlatformError(`platform "${input}": ${arch} takes no variant; write it as ${os}/${arch}`);
  }
  if (variant === undefined) return arch === 'arm' ? rule.goDefault : undefined;
  let v = rule.vPrefix && /^\d/.test(variant) ? `v${variant}` : variant;
  v = rule.aliases?.[v] ?? v;
  if (!rule.choices.includes(v)) {
    throw new PlatformError(
      `platform "${input}" is not one Go supports: valid ${arch} variants are ${rule.choices.join(', ')}` +
        (arch === 'arm' ? '' : ` (or none for ${rule.goDefault})`),
    );
  }
  return v === rule.goDefault && arch !== 'arm' ? undefined : v;
}

/** Parse "os/arch[/variant]" (also accepts aliases, case-insensitive), normalize, validate the variant. Throws PlatformError. */
export function parsePlatform(spec: string): Platform {
  if (typeof spec !== 'string') throw new PlatformError(`platform ${JSON.stringify(spec)} is not a string; ${FORM_HINT}`);
  const parts = spec.trim().toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((s) => SEGMENT.test(s))) {
    throw new PlatformError(`invalid platform "${spec}": ${FORM_HINT}`);
  }
  const [rawOs, rawArch, rawVariant] = parts as [string, string, string | undefined];
  const os = OS_ALIASES[rawOs] ?? rawOs;
  const alias = ARCH_ALIASES[rawArch];
  const arch = alias?.arch ?? rawArch;
  const variant = normalizeVariant(spec, os, arch, rawVariant ?? alias?.variant);
  // "armv7/v6" is contradictory; refuse rather than silently pick one.
  if (alias?.variant && rawVariant !== undefined && variant !== alias.variant) {
    throw new PlatformError(`platform "${spec}": ${rawArch} already means ${arch}/${alias.variant}; drop the variant or write ${os}/${arch}/${rawVariant}`);
  }
  return make(os, arch, variant);
}

/** Canonical string "linux/arm/v7", "linux/amd64". */
export function formatPlatform(p: Platform): string {
  return [p.os, p.arch, p.variant].filter(Boolean).join('/');
}

/** Folder name like docker buildx's local exporter: linux_amd64, linux_arm_v7, linux_amd64_v3, darwin_arm64. */
export function platformFolder(p: Platform): string {
  return [p.os, p.arch, p.variant].filter(Boolean).join('_');
}

/**
 * Go env for cross-compiling. The variant var is always set for arches that have one (to Go's
 * default when there is no variant) so a value inherited from the builder's env can't leak in.
 */
export function goEnvFor(p: Platform): Record<string, string> {
  const env: Record<string, string> = { GOOS: p.os, GOARCH: p.arch };
  const rule = VARIANT_RULES[p.arch];
  if (rule) {
    const v = p.variant ?? rule.goDefault;
    env[rule.goVar] = rule.toGo ? rule.toGo(v) : v;
  }
  return env;
}

/** Executable file suffix: ".exe" for windows, ".wasm" for GOARCH wasm, else "". */
export function executableSuffix(p: Platform): string {
  if (p.os === 'windows') return '.exe';
  return p.arch === 'wasm' ? '.wasm' : '';
}

/** The platform described by `go env` values (GOOS, GOARCH, GOARM, GOAMD64, ...): the host/default platform. */
export function platformFromGoEnv(env: Record<string, string | undefined>): Platform {
  const os = env.GOOS?.trim();
  const arch = env.GOARCH?.trim();
  if (!os || !arch) throw new PlatformError('go env did not report GOOS and GOARCH; is the Go toolchain installed and working?');
  const rule = VARIANT_RULES[arch];
  // GOARM "7,softfloat" and GOARM64 "v8.2,lse" carry options after the comma; they are not OCI variants.
  const variant = rule ? env[rule.goVar]?.split(',')[0]?.trim() || undefined : undefined;
  return parsePlatform(variant ? `${os}/${arch}/${variant}` : `${os}/${arch}`);
}

const MAX_LISTED = 20;
const SAMPLE = ['linux/amd64', 'linux/arm64', 'darwin/arm64', 'windows/amd64'];

/** Validate against the output lines of `go tool dist list`. Throws PlatformError naming the closest valid choices. */
export function checkSupported(p: Platform, distList: readonly string[]): void {
  const supported = [...new Set(distList.map((l) => l.trim()).filter(Boolean))].sort();
  const pair = `${p.os}/${p.arch}`;
  if (supported.includes(pair)) return;

  const head = `platform "${formatPlatform(p)}" is not one this Go toolchain supports (go tool dist list)`;
  const sameOs = supported.filter((s) => s.split('/')[0] === p.os);
  const sameArch = supported.filter((s) => s.split('/')[1] === p.arch);
  const near = [...new Set([...sameOs, ...sameArch])].sort();
  if (near.length === 0) {
    const sample = SAMPLE.filter((s) => supported.includes(s));
    const shown = sample.length > 0 ? sample : supported.slice(0, SAMPLE.length);
    throw new PlatformError(
      supported.length === 0
        ? `${head}; the list is empty`
        : `${head}; neither os ${p.os} nor arch ${p.arch} is known, choose one of the ${supported.length} listed, e.g. ${shown.join(', ')}`,
    );
  }
  const label = [sameOs.length > 0 ? `os ${p.os}` : '', sameArch.length > 0 ? `arch ${p.arch}` : ''].filter(Boolean);
  const more = near.length > MAX_LISTED ? ` and ${near.length - MAX_LISTED} more` : '';
  throw new PlatformError(`${head}; for ${label.join(' or ')}: ${near.slice(0, MAX_LISTED).join(', ')}${more}`);
}

/** Parse a list, normalize, dedupe (by canonical string), keep first-seen order. */
export function parsePlatforms(specs: readonly string[]): Platform[] {
  if (specs.length === 0) throw new PlatformError(`platforms must not be empty; list at least one, e.g. ["linux/amd64"]`);
  const seen = new Map<string, Platform>();
  specs.forEach((spec, i) => {
    let p: Platform;
    try {
      p = parsePlatform(spec);
    } catch (e) {
      throw e instanceof PlatformError ? new PlatformError(`platforms[${i}]: ${e.message}`) : e;
    }
    const key = formatPlatform(p);
    if (!seen.has(key)) seen.set(key, p);
  });
  return [...seen.values()];
}

/** Equality of normalized platforms. */
export function samePlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.arch === b.arch && (a.variant ?? '') === (b.variant ?? '');
}
