import { FnbuildError } from '../util/errors';
import type { SourceInfo } from './source-info';

const PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9_.]*)\}/g;
const NAMES = ['version', 'commit', 'shortCommit', 'date'] as const;
export const TEMPLATE_HELP = 'valid placeholders: {version}, {commit}, {shortCommit}, {date}, {env.NAME}';

/** The non-env placeholders the text uses ("version", "commit", ...). */
export function placeholdersIn(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]).filter((n) => !n.startsWith('env.')))];
}

/**
 * Expands {version}, {commit}, {shortCommit}, {date} and {env.NAME}. An unknown
 * placeholder or an unset variable is an error naming it, never an empty string
 * silently baked into a binary.
 */
export async function expandTemplate(
  text: string,
  what: string,
  info: () => Promise<SourceInfo>,
  env: Record<string, string | undefined>,
  explicitVersion?: string,
): Promise<string> {
  const used = placeholdersIn(text);
  const unknown = used.find((n) => !(NAMES as readonly string[]).includes(n));
  if (unknown) throw new FnbuildError(`${what} has an unknown placeholder {${unknown}}`, TEMPLATE_HELP);
  // An explicit version is all "{version}" needs: git is asked only for what only git knows.
  const facts =
    used.length === 0
      ? undefined
      : explicitVersion !== undefined && used.every((n) => n === 'version')
        ? ({ version: explicitVersion } as SourceInfo)
        : await info();
  return text.replace(PLACEHOLDER, (whole, name: string) => {
    if (name.startsWith('env.')) {
      const v = env[name.slice(4)];
      if (v === undefined)
        throw new FnbuildError(`${what} uses ${whole} but ${name.slice(4)} is not set`, `Set ${name.slice(4)} in the environment or the "env" option.`);
      return v;
    }
    if ((NAMES as readonly string[]).includes(name)) return String(facts![name as (typeof NAMES)[number]]);
    throw new FnbuildError(`${what} has an unknown placeholder ${whole}`, TEMPLATE_HELP);
  });
}
