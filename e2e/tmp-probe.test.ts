import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
test('execa', async () => {
  const p = require.resolve('execa', { paths: [join(__dirname, '..', 'packages', 'core')] });
  const m = await import(pathToFileURL(p).href);
  const r = await m.execa('go', ['version']);
  console.log(p, r.stdout);
});
