import { promises as fs } from 'node:fs';
import { join, relative } from 'node:path';
import type * as Yaml from 'yaml';
import type { Document, LineCounter } from 'yaml';
import { z } from 'zod';
import { isRepositoryPath, isTag, tagFault } from '../oci/reference';
import { FnbuildError } from '../util/errors';
import { writeFileAtomic } from '../util/fs-atomic';

/** Fn's func.yaml schema version, the only one read. */
export const FN_SCHEMA_VERSION = 20180708;

const word = z.string().min(1);
const tagLike = z.coerce.string().refine(isTag, (v) => ({
  message: `a version is used as the image tag: letters, digits, "_", "." or "-", e.g. "0.0.1" (${JSON.stringify(v)} ${tagFault(v)})`,
}));

/**
 * Fn's func.yaml (schema 20180708). The fields nx-fnbuild gives a meaning: name and
 * version (the image name and tag), runtime (the Go version, pinned), build_image (the
 * compile-time Go toolchain, pinned), run_image (the base image, pinned by digest),
 * entrypoint and cmd (the image's), config (the image's env). The rest of Fn's fields are
 * accepted and kept as they are.
 */
export const funcYamlSchema = z
  .object({
    schema_version: z.coerce.number().refine((v) => v === FN_SCHEMA_VERSION, { message: `only Fn's schema_version ${FN_SCHEMA_VERSION} is read` }),
    name: z.string().refine(isRepositoryPath, 'name is the image name: lowercase letters, digits and separators (., _, -, /), e.g. "hello"'),
    version: tagLike.optional(),
    runtime: z
      .string()
      .regex(/^go(\d+\.\d+(\.\d+)?)?$/, 'runtime is "go" or a Go version such as "go1.26"')
      .optional(),
    build_image: word.optional(),
    run_image: word.optional(),
    entrypoint: word.optional(),
    cmd: word.optional(),
    config: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a config key is an environment variable name'), z.coerce.string()).optional(),
    annotations: z.record(z.string(), z.unknown()).optional(),
    triggers: z.array(z.object({ name: word, type: word, source: z.string() }).passthrough()).optional(),
    // Fn fields nx-fnbuild does not use, accepted so an Fn project reads as is.
    memory: z.unknown().optional(),
    timeout: z.unknown().optional(),
    idle_timeout: z.unknown().optional(),
    format: z.unknown().optional(),
    type: z.unknown().optional(),
    content_type: z.unknown().optional(),
    expects: z.unknown().optional(),
    build: z.unknown().optional(),
  })
  .strict();

export type FuncYamlData = z.infer<typeof funcYamlSchema>;

export interface FuncYaml {
  path: string;
  data: FuncYamlData;
  /** The parsed document: comments and order survive a write-back. */
  doc: Document;
}

export const FUNC_YAML = 'func.yaml';

// The yaml package takes ~45 ms to load and most builds read no func.yaml: loaded on the first parse.
const yaml = (): typeof Yaml => require('yaml');

function fail(path: string, lines: LineCounter, offset: number | undefined, what: string, hint?: string): never {
  const pos = offset !== undefined ? lines.linePos(offset) : undefined;
  throw new FnbuildError(`${path}${pos ? `:${pos.line}:${pos.col}` : ''}: ${what}`, hint);
}

/** Reads `<dir>/func.yaml` when there is one; a Knative func.yaml or a malformed one is an error naming the line and field. */
export async function readFuncYaml(dir: string): Promise<FuncYaml | undefined> {
  const path = join(dir, FUNC_YAML);
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseFuncYaml(text, path);
}

export function parseFuncYaml(text: string, path: string): FuncYaml {
  const { isMap, LineCounter, parseDocument } = yaml();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0];
    fail(path, lines, e.pos[0], `not valid YAML: ${e.message.split('\n')[0]}`);
  }
  if (!isMap(doc.contents)) fail(path, lines, 0, 'func.yaml is a mapping of fields (schema_version, name, version, ...)');
  const raw = doc.toJS() as Record<string, unknown>;
  if (raw.schema_version === undefined && (raw.specVersion !== undefined || raw.deploy !== undefined || raw.image !== undefined)) {
    throw new FnbuildError(
      `${path} is a Knative Functions func.yaml${raw.specVersion ? ` (specVersion ${String(raw.specVersion)})` : ''}: not supported yet`,
      `nx-fnbuild reads the Fn Project's func.yaml (schema_version: ${FN_SCHEMA_VERSION}, name, version, runtime, build_image, run_image). Build this function with \`func build\`, or write an Fn func.yaml.`,
    );
  }
  const r = funcYamlSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0];
      const node = doc.getIn([...issue.path, key], true) as { range?: [number, number, number] } | undefined;
      const pair = isMap(doc.contents) ? doc.contents.items.find((p) => (p.key as { value?: unknown })?.value === key) : undefined;
      const keyRange = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
      fail(path, lines, keyRange?.[0] ?? node?.range?.[0], `unknown field "${key}"`, `func.yaml fields: ${Object.keys(funcYamlSchema.shape).join(', ')}.`);
    }
    const node = doc.getIn(issue.path, true) as { range?: [number, number, number] } | undefined;
    const missing = issue.code === 'invalid_type' && issue.received === 'undefined';
    fail(path, lines, node?.range?.[0] ?? (missing ? 0 : undefined), missing ? `field "${field}" is required` : `field "${field}": ${issue.message}`);
  }
  return { path, data: r.data, doc };
}

/**
 * Writes the missing pins (and only those) into func.yaml, keeping comments and order;
 * a field already there is never changed: editing it is how a user upgrades.
 * Returns what it wrote, or nothing when every pin was already there (the file is untouched).
 */
export async function pinFuncYaml(f: FuncYaml, pins: Partial<Record<'runtime' | 'build_image' | 'run_image', string>>): Promise<FuncYamlPins | undefined> {
  const written: Record<string, string> = {};
  for (const [field, value] of Object.entries(pins)) {
    if (value === undefined || f.data[field as keyof FuncYamlData] !== undefined) continue;
    f.doc.set(field, value);
    (f.data as Record<string, unknown>)[field] = value;
    written[field] = value;
  }
  if (!Object.keys(written).length) return undefined;
  await writeFileAtomic(f.path, String(f.doc));
  return { path: f.path, fields: written };
}

/** What a build wrote into func.yaml: the pins it was missing. */
export interface FuncYamlPins {
  path: string;
  fields: Record<string, string>;
}

/**
 * The lines that tell the user their func.yaml changed, and that the pins only hold once
 * committed (in CI, the checkout that got them is thrown away).
 */
export function describePins(p: FuncYamlPins, env: Record<string, string | undefined>, root: string): string[] {
  const ci = !!env.CI && env.CI !== 'false' && env.CI !== '0';
  return [
    `${relative(root, p.path) || p.path}: pinned ${Object.entries(p.fields)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')}`,
    ci
      ? 'warning: func.yaml had no pins, and this CI checkout is thrown away with them: build once locally and commit func.yaml, or later builds may use another base or Go.'
      : 'Commit func.yaml to keep them; edit them to upgrade.',
  ];
}
