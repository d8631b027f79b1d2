/**
 * Function projects: a package exporting an HTTP handler and no main package, built through
 * a generated entrypoint (real go, real binaries, served and stopped with SIGTERM).
 * The OpenFunction framework case uses a stand-in module from a file:// proxy
 * (fixtures/goproxy-src): the real functions-framework-go is not served by the proxy here.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { freePort, goWrapper, realGo, removeDir, saveDirs, serve, tempDir, type GoCall, type GoWrapper, type SavedDirs } from '../../../testkit';
import { build, buildsIn, copyFixture, HOST_FOLDER, makeProxy, testEnv } from './fixtures/helpers';
import { execFileSync } from 'node:child_process';
import { buildImage } from '../src/images/build-image';
import { isMovableRef } from '../src/functions/git-source';

jest.setTimeout(300_000);

let tmp: string;
let go: GoWrapper;
let env: Record<string, string | undefined>;

beforeAll(() => {
  tmp = tempDir('fn');
  go = goWrapper(join(tmp, 'tools'));
  env = testEnv({ GO: go.command });
});
afterAll(() => removeDir(tmp));

/** Every file under dir (but bin/), with its size and mtime: proof that nothing was written there. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (relative(dir, p) !== 'bin') walk(p);
      } else out.push(`${relative(dir, p)} ${statSync(p).size} ${statSync(p).mtimeMs}`);
    }
  };
  walk(dir);
  return out.sort();
}

describe('a function project', () => {
  let project: string;
  /** The first build, made once; every test starts from the state it left. */
  let first: { treeBefore: string[]; treeAfter: string[]; result: Awaited<ReturnType<typeof build>>; calls: GoCall[] };
  let saved: SavedDirs;
  const opts = (extra: Record<string, unknown> = {}) => ({ cacheDir: join(tmp, 'project-cache'), ...extra });
  beforeAll(async () => {
    project = copyFixture('function', tmp);
    await go.log.reset();
    const treeBefore = tree(project);
    const result = await build({ workspaceRoot: tmp, projectRoot: project, options: opts({ functionName: 'Hello', version: '1.2.3' }), env });
    first = { treeBefore, result, treeAfter: tree(project), calls: await go.log.newCalls() };
    saved = saveDirs([project, opts().cacheDir, join(tmp, 'fn-image'), join(tmp, 'fn-bundle')], join(tmp, 'function-after-first-build'));
  });
  beforeEach(() => saved.restore());

  test('functionName builds a server for the function, without writing into the sources; it serves FUNC_CONTEXT and stops on SIGTERM with 0', async () => {
    const r = first.result;
    expect(r.artifacts.map((a) => [a.name, a.importPath, a.path])).toEqual([['function', 'example.com/hellofn/_fnbuild_main', `${HOST_FOLDER}/function`]]);
    expect(first.treeAfter).toEqual(first.treeBefore);
    expect(buildsIn(first.calls)).toEqual(['./_fnbuild_main']);

    const port = await freePort();
    const fc = JSON.stringify({ name: 'hello-fn', version: 'v9', port: String(port), runtime: 'Knative', httpPattern: '/greet/{who}' });
    const s = serve(join(project, 'bin', HOST_FOLDER, 'function'), [], { PATH: process.env.PATH, FUNC_CONTEXT: fc, PORT: '1' }, port);
    try {
      expect(await s.get('/?name=nx')).toMatchObject({ status: 200, body: 'hello, nx, from /\n' });
      expect((await s.get('/greet/ana')).body).toBe('hello, world, from /greet/ana\n');
    } finally {
      expect(await s.stop()).toBe(0);
    }
    expect(s.output()).toContain(`function Hello (hello-fn v9) listening on :${port}`);
    expect(s.output()).toContain('function Hello: stopped');
  });

  test('without FUNC_CONTEXT it listens on PORT; the version logged is the build version', async () => {
    const port = await freePort();
    const s = serve(join(project, 'bin', HOST_FOLDER, 'function'), [], { PATH: process.env.PATH, PORT: String(port) }, port);
    try {
      expect((await s.get('/x')).body).toBe('hello, world, from /x\n');
    } finally {
      expect(await s.stop()).toBe(0);
    }
    expect(s.output()).toContain(`function Hello (function 1.2.3) listening on :${port}`);
  });

  test('a second build is a cache hit; editing the function rebuilds it', async () => {
    await go.log.reset();
    const again = await build({ workspaceRoot: tmp, projectRoot: project, options: opts({ functionName: 'Hello', version: '1.2.3' }), env });
    expect([again.built, again.cached]).toEqual([0, 1]);
    expect(buildsIn(await go.log.newCalls())).toEqual([]);
    const file = join(project, 'hello.go');
    writeFileSync(file, readFileSync(file, 'utf8').replace('hello, %s', 'hi, %s'));
    const edited = await build({ workspaceRoot: tmp, projectRoot: project, options: opts({ functionName: 'Hello', version: '1.2.3' }), env });
    expect([edited.built, edited.cached]).toEqual([1, 0]);
    expect(buildsIn(await go.log.newCalls())).toEqual(['./_fnbuild_main']);
  });

  test('FUNC_NAME in the env names the function', async () => {
    const r = await build({ workspaceRoot: tmp, projectRoot: project, options: opts({ version: '1.2.3' }), env: { ...env, FUNC_NAME: 'Hello' } });
    expect(r.cached).toBe(1);
  });

  test.each([
    [
      'Nope',
      /function "Nope" not found in .*function\. Handlers in this package: Hello\.[\s\S]*Accepted signatures: func Name\(w http\.ResponseWriter, r \*http\.Request\); var Name http\.HandlerFunc/,
    ],
    ['Sum', /function "Sum" in .* has the wrong signature: func Sum\(a, b int\) int[\s\S]*Accepted signatures/],
    ['hello', /"hello" is not exported/],
  ])('functionName %s is refused with the signatures accepted', async (name, message) => {
    await expect(build({ workspaceRoot: tmp, projectRoot: project, options: opts({ functionName: name }), env })).rejects.toThrow(message);
  });

  test('func.yaml: the sole handler is the function; the first build pins runtime and build_image, keeping comments; later builds leave it alone', async () => {
    const fy = join(project, 'func.yaml');
    writeFileSync(fy, '# the hello function\nschema_version: 20180708\nname: hello\nversion: 0.1.0 # the image tag\n');
    const r = await build({ workspaceRoot: tmp, projectRoot: project, options: opts(), env });
    expect(r.artifacts.map((a) => a.name)).toEqual(['hello']);
    const goVersion = execFileSync(realGo(), ['env', 'GOVERSION'], { encoding: 'utf8' }).trim().slice(2);
    const minor = goVersion.split('.').slice(0, 2).join('.');
    const pinned = readFileSync(fy, 'utf8');
    expect(pinned).toBe(
      `# the hello function\nschema_version: 20180708\nname: hello\nversion: 0.1.0 # the image tag\nruntime: go${minor}\nbuild_image: golang:${goVersion}\n`,
    );
    expect(r.pinned).toEqual({ path: fy, fields: { runtime: `go${minor}`, build_image: `golang:${goVersion}` } });
    const mtime = statSync(fy).mtimeMs;
    const again = await build({ workspaceRoot: tmp, projectRoot: project, options: opts(), env });
    expect(statSync(fy).mtimeMs).toBe(mtime);
    expect(again.pinned).toBeUndefined();

    writeFileSync(fy, pinned.replace(`runtime: go${minor}`, 'runtime: go1.19'));
    await expect(build({ workspaceRoot: tmp, projectRoot: project, options: opts(), env })).rejects.toThrow(
      new RegExp(
        `func\\.yaml: runtime "go1\\.19" needs go1\\.19\\.x; this machine's go is go${goVersion.replace(/\./g, '\\.')}[\\s\\S]*change runtime in func\\.yaml to upgrade`,
      ),
    );
    writeFileSync(fy, pinned.replace(`build_image: golang:${goVersion}`, 'build_image: golang:1.26.999'));
    await expect(build({ workspaceRoot: tmp, projectRoot: project, options: opts(), env })).rejects.toThrow(
      /build_image "golang:1\.26\.999" needs go1\.26\.999; this machine's go is/,
    );
    writeFileSync(fy, 'schema_version: 20180708\nname: hello\nversion: [1, 2\n');
    await expect(build({ workspaceRoot: tmp, projectRoot: project, options: opts(), env })).rejects.toThrow(
      /func\.yaml:\d+:\d+: not valid YAML: Flow sequence/,
    );
    writeFileSync(fy, pinned);
  });

  test('build-image with an Fn entrypoint "./func": the binary goes to /function/func, the working dir is /function (umoci unpacks it; it runs)', async () => {
    const fy = join(project, 'func.yaml');
    writeFileSync(fy, '# the hello function\nschema_version: 20180708\nname: hello\nversion: 0.1.0 # the image tag\n');
    await build({ workspaceRoot: tmp, projectRoot: project, options: opts(), env }); // pins runtime and build_image
    const pinned = readFileSync(fy, 'utf8');
    writeFileSync(fy, pinned + 'entrypoint: ./func\nconfig:\n  GREETING: hi\n');
    await buildImage({ workspaceRoot: tmp, projectRoot: project, options: { cacheDir: opts().cacheDir, outputPath: 'fn-image', sbom: false }, env });
    const layout = join(tmp, 'fn-image');
    const config = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `oci:${layout}:0.1.0`], { encoding: 'utf8' })) as {
      config: { Entrypoint?: string[]; WorkingDir?: string; Env?: string[] };
    };
    expect([config.config.Entrypoint, config.config.WorkingDir]).toEqual([['./func'], '/function']);
    expect(config.config.Env).toContain('GREETING=hi');
    const bundle = join(tmp, 'fn-bundle');
    execFileSync('umoci', ['unpack', '--image', `${layout}:0.1.0`, bundle]);
    const port = await freePort();
    const s = serve(join(bundle, 'rootfs', 'function', 'func'), [], { PORT: String(port) }, port);
    try {
      expect((await s.get('/')).body).toContain('from /');
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });
});

test('the same function in another folder, with another cache, gives the same bytes (the overlay paths never reach the binary)', async () => {
  const a = copyFixture('function', join(tmp, 'here'), 'fn');
  const b = copyFixture('function', join(tmp, 'there', 'deeper'), 'fn');
  const one = await build({ workspaceRoot: a, projectRoot: a, options: { cacheDir: join(tmp, 'cache-a'), functionName: 'Hello' }, env });
  const two = await build({ workspaceRoot: b, projectRoot: b, options: { cacheDir: join(tmp, 'cache-b'), functionName: 'Hello' }, env });
  expect([one.built, two.built]).toEqual([1, 1]);
  expect(two.artifacts[0].sha256).toBe(one.artifacts[0].sha256);
});

test('functionName on a main package is refused: a main package cannot be imported', async () => {
  const project = copyFixture('root-main', tmp, 'main-as-fn');
  await expect(build({ workspaceRoot: tmp, projectRoot: project, options: { cacheDir: join(tmp, 'cache'), functionName: 'Main' }, env })).rejects.toThrow(
    /is a main package, which cannot be imported: a function lives in a package of its own/,
  );
});

test('FUNC_NAME in the environment leaves a project with a main package a service', async () => {
  const project = copyFixture('root-main', tmp, 'service-with-func-name');
  const r = await build({ workspaceRoot: tmp, projectRoot: project, options: { cacheDir: join(tmp, 'cache') }, env: { ...env, FUNC_NAME: 'Hello' } });
  expect(r.artifacts.map((a) => a.importPath)).toEqual([expect.not.stringContaining('_fnbuild_main')]);
});

test('a function that registers with the OpenFunction framework is served by the framework, FUNCTION_TARGET choosing it', async () => {
  const project = copyFixture('framework-fn', tmp);
  const proxy = makeProxy(join(tmp, 'proxy'), [{ path: 'github.com/OpenFunction/functions-framework-go', version: 'v0.6.0' }]);
  const fenv = { ...env, GOPROXY: proxy, GOSUMDB: 'off', GOMODCACHE: join(tmp, 'modcache'), GOFLAGS: '-mod=mod' };
  const r = await build({ workspaceRoot: tmp, projectRoot: project, options: { cacheDir: join(tmp, 'cache'), functionName: 'Greet' }, env: fenv });
  const port = await freePort();
  const s = serve(
    join(project, 'bin', HOST_FOLDER, r.artifacts[0].name),
    [],
    { PATH: process.env.PATH, FUNCTION_TARGET: 'Greet', FUNC_CONTEXT: JSON.stringify({ port }) },
    port,
  );
  try {
    const got = await s.get('/');
    expect(got.body).toBe('greetings via the framework\n');
    expect(got.headers.get('x-framework')).toBe('stand-in');
  } finally {
    await s.stop();
  }
  // Its image tells the framework which function to serve (skopeo reads the config).
  await buildImage({
    workspaceRoot: tmp,
    projectRoot: project,
    options: { cacheDir: join(tmp, 'cache'), functionName: 'Greet', outputPath: 'ofn-image', sbom: false },
    env: fenv,
  });
  const config = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `oci:${join(tmp, 'ofn-image')}:latest`], { encoding: 'utf8' })) as {
    config: { Env?: string[] };
  };
  expect(config.config.Env).toContain('FUNCTION_TARGET=Greet');
});

describe('a function from a git repository (source.git)', () => {
  let bare: string;
  let project: string;
  let first: string;
  const git = (cwd: string, args: string[]) =>
    execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e', GIT_CONFIG_NOSYSTEM: '1' },
    }).trim();
  const fromGit = (revision: string) =>
    build({
      workspaceRoot: tmp,
      projectRoot: project,
      options: { cacheDir: join(tmp, 'cache'), functionName: 'Hello', source: { git: `file://${bare}`, revision, subPath: 'fns/hello' } },
      env,
    });
  const answer = async (bin: string) => {
    const port = await freePort();
    const s = serve(bin, [], { PATH: process.env.PATH, PORT: String(port) }, port);
    try {
      return (await s.get('/')).body;
    } finally {
      expect(await s.stop()).toBe(0);
    }
  };

  beforeAll(() => {
    const work = join(tmp, 'fns-work');
    copyFixture('function', join(tmp), 'fns-src');
    execFileSync('mkdir', ['-p', join(work, 'fns')]);
    execFileSync('cp', ['-r', join(tmp, 'fns-src'), join(work, 'fns', 'hello')]);
    git(work, ['init', '-q', '-b', 'main']);
    git(work, ['add', '-A']);
    git(work, ['commit', '-q', '-m', 'hello v1']);
    git(work, ['tag', 'v1']);
    first = git(work, ['rev-parse', 'HEAD']);
    const file = join(work, 'fns', 'hello', 'hello.go');
    writeFileSync(file, readFileSync(file, 'utf8').replace('hello, %s', 'hello again, %s'));
    git(work, ['commit', '-q', '-am', 'hello v2']);
    bare = join(tmp, 'fns.git');
    git(tmp, ['clone', '-q', '--bare', work, bare]);
    project = join(tmp, 'git-fn');
    execFileSync('mkdir', ['-p', project]);
  });

  test('at a tag, at a commit and at a branch, each built from that commit; nothing but bin/ in the project', async () => {
    const atTag = await fromGit('v1');
    expect(atTag.source).toEqual({ url: `file://${bare}`, revision: 'v1', ref: 'refs/tags/v1', commit: first });
    expect(isMovableRef(atTag.source?.ref)).toBe(false);
    // Named after the project, as a local function is: not after the cache folder it was checked out to.
    expect(atTag.artifacts.map((a) => a.name)).toEqual(['git-fn']);
    const bin = join(project, 'bin', HOST_FOLDER, 'git-fn');
    expect(await answer(bin)).toBe('hello, world, from /\n');
    const atCommit = await fromGit(first);
    expect(atCommit.artifacts[0].sha256).toBe(atTag.artifacts[0].sha256);
    expect(atCommit.cached).toBe(1);
    expect(atCommit.source).toEqual({ url: `file://${bare}`, revision: first, commit: first });
    expect(isMovableRef(atCommit.source?.ref)).toBe(false);
    const atBranch = await fromGit('main');
    expect(atBranch.source).toMatchObject({ revision: 'main', ref: 'refs/heads/main' });
    expect(isMovableRef(atBranch.source?.ref)).toBe(true);
    expect(atBranch.source?.commit).not.toBe(first);
    expect(atBranch.built).toBe(1);
    expect(await answer(bin)).toBe('hello again, world, from /\n');
    expect(readdirSync(project)).toEqual(['bin']);
  });

  test('an unknown revision is a clear error', async () => {
    await expect(fromGit('v9')).rejects.toThrow(
      /revision "v9" not found in file:\/\/.*fns\.git[\s\S]*A branch, a tag or a full commit is accepted[\s\S]*Branches: main; tags: v1/,
    );
  });
});
