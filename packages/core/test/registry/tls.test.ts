import { rmSync } from 'node:fs';
import { RegistryClient } from '../../src/registry/client';
import { makeCert, startRegistry, tempDir, type RunningRegistry } from '../../../../testkit';
import { pushImage, syntheticImage } from './synthetic';

jest.setTimeout(60_000);

let reg: RunningRegistry;
let dir: string;
let caFile: string;
const clients: RegistryClient[] = [];
const img = syntheticImage('tls', ['linux/amd64', 'linux/arm64']);
const client = (opts: ConstructorParameters<typeof RegistryClient>[0]) => {
  const c = new RegistryClient({ retry: { baseDelayMs: 10 }, ...opts });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  dir = tempDir('tls');
  const tls = await makeCert(dir, 'registry');
  caFile = tls.cert;
  reg = await startRegistry({ tls });
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await reg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('trusts a self-signed registry given its certificate as caFile (TLS verified, nothing insecure)', async () => {
  const c = client({ caFile });
  const { digest } = await pushImage(c, `${reg.host}/secure/app`, 'v1', img);
  expect(digest).toBe(img.index.digest);
  expect((await c.getManifest(`${reg.host}/secure/app:v1`)).digest).toBe(img.index.digest);
});

it('refuses an untrusted certificate with a clear error', async () => {
  const err = (await client({})
    .getManifest(`${reg.host}/secure/app:v1`)
    .catch((e: Error) => e)) as Error;
  expect(err.message).toMatch(
    new RegExp(
      `^connecting to registry ${reg.host.replace(/\./g, '\\.')}: the TLS certificate of ${reg.host.replace(/\./g, '\\.')} is not trusted \\(DEPTH_ZERO_SELF_SIGNED_CERT`,
    ),
  );
  expect(err.message).toContain("Pass the registry's CA certificate with caFile");
});

it('an insecureRegistries entry skips verification for that host only', async () => {
  await pushImage(client({ caFile }), `${reg.host}/secure/app`, 'v1', img);
  const c = client({ insecureRegistries: [reg.host] });
  expect((await c.getManifest(`${reg.host}/secure/app:v1`)).digest).toBe(img.index.digest);
  const other = client({ insecureRegistries: ['127.0.0.1:1'] });
  await expect(other.getManifest(`${reg.host}/secure/app:v1`)).rejects.toThrow(/is not trusted/);
});

it('a missing caFile is named', () => {
  expect(() => new RegistryClient({ caFile: `${dir}/nope.pem` })).toThrow(`caFile ${dir}/nope.pem cannot be read`);
});
