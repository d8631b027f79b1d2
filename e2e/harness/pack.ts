import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { baseEnv, execOk } from '../../testkit';
import { REPO_ROOT, TMP_PREFIX } from './paths';

export interface Tarballs {
  core: string;
  plugin: string;
}

const PACKAGES = { core: join(REPO_ROOT, 'packages', 'core'), plugin: join(REPO_ROOT, 'packages', 'nx-fnbuild') };

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/**
 * Digest of what `npm pack` takes from both packages: their top-level files (package.json,
 * executors.json, ...), dist/ and the schema.json files. Equal digests pack equal tarballs;
 * sources being edited (not yet built) do not change it.
 */
async function fingerprint(): Promise<string> {
  const h = createHash('sha256');
  for (const dir of Object.values(PACKAGES)) {
    const top = (await fs.readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(dir, e.name));
    const dist = (await filesUnder(join(dir, 'dist'))).filter((f) => !f.endsWith('.tsbuildinfo'));
    const schemas = (await filesUnder(join(dir, 'src'))).filter((f) => basename(f) === 'schema.json');
    for (const f of [...top, ...dist, ...schemas].sort())
      h.update(relative(REPO_ROOT, f))
        .update('\0')
        .update(await fs.readFile(f))
        .update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

let packed: Promise<Tarballs> | undefined;

/**
 * `npm pack` of both packages, as users get them. Packed at most once per state of the
 * packages: the tarballs land in <tmp>/nx-fnbuild-e2e-pack-<digest of the packages>, which
 * every test file of the run (and a rerun with unchanged packages) reuses.
 */
export function packPlugin(): Promise<Tarballs> {
  return (packed ??= (async () => {
    for (const dir of Object.values(PACKAGES)) {
      if (!existsSync(join(dir, 'dist', 'index.js'))) {
        throw new Error(`${relative(REPO_ROOT, dir)}/dist is missing: run \`npm run build\` at the repository root before the e2e tests`);
      }
    }
    const final = join(tmpdir(), `${TMP_PREFIX}pack-${await fingerprint()}`);
    const manifest = join(final, 'tarballs.json');
    if (!existsSync(manifest)) {
      const staging = await fs.mkdtemp(join(tmpdir(), `${TMP_PREFIX}packing-`));
      const names: Record<string, string> = {};
      for (const [which, dir] of Object.entries(PACKAGES)) {
        const r = await execOk('npm', ['pack', '--json', '--pack-destination', staging], { cwd: dir, env: baseEnv() });
        const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as { filename: string }[];
        names[which] = info.filename;
      }
      await fs.writeFile(join(staging, 'tarballs.json'), JSON.stringify(names));
      // Publish atomically; a concurrent packer that got there first wins and we use its tarballs.
      await fs.rename(staging, final).catch(() => fs.rm(staging, { recursive: true, force: true }));
    }
    const now = new Date();
    await fs.utimes(final, now, now); // in use: not stale
    await removeStale(final);
    const names = JSON.parse(await fs.readFile(manifest, 'utf8')) as Record<keyof Tarballs, string>;
    return { core: join(final, names.core), plugin: join(final, names.plugin) };
  })());
}

/** Tarballs of other package states unused for 15 minutes, and workspaces a killed run left 6 hours ago. */
async function removeStale(keep: string): Promise<void> {
  const maxAge = (name: string) =>
    name.startsWith(`${TMP_PREFIX}pack-`) || name.startsWith(`${TMP_PREFIX}packing-`)
      ? 15 * 60_000
      : name.startsWith(`${TMP_PREFIX}ws-`)
        ? 6 * 3600_000
        : undefined;
  for (const name of await fs.readdir(tmpdir())) {
    const p = join(tmpdir(), name);
    const age = maxAge(name);
    if (p === keep || age === undefined) continue;
    const st = await fs.stat(p).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > age) await fs.rm(p, { recursive: true, force: true }).catch(() => undefined);
  }
}
