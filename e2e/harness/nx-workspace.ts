import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { packPlugin, type Tarballs } from './pack';
import { FIXTURES, TMP_PREFIX } from './paths';
import { baseEnv, exec, execOk, goWrapper, GoLog, type Env, type ExecResult } from '../../testkit';

/** An Nx release to test against; @nx/devkit is not republished with every nx patch. */
export interface NxRelease {
  nx: string;
  devkit: string;
  /** A node binary to run Nx with (default: this process's). */
  node?: string;
}

/** What the harness keeps out of git; a workspace without the plugin leaves bin/ and dist/ to nx-fnbuild's init. */
const gitignore = (withOutputs: boolean) => ['node_modules/', '.nx/', '.e2e/', '.fnbuild-cache/', ...(withOutputs ? ['dist/', 'bin/'] : []), ''].join('\n');

/**
 * node_modules with nx, @nx/devkit and both tarballs installed, once per Nx release and
 * state of the packages (<tmp>/nx-fnbuild-e2e-nxtpl-<nx>-<packed digest>); workspaces get
 * hard-linked copies, so a workspace costs no npm install.
 */
const templates = new Map<string, Promise<string>>();
function template(release: NxRelease, tarballs: Tarballs): Promise<string> {
  const digest = basename(dirname(tarballs.core)).replace(`${TMP_PREFIX}pack-`, '');
  const dir = join(tmpdir(), `${TMP_PREFIX}nxtpl-${release.nx}-${release.devkit}-${digest}`);
  let p = templates.get(dir);
  if (!p) {
    p = (async () => {
      if (!existsSync(join(dir, 'node_modules', 'nx-fnbuild', 'package.json'))) {
        const staging = await fs.mkdtemp(join(tmpdir(), `${TMP_PREFIX}nxtpl-staging-`));
        await writeJson(join(staging, 'package.json'), {
          name: 'nx-fnbuild-e2e-workspace',
          private: true,
          devDependencies: {
            nx: release.nx,
            '@nx/devkit': release.devkit,
            '@nx-fnbuild/core': `file:${tarballs.core}`,
            'nx-fnbuild': `file:${tarballs.plugin}`,
          },
        });
        await execOk('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: staging, env: baseEnv(), timeoutMs: 10 * 60_000 });
        await fs.rename(staging, dir).catch(() => fs.rm(staging, { recursive: true, force: true }));
      }
      await removeStaleTemplates(dir);
      return dir;
    })();
    templates.set(dir, p);
  }
  return p;
}

async function removeStaleTemplates(keep: string): Promise<void> {
  const now = new Date();
  await fs.utimes(keep, now, now);
  for (const name of await fs.readdir(tmpdir())) {
    if (!name.startsWith(`${TMP_PREFIX}nxtpl-`)) continue;
    const p = join(tmpdir(), name);
    const st = await fs.stat(p).catch(() => undefined);
    if (p !== keep && st && Date.now() - st.mtimeMs > 24 * 3600_000) await fs.rm(p, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await fs.writeFile(path, JSON.stringify(value, null, 2) + '\n');
}

/**
 * A fresh git repository with an Nx workspace that uses nx-fnbuild as users get it (from
 * its packed tarballs) and Go code from e2e/fixtures/nx-*: nx and the plugin from a
 * template install, its own Nx cache, nx-fnbuild cache, module cache and logging $GO
 * (goLog), no Nx daemon, cloud or TUI; GOWORK unset, so go.work files count.
 */
export class NxWorkspace {
  readonly goLog: GoLog;

  private constructor(
    readonly root: string,
    readonly env: Env,
    readonly release: NxRelease,
    readonly tarballs: Tarballs,
  ) {
    this.goLog = new GoLog(join(root, '.e2e', 'go.log'));
  }

  private static async prepare(root: string, release: NxRelease, tarballs: Tarballs, extraEnv: Env): Promise<NxWorkspace> {
    await fs.mkdir(join(root, '.e2e'), { recursive: true });
    const env: Env = {
      ...baseEnv(),
      CI: 'true',
      NX_DAEMON: 'false',
      NX_NO_CLOUD: 'true',
      NX_TUI: 'false',
      NX_CACHE_DIRECTORY: join(root, '.nx', 'cache'),
      NX_FNBUILD_CACHE_DIR: join(root, '.fnbuild-cache'),
      FORCE_COLOR: '0',
      GO: join(root, '.e2e', 'go'),
      GOFLAGS: '',
      GOWORK: undefined,
      GOTOOLCHAIN: 'local',
      GOPROXY: 'off',
      GOMODCACHE: join(root, '.e2e', 'gomodcache'),
      SOURCE_DATE_EPOCH: undefined,
      ...(release.node && { PATH: `${dirname(release.node)}:${process.env.PATH}` }),
      ...extraEnv,
    };
    const ws = new NxWorkspace(root, env, release, tarballs);
    goWrapper(join(root, '.e2e')); // .e2e/go, logging to .e2e/go.log
    return ws;
  }

  /**
   * A workspace from e2e/fixtures/<fixture> (its nx.json included), committed. With
   * `plugin: false` nx-fnbuild is not installed (for `nx add`), and node_modules is a
   * real copy, since npm will change it.
   */
  static async create(release: NxRelease, fixture: string, opts: { plugin?: boolean; env?: Env } = {}): Promise<NxWorkspace> {
    const tarballs = await packPlugin();
    const tpl = await template(release, tarballs);
    const root = await fs.mkdtemp(join(tmpdir(), `${TMP_PREFIX}ws-`));
    const ws = await NxWorkspace.prepare(root, release, tarballs, opts.env ?? {});
    try {
      await fs.cp(join(FIXTURES, fixture), root, { recursive: true });
      await fs.writeFile(join(root, '.gitignore'), gitignore(opts.plugin !== false));
      const pkg = JSON.parse(await fs.readFile(join(tpl, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
      if (opts.plugin === false) {
        delete pkg.devDependencies['nx-fnbuild'];
        await execOk('cp', ['-a', join(tpl, 'node_modules'), join(root, 'node_modules')], { cwd: root, env: baseEnv() });
        await fs.rm(join(root, 'node_modules', 'nx-fnbuild'), { recursive: true, force: true });
      } else {
        await execOk('cp', ['-al', join(tpl, 'node_modules'), join(root, 'node_modules')], { cwd: root, env: baseEnv() });
        await fs.copyFile(join(tpl, 'package-lock.json'), join(root, 'package-lock.json'));
      }
      await writeJson(join(root, 'package.json'), pkg);
      await ws.git(['init', '-q', '-b', 'main']);
      await ws.commitAll('workspace');
    } catch (err) {
      await ws.dispose();
      throw err;
    }
    return ws;
  }

  /** A clean clone: the same commit, its own node_modules link and caches, nothing built. */
  async clone(opts: { env?: Env } = {}): Promise<NxWorkspace> {
    const root = await fs.mkdtemp(join(tmpdir(), `${TMP_PREFIX}ws-`));
    await fs.rmdir(root);
    await execOk('git', ['clone', '-q', this.root, root], { cwd: tmpdir(), env: baseEnv() });
    const ws = await NxWorkspace.prepare(root, this.release, this.tarballs, opts.env ?? {});
    await execOk('cp', ['-al', join(await template(this.release, this.tarballs), 'node_modules'), join(root, 'node_modules')], { cwd: root, env: baseEnv() });
    return ws;
  }

  path(...rel: string[]): string {
    return join(this.root, ...rel);
  }

  git(args: string[]): Promise<ExecResult> {
    return execOk('git', ['-c', 'user.name=e2e', '-c', 'user.email=e2e@example.com', '-c', 'commit.gpgsign=false', ...args], { cwd: this.root, env: this.env });
  }

  /** Commits everything; returns the new HEAD. */
  async commitAll(message: string): Promise<string> {
    await this.git(['add', '-A']);
    await this.git(['commit', '-q', '--allow-empty', '-m', message]);
    return (await this.git(['rev-parse', 'HEAD'])).stdout.trim();
  }

  /** `nx <args>` as a real process, with the release's node. */
  async nx(args: string[], env: Env = {}): Promise<ExecResult> {
    const pkg = JSON.parse(await fs.readFile(this.path('node_modules', 'nx', 'package.json'), 'utf8')) as { bin: Record<string, string> };
    return exec(this.release.node ?? process.execPath, [this.path('node_modules', 'nx', pkg.bin.nx), ...args], {
      cwd: this.root,
      env: { ...this.env, ...env },
    });
  }

  /** `nx <args>` that must succeed; its output otherwise becomes the error. */
  async nxOk(args: string[], env: Env = {}): Promise<ExecResult> {
    const r = await this.nx(args, env);
    if (r.exitCode !== 0) throw new Error(`nx ${args.join(' ')} failed (exit ${r.exitCode}) in ${this.root}:\n${r.output}`);
    return r;
  }

  async read(rel: string): Promise<string> {
    return fs.readFile(this.path(rel), 'utf8');
  }

  async write(rel: string, text: string): Promise<void> {
    await fs.mkdir(dirname(this.path(rel)), { recursive: true });
    await fs.writeFile(this.path(rel), text);
  }

  /** Rewrites a file; the edit must change it. */
  async edit(rel: string, change: (text: string) => string): Promise<void> {
    const before = await this.read(rel);
    const after = change(before);
    if (after === before) throw new Error(`edit of ${rel} changed nothing`);
    await this.write(rel, after);
  }

  async dispose(): Promise<void> {
    if (process.env.E2E_KEEP) {
      process.stderr.write(`e2e: kept workspace ${this.root}\n`);
      return;
    }
    await exec('chmod', ['-R', 'u+w', this.path('.e2e')], { cwd: '/', env: baseEnv() }).catch(() => undefined); // the module cache is read-only
    await fs.rm(this.root, { recursive: true, force: true });
  }
}
