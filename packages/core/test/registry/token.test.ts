import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/cache/store';
import { RegistryClient } from '../../src/registry/client';
import { resolveImage } from '../../src/registry/pull';
import { startRegistry, startTokenIssuer, tempDir, type RunningRegistry, type TokenIssuer } from '../../../../testkit';
import { pushImage, syntheticImage } from './synthetic';

jest.setTimeout(60_000);

/** Distribution with `auth.token`: every request needs a JWT from our issuer, verified through its x5c certificate. */
let reg: RunningRegistry;
let issuer: TokenIssuer;
let dir: string;
const clients: RegistryClient[] = [];
const img = syntheticImage('token', ['linux/amd64', 'linux/arm64']);

beforeAll(async () => {
  dir = tempDir('token');
  issuer = await startTokenIssuer(dir, { alice: 's3cret!' });
  reg = await startRegistry({ token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, rootcertbundle: issuer.certFile } });
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await reg?.stop();
  await issuer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function client(password = 's3cret!'): RegistryClient {
  const c = new RegistryClient({
    insecureRegistries: [reg.host],
    retry: { baseDelayMs: 10 },
    credentials: { env: { HOME: dir, DOCKER_CONFIG: join(dir, 'none') }, explicit: { [reg.host]: { username: 'alice', password } } },
  });
  clients.push(c);
  return c;
}

const asked = () => issuer.requests.map((r) => `${r.user ?? 'anonymous'} ${r.service} ${r.scopes.join(' ')}`);

it('fetches one token for a whole push, reuses it for pulls, and fetches another for a new scope', async () => {
  const before = issuer.requests.length; // the tokens other tests asked for
  const c = client();
  const { digest } = await pushImage(c, `${reg.host}/team/a`, 'v1', img);
  expect(digest).toBe(img.index.digest);
  // All blobs went up in parallel: one token, shared.
  expect(asked().slice(before)).toEqual([`alice ${issuer.service} repository:team/a:pull,push`]);

  const store = await Store.open(join(dir, 'store'));
  for (const p of ['linux/amd64', 'linux/arm64']) {
    const got = await resolveImage(c, `${reg.host}/team/a:v1`, p, { store });
    for (const l of got.manifest.parsed.layers) await got.ensureLayer(l.digest);
  }
  expect(issuer.requests.length).toBe(before + 1); // the push token covers pulls

  // A mount into team/b needs push there and pull on team/a: a new token, asked for both.
  const mounted = await pushImage(c, `${reg.host}/team/b`, 'v1', img, { mountFrom: `${reg.host}/team/a` });
  expect(mounted.outcomes.every((o) => o === 'mounted')).toBe(true);
  expect(asked().slice(before + 1)).toEqual([`alice ${issuer.service} repository:team/a:pull repository:team/b:pull,push`]);
});

it('a fresh client pulling asks for pull only, once', async () => {
  await pushImage(client(), `${reg.host}/team/c`, 'v1', img);
  const before = issuer.requests.length;
  const c = client();
  await c.getManifest(`${reg.host}/team/c:v1`);
  await c.getManifest(`${reg.host}/team/c@${img.manifests[0]!.digest}`);
  await c.headManifest(`${reg.host}/team/c:v1`);
  expect(asked().slice(before)).toEqual([`alice ${issuer.service} repository:team/c:pull`]);
});

it('a wrong password is refused by the token service, and said so without the password', async () => {
  const err = (await client('not-the-password')
    .getManifest(`${reg.host}/team/a:v1`)
    .catch((e: Error) => e)) as Error;
  expect(err.message).toContain(
    `getting a token for repository:team/a:pull of ${reg.host}: token service ${issuer.host} answered HTTP 401 UNAUTHORIZED (invalid username or password)`,
  );
  expect(err.message).toContain('The registry refused the credentials from explicit credentials');
  expect(`${err.message}${err.stack}`).not.toContain('not-the-password');
});
