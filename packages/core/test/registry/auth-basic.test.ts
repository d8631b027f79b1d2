import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/cache/store';
import { RegistryClient, type RegistryClientOptions } from '../../src/registry/client';
import { resolveImage } from '../../src/registry/pull';
import { startRegistry, tempDir, type RunningRegistry } from '../../../../testkit';
import { pushImage, syntheticImage } from './synthetic';

jest.setTimeout(60_000);

const USER = 'ci-bot';
const PASS = 'correct horse:battery';
let reg: RunningRegistry;
let dir: string;
const clients: RegistryClient[] = [];
const img = syntheticImage('basic', ['linux/amd64', 'linux/arm64']);

beforeAll(async () => {
  dir = tempDir('basic');
  reg = await startRegistry({ users: { [USER]: PASS } });
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await reg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A client whose Docker config is an empty temp dir unless given one. */
function client(credentials: RegistryClientOptions['credentials'] = {}): RegistryClient {
  const c = new RegistryClient({
    insecureRegistries: [reg.host],
    retry: { baseDelayMs: 10 },
    credentials: { env: { HOME: dir, DOCKER_CONFIG: join(dir, 'no-docker-config'), PATH: process.env.PATH }, ...credentials },
  });
  clients.push(c);
  return c;
}

it('pushes and pulls with explicit credentials (Basic)', async () => {
  const c = client({ explicit: { [reg.host]: { username: USER, password: PASS } } });
  const { digest } = await pushImage(c, `${reg.host}/private/app`, 'v1', img);
  expect(digest).toBe(img.index.digest);
  const store = await Store.open(join(dir, 'store'));
  const got = await resolveImage(c, `${reg.host}/private/app:v1`, 'linux/arm64', { store });
  expect(got.manifest.digest).toBe(img.manifests[1]!.digest);
  await got.ensureLayer(got.manifest.parsed.layers[1]!.digest);
});

it('reads credentials from the Docker config', async () => {
  await pushImage(client({ explicit: { [reg.host]: { username: USER, password: PASS } } }), `${reg.host}/private/app`, 'v1', img);
  const configDir = join(dir, 'docker');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(join(configDir, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${USER}:${PASS}`).toString('base64') } } }));
  const c = client({ dockerConfigDir: configDir });
  expect((await c.getManifest(`${reg.host}/private/app:v1`)).digest).toBe(img.index.digest);
});

it('a wrong password is a clear error that shows neither the password nor its base64', async () => {
  const wrong = 'hunter2-wrong';
  const c = client({ explicit: { [reg.host]: { username: USER, password: wrong } } });
  const err = (await c.getManifest(`${reg.host}/private/app:v1`).catch((e: Error) => e)) as Error;
  expect(err.message).toBe(
    `pulling manifest ${reg.host}/private/app:v1: ${reg.host} answered HTTP 401 UNAUTHORIZED (authentication required)\n` +
      `  The registry refused the credentials from explicit credentials for ${reg.host}; check the username and password or token.`,
  );
  const everything = `${err.message} ${err.stack} ${JSON.stringify(err)}`;
  for (const secret of [wrong, `${USER}:${wrong}`, Buffer.from(`${USER}:${wrong}`).toString('base64')]) expect(everything).not.toContain(secret);
});

it('no credentials: the error says none were found and how to give some', async () => {
  await expect(client().getManifest(`${reg.host}/private/app:v1`)).rejects.toThrow(
    `No credentials were found for ${reg.host} (looked in explicit credentials, ${join(dir, 'no-docker-config', 'config.json')}); run \`docker login ${reg.host}\``,
  );
});
