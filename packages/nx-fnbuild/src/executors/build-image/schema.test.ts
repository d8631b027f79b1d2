import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImageOptionsSchema } from '@nx-fnbuild/core';

// schema.json is what Nx shows and completes; the zod schema is what is enforced. They must agree
// (buildVersion is the executor's command-line spelling of version, mapped before validation).
const schema = JSON.parse(readFileSync(join(__dirname, 'schema.json'), 'utf8')) as { properties: Record<string, { description?: string }>; additionalProperties: boolean };

test('schema.json names exactly the options the executor validates', () => {
  expect(Object.keys(schema.properties).filter((k) => k !== 'buildVersion').sort()).toEqual(Object.keys(buildImageOptionsSchema.shape).sort());
  expect(schema.additionalProperties).toBe(false);
});

test('every option is described', () => {
  for (const [name, p] of Object.entries(schema.properties)) expect([name, (p.description ?? '').length > 20]).toEqual([name, true]);
});
