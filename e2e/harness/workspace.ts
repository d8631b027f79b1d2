import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packPlugin } from './pack';
import { FIXTURES, TMP_PREFIX } from './paths';
import { baseEnv, exec, execOk, goWrapper, realGo, GoLog, type Env, type ExecResult } from '../../testkit';

export const NX_VERSION = '22.7.12';
/** The tag the workspace's only commit carries: {version} in ldflags expands to this without the "v". */
export const GIT_TAG = 'v1.2.3';
export const VERSION = '1.2.3';
/** Where the demo Go module (e2e/fixtures/demo) sits in the workspace; project "demo". */
export const PROJECT = 'apps/demo';

/**
 * A fresh Nx workspace in os.tmpdir() that uses nx-fnbuild the way users get it: nx and
 * @nx/devkit from the registry and the plugin from its `npm pack` tarballs. It holds the demo
 * Go module at apps/demo (project "demo", e2e/fixtures/demo-project.json), committed to git
 * and tagged v1.2.3.
 *
 * Every run gets a controlled environment: no Nx daemon, cloud or TUI, the Nx cache and the
 * nx-fnbuild cache inside the workspace, Go modules from nowhere (GOPROXY=off) unless the
 * test says otherwise, and $GO pointing at a wrapper that logs each go call (goLog).
 */
export class Workspace {
  readonly goLog: GoLog;
  readonly project: string;
  /** Pins every run of this workspace gets; a run's own env goes on top. */
  readonly env: Env;

  private constructor(
    readonly root: string,
    env: Env,
  ) {
    this.goLog = new GoLog(join(root, '.e2e', 'go.log'));
    this.project = join(root, PROJECT);
    this.env = env;
  }

  static async create(opts: { env?: (root: string) => Record<string, string> } = {}): Promise<Workspace> {
    const tarballs = await packPlugin();
    const root = await fs.mkdtemp(join(tmpdir(), `${TMP_PREFIX}ws-`));
    const e2e = join(root, '.e2e');
    await fs.mkdir(e2e);
    const env: Env = {
      ...baseEnv(),
      CI: 'true',
      NX_DAEMON: 'false',
      NX_NO_CLOUD: 'true',
      NX_TUI: 'false',
      NX_CACHE_DIRECTORY: join(root, '.nx', 'cache'),
      NX_FNBUILD_CACHE_DIR: join(root, '.fnbuild-cache'),
      FORCE_COLOR: '0',
      GO: join(e2e, 'go'),
      GOFLAGS: '',
      GOWORK: 'off',
      GOTOOLCHAIN: 'local',
      GOPROXY: 'off',
      GOMODCACHE: join(e2e, 'gomodcache'),
      ...opts.env?.(root),
    };
    const ws = new Workspace(root, env);
    try {
      await ws.populate(tarballs);
    } catch (err) {
      await ws.dispose();
      throw err;
    }
    return ws;
  }

  /** package.json, nx.json, the demo project, npm install, git init + commit + tag. */
  private async populate(tarballs: { core: string; plugin: string }): Promise<void> {
    const root = this.root;
    goWrapper(join(root, '.e2e')); // .e2e/go, logging to .e2e/go.log

    await writeJson(join(root, 'package.json'), {
      name: 'nx-fnbuild-e2e-workspace',
      private: true,
      devDependencies: {
        nx: NX_VERSION,
        '@nx/devkit': NX_VERSION,
        '@nx-fnbuild/core': `file:${tarballs.core}`,
        'nx-fnbuild': `file:${tarballs.plugin}`,
      },
    });
    await writeJson(join(root, 'nx.json'), {
      $schema: './node_modules/nx/schemas/nx-schema.json',
      neverConnectToCloud: true,
      analytics: false,
      cacheDirectory: '.nx/cache',
    });
    await fs.writeFile(join(root, '.gitignore'), ['node_modules/', '.nx/', '.e2e/', '.fnbuild-cache/', '.cold-cache/', 'bin/', 'out/', ''].join('\n'));
    await fs.cp(join(FIXTURES, 'demo'), this.project, { recursive: true });
    await fs.copyFile(join(FIXTURES, 'demo-project.json'), join(this.project, 'project.json'));

    const plain = { cwd: root, env: this.env, timeoutMs: 5 * 60_000 };
    await execOk('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], plain);
    await this.git(['init', '-q', '-b', 'main']);
    await this.git(['add', '-A']);
    await this.git(['commit', '-q', '-m', 'demo workspace']);
    await this.git(['tag', GIT_TAG]);
  }

  path(...rel: string[]): string {
    return join(this.root, ...rel);
  }

  /** A file of the demo project. */
  projectPath(...rel: string[]): string {
    return join(this.project, ...rel);
  }

  git(args: string[]): Promise<ExecResult> {
    return execOk('git', ['-c', 'user.name=e2e', '-c', 'user.email=e2e@example.com', '-c', 'commit.gpgsign=false', ...args], { cwd: this.root, env: this.env });
  }

  /** `nx <args>` as a real process from the workspace's node_modules. */
  async nx(args: string[], env: Env = {}): Promise<ExecResult> {
    const pkg = JSON.parse(await fs.readFile(this.path('node_modules', 'nx', 'package.json'), 'utf8')) as { bin: Record<string, string> };
    return exec(process.execPath, [this.path('node_modules', 'nx', pkg.bin.nx), ...args], { cwd: this.root, env: { ...this.env, ...env } });
  }

  /** The core's own CLI (`fnbuild`) from the installed tarball, without Nx. */
  async fnbuild(args: string[], env: Env = {}): Promise<ExecResult> {
    const dir = this.path('node_modules', '@nx-fnbuild', 'core');
    const pkg = JSON.parse(await fs.readFile(join(dir, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    return exec(process.execPath, [join(dir, pkg.bin.fnbuild), ...args], { cwd: this.root, env: { ...this.env, ...env } });
  }

  /** The real go (not the logging wrapper), for the test's own checks and setup. */
  async go(args: string[], opts: { cwd?: string; env?: Env } = {}): Promise<ExecResult> {
    return execOk(realGo(), args, { cwd: opts.cwd ?? this.project, env: { ...this.env, ...opts.env } });
  }

  /** Rewrites a project file; the edit must change it. */
  async edit(rel: string, change: (text: string) => string): Promise<void> {
    const file = this.projectPath(rel);
    const before = await fs.readFile(file, 'utf8');
    const after = change(before);
    if (after === before) throw new Error(`edit of ${rel} changed nothing`);
    await fs.writeFile(file, after);
  }

  async dispose(): Promise<void> {
    if (process.env.E2E_KEEP) {
      process.stderr.write(`e2e: kept workspace ${this.root}\n`);
      return;
    }
    await makeWritable(this.path('.e2e', 'gomodcache')); // the module cache is read-only
    await fs.rm(this.root, { recursive: true, force: true });
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await fs.writeFile(path, JSON.stringify(value, null, 2) + '\n');
}

async function makeWritable(dir: string): Promise<void> {
  const st = await fs.lstat(dir).catch(() => undefined);
  if (!st?.isDirectory()) return;
  await fs.chmod(dir, 0o755);
  for (const e of await fs.readdir(dir)) await makeWritable(join(dir, e));
}

// ---- checks that do not rely on the code under test ----

export async function sha256Of(path: string): Promise<string> {
  return createHash('sha256')
    .update(await fs.readFile(path))
    .digest('hex');
}

/** `file -b`: what the file is, according to libmagic. */
export async function fileType(path: string): Promise<string> {
  return (await execOk('file', ['-b', path], { cwd: '/', env: baseEnv() })).stdout.trim();
}

/** Runs a binary we built (linux/amd64 only, on this machine) and returns its stdout. */
export async function runBinary(path: string, args: string[]): Promise<string> {
  return (await execOk(path, args, { cwd: '/', env: baseEnv(), timeoutMs: 30_000 })).stdout;
}

/** Every file under dir, relative, sorted. */
export async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...(await filesUnder(join(dir, e.name), `${prefix}${e.name}/`)));
    else out.push(`${prefix}${e.name}`);
  }
  return out.sort();
}

export interface FileState {
  sha256: string;
  mtimeNs: bigint;
  ino: bigint;
}

/** Content and write time of each file: equal states mean nobody wrote them. */
export async function fileStates(paths: string[]): Promise<Record<string, FileState>> {
  const out: Record<string, FileState> = {};
  for (const p of paths) {
    const st = await fs.stat(p, { bigint: true });
    out[p] = { sha256: await sha256Of(p), mtimeNs: st.mtimeNs, ino: st.ino };
  }
  return out;
}

export interface ArtifactJson {
  target: string;
  name: string;
  importPath: string;
  platform: string;
  path: string;
  sha256: string;
  size: number;
  goVersion: string;
  cached: boolean;
}

export async function readArtifacts(outputDir: string): Promise<ArtifactJson[]> {
  return JSON.parse(await fs.readFile(join(outputDir, 'artifacts.json'), 'utf8')) as ArtifactJson[];
}
