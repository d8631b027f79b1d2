import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveCredentials, type CredentialSources } from './credentials';

const b64 = (s: string) => Buffer.from(s).toString('base64');

let root: string;
let configDir: string;
let env: Record<string, string | undefined>;
const helperLog = () => readFileSync(join(root, 'helper.log'), 'utf8').trim().split('\n').filter(Boolean);

/** A docker-credential-test helper: answers per server URL read from stdin, logs what it was asked. */
const HELPER = `#!/bin/sh
read -r server
echo "$server" >> "$HELPER_LOG"
case "$server" in
  helper.example.com) echo '{"ServerURL":"helper.example.com","Username":"hu","Secret":"hs"}' ;;
  https://index.docker.io/v1/) echo '{"Username":"hub","Secret":"hubsecret"}' ;;
  token.example.com) echo '{"Username":"<token>","Secret":"refresh-token"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'fnb-creds-'));
  configDir = join(root, 'docker');
  mkdirSync(configDir);
  const bin = join(root, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'docker-credential-test'), HELPER);
  chmodSync(join(bin, 'docker-credential-test'), 0o755);
  writeFileSync(join(root, 'helper.log'), '');
  env = { PATH: `${bin}:${process.env.PATH}`, HOME: root, DOCKER_CONFIG: configDir, HELPER_LOG: join(root, 'helper.log') };
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const writeConfig = (doc: unknown) => writeFileSync(join(configDir, 'config.json'), JSON.stringify(doc));
const resolve = (host: string, extra: CredentialSources = {}) => resolveCredentials(host, { env, ...extra });

describe('resolveCredentials', () => {
  it('reads auths[host].auth (base64 user:password), a host:port key matching only that port', async () => {
    writeConfig({ auths: { 'reg.example.com:5000': { auth: b64('alice:s3cr:et') } } });
    const got = await resolve('reg.example.com:5000');
    expect(got?.credentials).toEqual({ username: 'alice', password: 's3cr:et' });
    expect(got?.source).toBe(`${join(configDir, 'config.json')} auths["reg.example.com:5000"]`);
    expect(await resolve('reg.example.com')).toBeUndefined();
    expect(await resolve('reg.example.com:5001')).toBeUndefined();
  });

  it('reads identitytoken', async () => {
    writeConfig({ auths: { 'id.example.com': { auth: b64('<token>:'), identitytoken: 'refresh-1' } } });
    expect((await resolve('id.example.com'))?.credentials).toEqual({ username: '<token>', identityToken: 'refresh-1' });
  });

  it('matches keys written as URLs, and Docker Hub under all its names', async () => {
    writeConfig({ auths: { 'https://index.docker.io/v1/': { auth: b64('hubuser:hubpass') }, 'https://reg2.example.com/v2/': { auth: b64('r2:p2') } } });
    for (const hub of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      expect((await resolve(hub))?.credentials).toEqual({ username: 'hubuser', password: 'hubpass' });
    }
    expect((await resolve('reg2.example.com'))?.credentials).toEqual({ username: 'r2', password: 'p2' });
    writeConfig({ auths: { 'docker.io': { auth: b64('short:form') } } });
    expect((await resolve('index.docker.io'))?.credentials).toEqual({ username: 'short', password: 'form' });
  });

  it('asks credHelpers[host] first, with the host on stdin', async () => {
    writeConfig({ credHelpers: { 'helper.example.com': 'test' }, auths: { 'helper.example.com': { auth: b64('file:ignored') } } });
    const got = await resolve('helper.example.com');
    expect(got?.credentials).toEqual({ username: 'hu', password: 'hs' });
    expect(got?.source).toContain('credHelpers["helper.example.com"] (docker-credential-test)');
    expect(helperLog()).toEqual(['helper.example.com']);
  });

  it('treats a helper username "<token>" as an identity token', async () => {
    writeConfig({ credHelpers: { 'token.example.com': 'test' } });
    expect((await resolve('token.example.com'))?.credentials).toEqual({ username: '<token>', identityToken: 'refresh-token' });
  });

  it('uses credsStore when auths has only a placeholder, with Docker Hub asked as https://index.docker.io/v1/', async () => {
    writeConfig({ credsStore: 'test', auths: { 'https://index.docker.io/v1/': {} } });
    const got = await resolve('docker.io');
    expect(got?.credentials).toEqual({ username: 'hub', password: 'hubsecret' });
    expect(got?.source).toContain('credsStore (docker-credential-test)');
    expect(helperLog()).toEqual(['https://index.docker.io/v1/']);
  });

  it('falls back to REGISTRY_AUTH_FILE when the Docker config has nothing (a helper saying "not found" included)', async () => {
    writeConfig({ credsStore: 'test' });
    const authFile = join(root, 'auth.json');
    writeFileSync(authFile, JSON.stringify({ auths: { 'quay.example.org': { auth: b64('podman:pw') } } }));
    env.REGISTRY_AUTH_FILE = authFile;
    const got = await resolve('quay.example.org');
    expect(got?.credentials).toEqual({ username: 'podman', password: 'pw' });
    expect(got?.source).toBe(`${authFile} auths["quay.example.org"]`);
    expect(helperLog()).toEqual(['quay.example.org']);
    expect(await resolve('other.example.org')).toBeUndefined();
  });

  it('explicit credentials win', async () => {
    writeConfig({ auths: { 'reg.example.com': { auth: b64('file:pw') } } });
    const got = await resolve('reg.example.com', { explicit: { 'reg.example.com': { username: 'ci', password: 'from-env' } } });
    expect(got).toEqual({ credentials: { username: 'ci', password: 'from-env' }, source: 'explicit credentials for reg.example.com' });
  });

  it('no config at all: anonymous', async () => {
    expect(await resolve('reg.example.com')).toBeUndefined();
  });

  it('a missing helper is an error naming it', async () => {
    writeConfig({ credHelpers: { 'reg.example.com': 'nosuch' } });
    await expect(resolve('reg.example.com')).rejects.toThrow('credential helper docker-credential-nosuch was not found on PATH');
  });

  it('a broken config file is named, its content (secrets) is not quoted', async () => {
    writeFileSync(join(configDir, 'config.json'), `{"auths": {"x": {"auth": "${b64('u:topsecret')}"}`);
    const err = await resolve('x').catch((e: Error) => e);
    expect(String(err)).toContain(`${join(configDir, 'config.json')} is not valid JSON`);
    expect(String(err)).not.toContain(b64('u:topsecret'));
  });
});
