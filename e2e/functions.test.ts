/**
 * A Go function (an exported handler, no main package, an Fn func.yaml) built by
 * `nx run hello-fn:build-image` from the packed plugin, over a base from a real Distribution
 * on loopback. Checked with tools that share no code with nx-fnbuild: umoci unpacks the image,
 * runc runs it, curl asks it, runc's own exit status says how it stopped; skopeo moves the
 * base's tag to new content to prove func.yaml's pin holds.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { expectFailure, expectSuccess } from './harness/assert';
import { buildBusyboxBase, digestOf, Layout, skopeoCopy, skopeoRaw, umociUnpack, type BaseImage } from './harness/images';
import { FIXTURES } from './harness/paths';
import { baseEnv, exec, execOk, freePort, startRegistry, tempDir, type RunningRegistry } from '../testkit';
import { Workspace } from './harness/workspace';

jest.setTimeout(5 * 60_000);

const A = 'org.opencontainers.image.';
let ws: Workspace;
let reg: RunningRegistry;
let scratch: string;
let base: BaseImage;
let baseV1: string;
let goVersion: string;

const fn = (...rel: string[]) => ws.path('apps', 'hello-fn', ...rel);
const layout = () => new Layout(ws.path('dist', 'images', 'hello-fn'));
const buildImage = (env: Record<string, string> = {}) => ws.nx(['run', 'hello-fn:build-image', '--skip-nx-cache'], env);

beforeAll(async () => {
  scratch = tempDir('fn');
  reg = await startRegistry();
  base = await buildBusyboxBase(scratch);
  await skopeoCopy(`oci:${base.layout}:base`, `docker://${reg.host}/fnbase:1`, { format: 'oci', destInsecure: true });
  baseV1 = digestOf(await skopeoRaw(`docker://${reg.host}/fnbase:1`, { insecure: true }));
  ws = await Workspace.create();
  await fs.cp(join(FIXTURES, 'hello-fn'), fn(), { recursive: true });
  const options = { baseImage: `${reg.host}/fnbase:1`, insecureRegistries: [reg.host] };
  await fs.writeFile(
    fn('project.json'),
    JSON.stringify(
      {
        name: 'hello-fn',
        root: 'apps/hello-fn',
        projectType: 'application',
        targets: {
          'build-image': { executor: 'nx-fnbuild:build-image', options },
          push: { executor: 'nx-fnbuild:push', options: { repository: `${reg.host}/fns/hello-fn`, insecureRegistries: [reg.host] } },
        },
      },
      null,
      2,
    ),
  );
  await ws.git(['add', '-A']);
  await ws.git(['commit', '-q', '-m', 'hello-fn']);
  goVersion = (await ws.go(['env', 'GOVERSION'])).stdout.trim().slice(2);
});
afterAll(async () => {
  await ws?.dispose();
  await reg?.stop();
  await fs.rm(scratch, { recursive: true, force: true });
});

/** curl's answer from a server on loopback, asked again until it listens (15 s); the error carries `more()` (its log). */
async function curlWhenUp(port: number, path: string, more: () => Promise<string> = async () => ''): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await exec('curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${port}${path}`], { cwd: scratch, env: baseEnv(), timeoutMs: 10_000 });
    if (r.exitCode === 0) return r.stdout;
    if (Date.now() > deadline) throw new Error(`curl ${path}: ${r.stderr}\n${await more()}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe('a function project', () => {
  let bundle: string;

  test('build-image builds it as name:version over the base, pins runtime, build_image and run_image in func.yaml, and never writes into the sources', async () => {
    const r = await buildImage();
    expectSuccess(r, 'nx run hello-fn:build-image');
    expect(r.stdout).toMatch(
      new RegExp(`apps/hello-fn/func\\.yaml: pinned runtime: go\\S+, build_image: golang:\\S+, run_image: ${reg.host}/fnbase:1@sha256:[0-9a-f]{64}\n`),
    );
    // The workspace runs with CI=true: a CI checkout's pins are thrown away, and the build says so.
    expect(r.stdout).toContain('warning: func.yaml had no pins, and this CI checkout is thrown away with them');
    const yaml = await fs.readFile(fn('func.yaml'), 'utf8');
    expect(yaml).toContain('# An Fn func.yaml: the first build pins runtime, build_image and run_image.\n');
    expect(yaml).toContain(`runtime: go${goVersion.split('.').slice(0, 2).join('.')}\n`);
    expect(yaml).toContain(`build_image: golang:${goVersion}\n`);
    expect(yaml).toContain(`run_image: ${reg.host}/fnbase:1@${baseV1}\n`);
    expect((await fs.readdir(fn())).sort()).toEqual(['func.yaml', 'go.mod', 'hello.go', 'project.json']);

    const l = layout();
    expect(await l.tags()).toEqual(['0.1.0']);
    const [img] = await l.images('0.1.0');
    expect(img.manifest.annotations?.[`${A}base.digest`]).toBe(baseV1);
    expect(img.config.config.Entrypoint).toEqual(['/app/hello-fn']);
    expect(img.config.config.Env).toEqual(expect.arrayContaining(['GREETING=Howdy', 'FOO=bar']));
  });

  test('the image runs with runc: curl gets the answer on the port FUNC_CONTEXT names, and SIGTERM ends it with exit 0', async () => {
    if (process.getuid?.() !== 0) throw new Error('runc needs root to run the container, and this test runs as a normal user');
    bundle = join(scratch, 'bundle');
    await umociUnpack(layout().dir, '0.1.0', bundle);
    const port = await freePort();
    const cfgPath = join(bundle, 'config.json');
    const rt = JSON.parse(await fs.readFile(cfgPath, 'utf8')) as { process: { terminal: boolean; env: string[] }; linux: { namespaces: { type: string }[] } };
    rt.process.terminal = false;
    rt.process.env.push(
      `FUNC_CONTEXT=${JSON.stringify({ name: 'hello-fn', version: 'v1', port: String(port), runtime: 'Knative', httpPattern: '/greet/{who}' })}`,
    );
    rt.linux.namespaces = rt.linux.namespaces.filter((n) => n.type !== 'network');
    await fs.writeFile(cfgPath, JSON.stringify(rt, null, 2));

    const state = join(scratch, 'runc-state');
    const id = `nx-fnbuild-fn-${process.pid}`;
    const runc = (args: string[]) => exec('runc', ['--root', state, ...args], { cwd: bundle, env: baseEnv(), timeoutMs: 60_000 });
    const log = join(scratch, 'fn.log');
    const fd = openSync(log, 'w');
    // In the foreground: runc's exit status is the container process's.
    const child = spawn('runc', ['--root', state, 'run', '--bundle', bundle, id], {
      cwd: bundle,
      stdio: ['ignore', fd, fd],
      env: baseEnv() as NodeJS.ProcessEnv,
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    closeSync(fd);
    try {
      const curl = (path: string) => curlWhenUp(port, path, () => fs.readFile(log, 'utf8'));
      expect(await curl('/?name=nx')).toBe('Howdy, nx! (/)\n');
      expect(await curl('/greet/ana')).toBe('Howdy, world! (/greet/ana)\n');
      expect(await curl('/hello')).toBe('Howdy, world! (/hello)\n');
      expect(await fs.readFile(log, 'utf8')).toMatch(new RegExp(`function Hello \\(hello-fn v1\\) listening on :${port}, serving / /greet/\\{who\\} /hello`));
      expectSuccess(await runc(['kill', id, 'TERM']), 'runc kill');
      expect(await exited).toBe(0);
      expect(await fs.readFile(log, 'utf8')).toContain('function Hello: stopped');
    } finally {
      child.kill('SIGKILL');
      await runc(['delete', '--force', id]);
    }
  });

  test('run_image holds after the base tag moves to new content; editing it rebuilds on the new base', async () => {
    // New content under the same tag: the same layer, another config.
    await execOk('umoci', ['config', '--image', `${base.layout}:base`, '--config.env', 'FOO=moved'], { cwd: scratch, env: baseEnv() });
    await skopeoCopy(`oci:${base.layout}:base`, `docker://${reg.host}/fnbase:1`, { format: 'oci', destInsecure: true });
    const baseV2 = digestOf(await skopeoRaw(`docker://${reg.host}/fnbase:1`, { insecure: true }));
    expect(baseV2).not.toBe(baseV1);

    const pinned = await fs.readFile(fn('func.yaml'), 'utf8');
    const kept = await buildImage();
    expectSuccess(kept, 'build-image after the tag moved');
    expect(kept.stdout).not.toContain(': pinned ');
    expect(await fs.readFile(fn('func.yaml'), 'utf8')).toBe(pinned);
    let [img] = await layout().images('0.1.0');
    expect(img.manifest.annotations?.[`${A}base.digest`]).toBe(baseV1);
    expect(img.config.config.Env).toContain('FOO=bar');

    await fs.writeFile(fn('func.yaml'), pinned.replace(`run_image: ${reg.host}/fnbase:1@${baseV1}`, `run_image: ${reg.host}/fnbase:1@${baseV2}`));
    expectSuccess(await buildImage(), 'build-image after editing run_image');
    [img] = await layout().images('0.1.0');
    expect(img.manifest.annotations?.[`${A}base.digest`]).toBe(baseV2);
    expect(img.config.config.Env).toContain('FOO=moved');
    expect(await fs.readFile(fn('func.yaml'), 'utf8')).toContain(`@${baseV2}\n`);
  });

  test('push sends the image to the registry under name:version; skopeo reads back the digest of the layout', async () => {
    expectSuccess(await ws.nx(['run', 'hello-fn:push', '--skip-nx-cache']), 'nx run hello-fn:push');
    const local = await layout().tagged('0.1.0');
    const remote = digestOf(await skopeoRaw(`docker://${reg.host}/fns/hello-fn:0.1.0`, { insecure: true }));
    expect(remote).toBe(local.digest);
  });

  test('bad input fails with what was wrong and loses nothing: a wrong functionName, a malformed func.yaml, a runtime this Go cannot satisfy', async () => {
    const good = await fs.readFile(fn('func.yaml'), 'utf8');
    const before = await layout().index();

    let r = await buildImage({ FUNC_NAME: 'Missing' });
    expectFailure(r, 'an unknown FUNC_NAME');
    expect(r.stdout + r.stderr).toMatch(
      /function "Missing" not found in .*hello-fn\. Handlers in this package: Hello\.[\s\S]*Accepted signatures: func Name\(w http\.ResponseWriter, r \*http\.Request\)/,
    );

    await fs.writeFile(fn('func.yaml'), good.replace('version: 0.1.0', 'version: [0.1'));
    r = await buildImage();
    expectFailure(r, 'a malformed func.yaml');
    expect(r.stdout + r.stderr).toMatch(/func\.yaml:\d+:\d+: not valid YAML/);

    await fs.writeFile(fn('func.yaml'), good.replace(/runtime: go\S+/, 'runtime: go1.19'));
    r = await buildImage();
    expectFailure(r, 'a runtime the toolchain cannot satisfy');
    expect(r.stdout + r.stderr).toContain(`runtime "go1.19" needs go1.19.x; this machine's go is go${goVersion}`);

    await fs.writeFile(fn('func.yaml'), 'specVersion: 0.36.0\nname: hello-fn\nruntime: go\nimage: example.com/hello-fn\n');
    r = await buildImage();
    expectFailure(r, 'a Knative func.yaml');
    expect(r.stdout + r.stderr).toContain('is a Knative Functions func.yaml (specVersion 0.36.0): not supported yet');

    await fs.writeFile(fn('func.yaml'), good);
    expect(await layout().index()).toEqual(before);
  });
});

/**
 * A function whose sources are a branch of a git repository, through real Nx with its cache:
 * Nx hashes the target's options, so without a runtime input a push to the branch is
 * replayed from the cache (the warning says so and names the input); with the input it
 * suggests, the next run after a push rebuilds at the new commit. Each commit answers
 * differently: curl asks the built binary which one it came from.
 */
describe('a function from a git branch, through Nx', () => {
  let bare: string;
  let work: string;
  const project = () => ws.path('apps', 'git-fn');
  const binary = () => join(project(), 'bin', 'linux_amd64', 'git-fn');
  const git = (cwd: string, args: string[]) =>
    execOk('git', ['-c', 'user.name=e2e', '-c', 'user.email=e2e@example.com', '-c', 'commit.gpgsign=false', ...args], { cwd, env: baseEnv() });
  const run = () => ws.nx(['run', 'git-fn:build-binaries']);
  /** What the built binary answers: each commit's ends with its own mark. */
  const answer = async () => {
    const port = await freePort();
    const child = spawn(binary(), [], { env: { PORT: String(port) }, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      return await curlWhenUp(port, '/');
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  };
  /** Commits a new answer to the branch and pushes it; returns the commit. */
  const pushChange = async (mark: string) => {
    const file = join(work, 'hello.go');
    await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace(/\(%s\)[^\\]*\\n/, `(%s) ${mark}\\n`));
    await git(work, ['commit', '-q', '-am', mark]);
    await git(work, ['push', '-q', bare, 'main']);
    return (await git(work, ['rev-parse', 'HEAD'])).stdout.trim();
  };
  const writeProject = (inputs?: unknown[]) =>
    fs.writeFile(
      join(project(), 'project.json'),
      JSON.stringify(
        {
          name: 'git-fn',
          root: 'apps/git-fn',
          projectType: 'application',
          targets: {
            'build-binaries': {
              executor: 'nx-fnbuild:build-binaries',
              cache: true,
              outputs: ['{projectRoot}/bin'],
              ...(inputs ? { inputs } : {}),
              options: { functionName: 'Hello', platforms: ['linux/amd64'], source: { git: `file://${bare}`, revision: 'main' } },
            },
          },
        },
        null,
        2,
      ),
    );

  beforeAll(async () => {
    work = join(scratch, 'git-fn-work');
    bare = join(scratch, 'git-fn.git');
    await fs.cp(join(FIXTURES, 'hello-fn'), work, { recursive: true });
    await fs.rm(join(work, 'func.yaml'));
    await git(work, ['init', '-q', '-b', 'main']);
    await git(work, ['add', '-A']);
    await git(work, ['commit', '-q', '-m', 'hello']);
    await git(scratch, ['clone', '-q', '--bare', work, bare]);
    await fs.mkdir(project(), { recursive: true });
  });

  test('without an ls-remote input a push is replayed from the cache, and the warning says so; with the input it names, a push rebuilds', async () => {
    const first = (await git(work, ['rev-parse', 'HEAD'])).stdout.trim();
    await writeProject();
    expect((await fs.readdir(project())).sort()).toEqual(['project.json']);
    let r = await run();
    expectSuccess(r, 'nx run git-fn:build-binaries');
    expect(r.stdout).toContain(`source file://${bare} main → ${first}`);
    const input = { runtime: `git ls-remote file://${bare} refs/heads/main` };
    expect(r.stdout).toContain(`warning: revision "main" is a branch (refs/heads/main)`);
    expect(r.stdout).toContain(`Add ${JSON.stringify(input)} to the inputs of git-fn:build-binaries`);
    expect(await answer()).toBe(', world! (/)\n');

    // The warning is true: Nx replays the old build after a push.
    const second = await pushChange('two');
    r = await run();
    expectSuccess(r, 'build-binaries after a push, no runtime input');
    expect(r.output).toMatch(/from the cache|local cache/);
    expect(await answer()).toBe(', world! (/)\n');

    // With the input it named: built at the new commit, replayed while the branch stays, rebuilt after a push.
    await writeProject(['default', input]);
    r = await run();
    expectSuccess(r, 'build-binaries with the ls-remote input');
    expect(r.stdout).toContain(`main → ${second}`);
    expect(r.stdout).not.toContain('warning: revision');
    expect(await answer()).toBe(', world! (/) two\n');
    r = await run();
    expect(r.output).toMatch(/from the cache|local cache/);

    const third = await pushChange('three');
    r = await run();
    expectSuccess(r, 'build-binaries after another push, with the input');
    expect(r.output).not.toMatch(/from the cache|local cache/);
    expect(r.stdout).toContain(`main → ${third}`);
    expect(await answer()).toBe(', world! (/) three\n');
    expect((await fs.readdir(project())).sort()).toEqual(['bin', 'project.json']);
  });
});
