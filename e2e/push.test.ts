/**
 * nx run demo:push from the packed plugin against real registries on loopback (CNCF
 * Distribution: anonymous, htpasswd Basic auth, TLS with a self-signed CA), with a proxy in
 * front that counts every request and, for some tests, fails or stalls requests on purpose.
 * What landed is checked with skopeo and plain HTTP against the registry itself.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, promises as fs } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { expectFailure, expectSuccess } from './harness/assert';
import { digestOf, Layout, skopeoCopy, skopeoRaw, skopeoTry, type Index, type Manifest } from './harness/images';
import {
  headManifest,
  removeDir,
  startFaultProxy,
  startRegistry,
  tempDir,
  type ExecResult,
  type Fault,
  type FaultPlan,
  type FaultProxy,
  type RunningRegistry,
} from '../testkit';
import { VERSION, Workspace } from './harness/workspace';

jest.setTimeout(5 * 60_000);

const PLATFORMS = ['linux/amd64', 'linux/arm64'];
const TAGS = ['latest', VERSION];
const USER = 'alice';
const PASSWORD = 'pa55-Word+for/e2e';
const PASSWORD_ENV = 'E2E_REGISTRY_PASSWORD';

let ws: Workspace;
let dir: string;
/** Anonymous, plain http; `proxy` counts the requests in front of it. */
let reg: RunningRegistry;
let proxy: FaultProxy;
/** htpasswd Basic auth, plain http. */
let authReg: RunningRegistry;
/** https with a self-signed certificate. */
let tlsReg: RunningRegistry;
/** In front of `reg`: injects 503, 429 and resets (faults test); stalls a blob upload (kill test). */
let faulty: FaultProxy;
let staller: FaultProxy;
/** A Docker config dir with nothing in it: no run picks up the machine's own credentials. */
let noDockerConfig: string;

/** The image build-image writes: its index digest and layout (read by the tests, not by push). */
let local: { digest: string; indexBytes: string; layout: Layout; blobs: string[]; sbom: Buffer };

function projectJson() {
  const push = (repository: string, options: Record<string, unknown> = {}) => ({
    executor: 'nx-fnbuild:push',
    cache: false,
    dependsOn: ['build-image'],
    options: { repository, ...options },
  });
  const insecure = (host: string) => ({ insecureRegistries: [host] });
  return {
    name: 'demo',
    $schema: '../../node_modules/nx/schemas/project-schema.json',
    projectType: 'application',
    targets: {
      'build-image': {
        executor: 'nx-fnbuild:build-image',
        options: { targets: ['./cmd/server'], platforms: PLATFORMS, ldflags: '-X main.version={version}', ports: [8080] },
      },
      push: push(`${proxy.host}/team/demo`, insecure(proxy.host)),
      // Both main packages: images demo-client and demo-server, pushed to <repository>/client and /server.
      'build-both': { executor: 'nx-fnbuild:build-image', options: { platforms: PLATFORMS, ldflags: '-X main.version={version}' } },
      'push-both': {
        ...push(`${reg.host}/team/both`, { ...insecure(reg.host), buildTarget: 'build-both', metadataFile: 'dist/push-both.json' }),
        dependsOn: ['build-both'],
      },
      'push-auth-env': push(`${authReg.host}/team/env`, { ...insecure(authReg.host), username: USER, passwordEnv: PASSWORD_ENV }),
      'push-auth-config': push(`${authReg.host}/team/config`, insecure(authReg.host)),
      'push-auth-helper': push(`${authReg.host}/team/helper`, insecure(authReg.host)),
      'push-tls': push(`${tlsReg.host}/team/demo`, { caFile: tlsReg.caFile }),
      'push-tls-noca': push(`${tlsReg.host}/team/noca`),
      'push-faults': push(`${faulty.host}/team/flaky`, insecure(faulty.host)),
      'push-killed': push(`${staller.host}/team/killed`, insecure(staller.host)),
    },
  };
}

const nx = (args: string[], env: Record<string, string> = {}) => ws.nx(args, { DOCKER_CONFIG: noDockerConfig, ...env });
const push = (target = 'push', env: Record<string, string> = {}, ...extra: string[]) => nx(['run', `demo:${target}`, ...extra], env);

/** Faults a plan injects at most twice per request (method, path, digest), so every request gets through within the client's 5 attempts. */
function cappedFaults(pick: (n: number) => Fault): FaultPlan {
  const seen = new Map<string, number>();
  return ({ n, method, url }) => {
    const fault = pick(n);
    if (fault === 'pass') return 'pass';
    const u = new URL(url, 'http://proxy');
    const key = `${method} ${u.pathname.replace(/\/uploads\/[^/]+$/, '/uploads/*')} ${u.searchParams.get('digest') ?? ''}`;
    const k = seen.get(key) ?? 0;
    if (k >= 2) return 'pass';
    seen.set(key, k + 1);
    return fault;
  };
}

/**
 * The faults test's schedule, by request number: a 429 with Retry-After: 1 on every 17th from
 * the 5th, a 503 on every 10th from the 3rd, a reset connection on every 10th from the 7th;
 * and the first blob body (PUT to an upload session) always has its connection reset.
 */
function faultPlan(): FaultPlan {
  let blobPuts = 0;
  const scheduled = cappedFaults((n) => (n % 17 === 5 ? 'throttle' : n % 10 === 3 ? 'unavailable' : n % 10 === 7 ? 'reset' : 'pass'));
  return (req) => {
    if (req.method === 'PUT' && req.url.includes('/blobs/uploads/') && ++blobPuts === 1) return 'reset';
    return scheduled(req);
  };
}

beforeAll(async () => {
  dir = tempDir('push');
  [ws, reg, authReg, tlsReg] = await Promise.all([
    Workspace.create(),
    startRegistry(),
    startRegistry({ users: { [USER]: PASSWORD } }),
    startRegistry({ tls: true }),
  ]);
  [proxy, faulty, staller] = await Promise.all([startFaultProxy(reg.port), startFaultProxy(reg.port, faultPlan()), startFaultProxy(reg.port)]);
  noDockerConfig = join(dir, 'no-docker-config');
  await fs.mkdir(noDockerConfig);
  await fs.writeFile(ws.projectPath('project.json'), JSON.stringify(projectJson(), null, 2) + '\n');

  expectSuccess(await nx(['run', 'demo:build-image']), 'nx run demo:build-image');
  const layoutDir = ws.path('dist', 'images', 'demo');
  const layout = new Layout(layoutDir);
  const indexBytes = await skopeoRaw(`oci:${layoutDir}:latest`);
  const index = JSON.parse(indexBytes) as Index;
  const blobs = new Set<string>();
  for (const m of index.manifests) {
    const doc = await layout.json<Manifest>(m.digest);
    for (const d of [doc.config, ...doc.layers]) blobs.add(d.digest);
  }
  local = { digest: digestOf(indexBytes), indexBytes, layout, blobs: [...blobs].sort(), sbom: await fs.readFile(ws.path('dist', 'images', 'demo.spdx.json')) };
}, 6 * 60_000);

afterAll(async () => {
  await ws?.dispose();
  await Promise.all([proxy?.stop(), faulty?.stop(), staller?.stop()]);
  await Promise.all([reg?.stop(), authReg?.stop(), tlsReg?.stop()]);
  if (dir) removeDir(dir);
});

/** The registry's own answer for a tag, straight from it (not through any proxy). */
async function registryDigest(r: RunningRegistry, repository: string, tag: string, o: { creds?: string } = {}): Promise<string> {
  return digestOf(await skopeoRaw(`docker://${r.host}/${repository}:${tag}`, r.certDir ? { certDir: r.certDir, ...o } : { insecure: true, ...o }));
}

/** A blob straight from the registry (plain http, anonymous). */
function getBlob(r: RunningRegistry, repository: string, digest: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    http
      .get(`http://${r.host}/v2/${repository}/blobs/${digest}`, { agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`GET blob ${digest}: HTTP ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

function expectRefs(r: ExecResult, repository: string): void {
  for (const tag of TAGS) expect(r.output).toContain(`${repository}:${tag}@${local.digest}`);
}

const SBOM_TAG = () => `sha256-${local.digest.slice('sha256:'.length)}.sbom`;

describe('anonymous registry, through a counting proxy', () => {
  test('pushes the two-platform image: refs printed, the registry has the same index, skopeo pulls it back intact, SBOM beside it', async () => {
    const r = await push();
    expectSuccess(r, 'nx run demo:push');
    expectRefs(r, `${proxy.host}/team/demo`);

    for (const tag of TAGS) expect(await registryDigest(reg, 'team/demo', tag)).toBe(local.digest);

    // skopeo pulls every platform back into a layout: the index is byte for byte ours, every blob verified by skopeo.
    const pulled = join(dir, 'pulled');
    await skopeoCopy(`docker://${reg.host}/team/demo:latest`, `oci:${pulled}:x`, { all: true, srcInsecure: true });
    const back = new Layout(pulled);
    const top = await back.tagged('x');
    expect(top.digest).toBe(local.digest);
    expect((await back.blob(top.digest)).toString('utf8')).toBe(local.indexBytes);
    expect(await back.blobDigests()).toEqual(expect.arrayContaining(local.blobs));

    // The SBOM: an OCI artifact tagged sha256-<hex>.sbom, whose one layer is the SPDX file build-image wrote.
    const sbomRaw = await skopeoRaw(`docker://${reg.host}/team/demo:${SBOM_TAG()}`, { insecure: true });
    const sbom = JSON.parse(sbomRaw) as Manifest;
    expect(sbom.layers).toHaveLength(1);
    expect(sbom.layers[0]!.mediaType).toBe('text/spdx+json');
    expect(sbom.layers[0]!.digest).toBe(digestOf(local.sbom));
    expect(await getBlob(reg, 'team/demo', sbom.layers[0]!.digest)).toEqual(local.sbom);
    expect(r.output).toContain(`${proxy.host}/team/demo:${SBOM_TAG()}@${digestOf(sbomRaw)} (SBOM)`);
  });

  test('pushing again unchanged: no blob upload, no manifest PUT: only the ping and a HEAD per tag', async () => {
    proxy.reset();
    const r = await push();
    expectSuccess(r, 'nx run demo:push, unchanged');
    expectRefs(r, `${proxy.host}/team/demo`);
    const seen = proxy.requests.map((q) => `${q.method} ${q.url}`);
    for (const m of ['PUT', 'POST', 'PATCH', 'DELETE']) expect([m, proxy.count(m)]).toEqual([m, 0]);
    expect(proxy.count('HEAD', /\/blobs\//)).toBe(0);
    expect(seen.filter((s) => s !== 'GET /v2/').sort()).toEqual([...TAGS, SBOM_TAG()].map((t) => `HEAD /v2/team/demo/manifests/${t}`).sort());
    expect(proxy.count('GET')).toBeLessThanOrEqual(1); // the ping
  });

  test('pushing to a second repository of the same registry mounts the blobs instead of uploading them', async () => {
    proxy.reset();
    const r = await push('push', {}, `--repository=${proxy.host}/team/other`);
    expectSuccess(r, 'nx run demo:push --repository=…/team/other');
    expectRefs(r, `${proxy.host}/team/other`);
    expect(await registryDigest(reg, 'team/other', 'latest')).toBe(local.digest);

    // Every blob of the image: a POST with mount=<digest>&from=team/demo, answered 201 Created.
    for (const digest of local.blobs) {
      const mounts = proxy.requests.filter(
        (q) => q.method === 'POST' && q.url.startsWith('/v2/team/other/blobs/uploads/') && new URL(q.url, 'http://x').searchParams.get('mount') === digest,
      );
      expect([digest, mounts.map((m) => [new URL(m.url, 'http://x').searchParams.get('from'), m.status])]).toEqual([digest, [['team/demo', 201]]]);
    }
    // No upload at all (a PUT or PATCH to an upload session): the SBOM's two small blobs are mounted too.
    const uploads = proxy.requests.filter((q) => (q.method === 'PUT' || q.method === 'PATCH') && q.url.includes('/blobs/uploads/'));
    expect(uploads).toEqual([]);
    expect(r.output).toMatch(new RegExp(`blobs: 0 uploaded, ${local.blobs.length} mounted`));
  });
});

describe('a project with two main packages', () => {
  test('each image goes to <repository>/<target>, as build-image wrote it, and metadataFile lists the refs', async () => {
    const r = await push('push-both');
    expectSuccess(r, 'nx run demo:push-both');
    const meta = JSON.parse(await fs.readFile(ws.path('dist', 'push-both.json'), 'utf8')) as { images: { name: string; digest: string; refs: string[] }[] };
    expect(meta.images.map((i) => i.name).sort()).toEqual(['demo-client', 'demo-server']);
    for (const target of ['client', 'server']) {
      const digest = digestOf(await skopeoRaw(`oci:${ws.path('dist', 'images', `demo-${target}`)}:latest`));
      for (const tag of TAGS) expect(await registryDigest(reg, `team/both/${target}`, tag)).toBe(digest);
      expect(r.output).toContain(`${reg.host}/team/both/${target}:latest@${digest}`);
      const image = meta.images.find((i) => i.name === `demo-${target}`)!;
      expect(image.digest).toBe(digest);
      expect(image.refs.sort()).toEqual(TAGS.map((t) => `${reg.host}/team/both/${target}:${t}@${digest}`).sort());
      expect((await headManifest(reg, `team/both/${target}`, `sha256-${digest.slice(7)}.sbom`)).status).toBe(200);
    }
    // Nothing under the bare repository.
    expect((await headManifest(reg, 'team/both', 'latest')).status).toBe(404);
  });
});

describe('Basic auth (htpasswd)', () => {
  const repoDigest = (repo: string) => registryDigest(authReg, repo, 'latest', { creds: `${USER}:${PASSWORD}` });

  test('anonymous skopeo is refused (the registry really asks for credentials)', async () => {
    const r = await skopeoTry(['inspect', '--tls-verify=false', '--raw', `docker://${authReg.host}/team/env:latest`]);
    expect(r.exitCode).not.toBe(0);
    expect(r.output).toMatch(/unauthorized|authentication required/i);
  });

  test('username + passwordEnv: the password comes from the environment variable it names', async () => {
    const r = await push('push-auth-env', { [PASSWORD_ENV]: PASSWORD });
    expectSuccess(r, 'nx run demo:push-auth-env');
    expectRefs(r, `${authReg.host}/team/env`);
    expect(await repoDigest('team/env')).toBe(local.digest);
    expect(r.output).not.toContain(PASSWORD);
  });

  test('$DOCKER_CONFIG/config.json auths with a base64 "auth"', async () => {
    const cfgDir = join(dir, 'docker-config-auths');
    await fs.mkdir(cfgDir, { recursive: true });
    await fs.writeFile(
      join(cfgDir, 'config.json'),
      JSON.stringify({ auths: { [authReg.host]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } }),
    );
    const r = await push('push-auth-config', { DOCKER_CONFIG: cfgDir });
    expectSuccess(r, 'nx run demo:push-auth-config');
    expectRefs(r, `${authReg.host}/team/config`);
    expect(await repoDigest('team/config')).toBe(local.digest);
  });

  test('a credential helper (credHelpers → docker-credential-test on PATH)', async () => {
    const cfgDir = join(dir, 'docker-config-helper');
    const bin = join(dir, 'helper-bin');
    const calls = join(dir, 'helper-calls.log');
    await fs.mkdir(cfgDir, { recursive: true });
    await fs.mkdir(bin, { recursive: true });
    await fs.writeFile(join(cfgDir, 'config.json'), JSON.stringify({ credHelpers: { [authReg.host]: 'test' } }));
    const json = JSON.stringify({ ServerURL: authReg.host, Username: USER, Secret: PASSWORD });
    await fs.writeFile(
      join(bin, 'docker-credential-test'),
      `#!/bin/sh\n# e2e credential helper: logs what it is asked, answers for one registry.\nread -r server\nprintf '%s %s\\n' "$1" "$server" >> '${calls}'\n` +
        `if [ "$1" = get ] && [ "$server" = '${authReg.host}' ]; then printf '%s' '${json}'; exit 0; fi\necho 'credentials not found in native keychain'; exit 1\n`,
      { mode: 0o755 },
    );
    const r = await push('push-auth-helper', { DOCKER_CONFIG: cfgDir, PATH: `${bin}:${ws.env.PATH ?? process.env.PATH}` });
    expectSuccess(r, 'nx run demo:push-auth-helper');
    expectRefs(r, `${authReg.host}/team/helper`);
    expect(await repoDigest('team/helper')).toBe(local.digest);
    expect((await fs.readFile(calls, 'utf8')).trim().split('\n')).toContain(`get ${authReg.host}`);
  });

  test('a wrong password: non-zero exit, a clear message, and the secret in no form in the output', async () => {
    const wrong = 'Wr0ng-pa55word!e2e';
    const r = await push('push-auth-env', { [PASSWORD_ENV]: wrong });
    expectFailure(r, 'nx run demo:push-auth-env with a wrong password');
    expect(r.output).toMatch(/401|UNAUTHORIZED/);
    expect(r.output).toMatch(/refused the credentials/);
    expect(r.output).toContain(authReg.host);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    for (const secret of [wrong, b64(wrong), b64(`${USER}:${wrong}`), encodeURIComponent(wrong), PASSWORD, b64(`${USER}:${PASSWORD}`)]) {
      expect([secret, r.output.includes(secret)]).toEqual([secret, false]);
    }
  });
});

describe('TLS with a self-signed certificate', () => {
  test('trusted through caFile: the push works, skopeo (with the same CA) sees it', async () => {
    const r = await push('push-tls');
    expectSuccess(r, 'nx run demo:push-tls');
    expectRefs(r, `${tlsReg.host}/team/demo`);
    expect(await registryDigest(tlsReg, 'team/demo', 'latest')).toBe(local.digest);
  });

  test('without caFile: a clear error about the certificate, non-zero exit', async () => {
    const r = await push('push-tls-noca');
    expectFailure(r, 'nx run demo:push-tls-noca');
    expect(r.output).toMatch(new RegExp(`TLS certificate of ${tlsReg.host.replace(/\./g, '\\.')} is not trusted`));
    expect(r.output).toMatch(/caFile/);
    expect((await headManifest(tlsReg, 'team/noca', 'latest')).status).toBe(404);
  });
});

describe('faults', () => {
  test('503s, 429 with Retry-After and connection resets: the push completes and skopeo verifies it', async () => {
    const r = await push('push-faults');
    expectSuccess(r, 'nx run demo:push-faults');
    expectRefs(r, `${faulty.host}/team/flaky`);
    const injected = faulty.requests.filter((q) => q.fault !== 'pass');
    expect(new Set(injected.map((q) => q.fault))).toEqual(new Set(['unavailable', 'throttle', 'reset']));
    // A blob body's connection was reset: that upload started over in a fresh session, and the blob still landed.
    const resetPut = injected.find((q) => q.method === 'PUT' && q.url.includes('/blobs/uploads/') && q.fault === 'reset');
    expect(resetPut).toBeDefined();
    const resetDigest = new URL(resetPut!.url, 'http://x').searchParams.get('digest');
    expect(
      faulty.requests
        .filter((q) => q.method === 'PUT' && q.fault === 'pass' && new URL(q.url, 'http://x').searchParams.get('digest') === resetDigest)
        .map((q) => q.status),
    ).toEqual([201]);

    for (const tag of TAGS) expect(await registryDigest(reg, 'team/flaky', tag)).toBe(local.digest);
    const pulled = join(dir, 'pulled-flaky');
    await skopeoCopy(`docker://${reg.host}/team/flaky:latest`, `oci:${pulled}:x`, { all: true, srcInsecure: true });
    expect((await new Layout(pulled).tagged('x')).digest).toBe(local.digest);
  });

  test('killed (SIGKILL) while a blob upload hangs: no tag exists; the re-run completes', async () => {
    let stalls = 0;
    staller.setPlan(({ method, url }) => (method === 'PUT' && url.includes('/blobs/uploads/') && stalls++ === 0 ? 'stall' : 'pass'));
    const { exited, kill, output, groupGone } = await startNx(['run', 'demo:push-killed'], { DOCKER_CONFIG: noDockerConfig });
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([
      staller.stalled().then(() => 'stalled' as const),
      exited.then(() => 'exited' as const),
      new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 180_000))),
    ]).finally(() => clearTimeout(timer));
    if (first !== 'stalled') {
      kill();
      throw new Error(`the push ${first} before any blob upload reached the proxy:\n${await output()}`);
    }
    kill();
    const how = await exited;
    expect(how.signal).toBe('SIGKILL');
    await groupGone(); // the task runner Nx forked went too: nothing is still pushing
    staller.releaseStalled();

    // Tags go last: none was written, for any tag.
    for (const tag of TAGS) expect([tag, (await headManifest(reg, 'team/killed', tag)).status]).toEqual([tag, 404]);
    const inspect = await skopeoTry(['inspect', '--tls-verify=false', '--raw', `docker://${reg.host}/team/killed:latest`]);
    expect(inspect.exitCode).not.toBe(0);
    expect(staller.count('PUT', /\/manifests\//)).toBe(0);

    staller.setPlan();
    const r = await push('push-killed');
    expectSuccess(r, 'nx run demo:push-killed, again');
    expectRefs(r, `${staller.host}/team/killed`);
    for (const tag of TAGS) expect(await registryDigest(reg, 'team/killed', tag)).toBe(local.digest);
  });
});

describe('bad input', () => {
  test('a repository with capitals: a clear error before any network traffic', async () => {
    proxy.reset();
    const r = await push('push', {}, `--repository=${proxy.host}/Team/Demo`);
    expectFailure(r, 'nx run demo:push with a repository in capitals');
    expect(r.output).toContain(`${proxy.host}/Team/Demo`);
    expect(r.output).toMatch(/must be lowercase/);
    expect(proxy.requests).toEqual([]);
  });

  test('an unknown host: a clear error naming it, non-zero exit', async () => {
    const r = await push('push', {}, '--repository=nonexistent.invalid:5000/x');
    expectFailure(r, 'nx run demo:push to nonexistent.invalid');
    expect(r.output).toMatch(/nonexistent\.invalid:5000/);
    expect(r.output).toMatch(/ENOTFOUND|EAI_AGAIN|getaddrinfo/);
    expect(r.output).not.toMatch(/^\s+at .*\.js:\d+/m);
  });
});

/**
 * `nx <args>` in its own process group (so the task runner Nx forks goes with it), output to
 * a file. kill() sends SIGKILL to the whole group: only what this call started.
 */
async function startNx(args: string[], env: Record<string, string>) {
  const pkg = JSON.parse(await fs.readFile(ws.path('node_modules', 'nx', 'package.json'), 'utf8')) as { bin: Record<string, string> };
  const log = join(dir, `nx-${Date.now()}.log`);
  const fd = openSync(log, 'w');
  const childEnv = Object.fromEntries(Object.entries({ ...ws.env, ...env }).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv;
  const child = spawn(process.execPath, [ws.path('node_modules', 'nx', pkg.bin.nx!), ...args], {
    cwd: ws.root,
    env: childEnv,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    exited,
    kill: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    },
    output: () => fs.readFile(log, 'utf8'),
    /** Resolves once no process of the group is left. */
    groupGone: async () => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          process.kill(-child.pid!, 0);
        } catch {
          return;
        }
        if (Date.now() > deadline) throw new Error(`processes of group ${child.pid} outlived SIGKILL`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
