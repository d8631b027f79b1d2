import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBinariesOptionsSchema, buildImageOptionsSchema, pushOptionsSchema } from '@nx-fnbuild/core';

// schema.json is what Nx shows and completes; the zod schema is what is enforced. They must
// agree (buildVersion is the command-line spelling of version, mapped before validation).
const executors = [
  ['build-binaries', buildBinariesOptionsSchema.shape],
  ['build-image', buildImageOptionsSchema.shape],
  ['push', pushOptionsSchema.shape],
] as const;

describe.each(executors)('%s schema.json', (name, shape) => {
  const schema = JSON.parse(readFileSync(join(__dirname, name, 'schema.json'), 'utf8')) as {
    properties: Record<string, { description?: string }>;
    additionalProperties: boolean;
  };

  test('names exactly the options the executor validates', () => {
    expect(
      Object.keys(schema.properties)
        .filter((k) => k !== 'buildVersion')
        .sort(),
    ).toEqual(Object.keys(shape).sort());
    expect(schema.additionalProperties).toBe(false);
  });

  test('describes every option', () => {
    for (const [option, p] of Object.entries(schema.properties)) expect([option, (p.description ?? '').length > 20]).toEqual([option, true]);
  });
});
