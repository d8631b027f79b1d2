import { z } from 'zod';
import { parsePlatform } from '../platform/platform';
import { functionSettings } from '../functions/function';
import { FnbuildError } from '../util/errors';
import { remoteCacheOption } from '../remote/option';

/** A comma-separated string (as `--platforms=a,b` arrives from a command line) or a list. */
export const list = <T extends z.ZodTypeAny>(item: T) =>
  z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : v,
    z.array(item),
  );

const platform = z.string().superRefine((value, ctx) => {
  try {
    parsePlatform(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

const RESERVED_FLAGS = ['-o', '-ldflags', '-tags', '-trimpath', '-buildmode'];
const flag = z
  .string()
  .regex(/^-/, 'a go build flag starts with "-", e.g. "-race" or "-gcflags=all=-N"')
  .refine((f) => !RESERVED_FLAGS.includes(f.split('=')[0].replace(/^--/, '-')), {
    message: `-o, -ldflags, -tags, -trimpath and -buildmode are set by nx-fnbuild; use the outputPath, ldflags and tags options (-trimpath is always on, -buildmode is exe)`,
  });

const FORBIDDEN_ENV = ['GOOS', 'GOARCH', 'GOARM', 'GOAMD64', 'GOARM64', 'GO386', 'GORISCV64', 'CGO_ENABLED'];

export const buildSettingsSchema = z.object({
  /** Main packages relative to the project root; default: the root if main, else cmd/*. */
  targets: z
    .array(
      z.union([
        z.string().min(1),
        z
          .object({
            path: z.string().min(1),
            name: z
              .string()
              .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a binary name is letters, digits, ".", "_" or "-"')
              .optional(),
          })
          .strict('valid keys: path, name'),
      ]),
    )
    .min(1)
    .optional(),
  platforms: list(platform).pipe(z.array(z.string()).min(1, 'give at least one platform, e.g. ["linux/amd64"]')).optional(),
  ldflags: z.union([z.string(), z.array(z.string())], { errorMap: () => ({ message: 'ldflags is a string or a list of strings' }) }).optional(),
  flags: list(flag).optional(),
  tags: list(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a build tag is letters, digits, "_", "." or "-"')).optional(),
  env: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), z.string())
    .refine((e) => !Object.keys(e).some((k) => FORBIDDEN_ENV.includes(k)), {
      message: `GOOS, GOARCH, their variants and CGO_ENABLED come from the platforms and cgo options, not env`,
    })
    .optional(),
  cgo: z.boolean().optional(),
  version: z.string().min(1).optional(),
  parallelism: z.coerce.number().int().min(1).max(256).optional(),
  cacheDir: z.string().min(1).optional(),
  remoteCache: remoteCacheOption.optional(),
  ...functionSettings,
});

export const buildBinariesOptionsSchema = buildSettingsSchema.extend({ outputPath: z.string().min(1).optional() }).strict();

export type BuildBinariesOptions = z.infer<typeof buildBinariesOptionsSchema>;
export type BuildSettings = z.infer<typeof buildSettingsSchema>;

/** Validates options; an error names each bad option, the value given and what is valid. */
export function parseOptions<S extends z.ZodTypeAny>(schema: S, input: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const lines = r.error.issues.map((issue) => {
    const path = issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
      .join('')
      .replace(/^\./, '');
    // The value as the schema saw it: a comma-separated string is a list there.
    const value = issue.path.reduce<unknown>((v, k) => {
      if (typeof v === 'string' && typeof k === 'number')
        return v
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)[k];
      return v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined;
    }, input);
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => `"${k}"`).join(', ');
      if (issue.path.length === 0) {
        const known = Object.keys((schema as unknown as z.AnyZodObject).shape ?? {}).join(', ');
        return `unknown option${issue.keys.length > 1 ? 's' : ''} ${keys}; valid options: ${known}`;
      }
      return `option "${path}": unknown key${issue.keys.length > 1 ? 's' : ''} ${keys}; ${issue.message}`;
    }
    const shown = value === undefined ? '' : ` (got ${JSON.stringify(value)})`;
    return `option "${path || '(options)'}"${shown}: ${issue.message}`;
  });
  throw new FnbuildError(`invalid ${where} options:\n  ${lines.join('\n  ')}`);
}
