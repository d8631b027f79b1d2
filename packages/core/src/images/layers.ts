import { promises as fs } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import type { BlobRef } from '../cache/store';
import type { StatMemo } from '../cache/stat-memo';
import type { Node } from '../graph/node';
import { buildLayer } from '../oci/layer';
import type { LayerMediaType } from '../oci/media-types';
import type { TarEntry } from '../oci/tar';
import type { Store } from '../cache/store';
import { FnbuildError } from '../util/errors';
import { keyOf, type Digest } from '../util/hash';

export interface LayerData {
  digest: Digest;
  size: number;
  diffId: Digest;
  mediaType: LayerMediaType;
}

function layerNode(
  id: string,
  label: string,
  key: () => Promise<string>,
  store: Store,
  build: () => Promise<TarEntry[]>,
  mtime: number,
  mediaType: LayerMediaType,
): Node<LayerData> {
  return {
    kind: 'layer',
    id,
    label,
    key,
    async run() {
      const layer = await buildLayer(await build(), { store, mtime, mediaType });
      const { digest, size, diffId } = layer;
      return { data: { digest, size, diffId, mediaType }, blobs: { layer: { digest, size, path: layer.path } } };
    },
  };
}

/**
 * layer(T, P): the binary alone in a layer, mode 0755, owned by root. Keyed on the
 * binary's digest, so an unchanged binary is never re-tarred or re-compressed.
 */
export function binaryLayerNode(o: { binary: BlobRef; path: string; label: string; mtime: number; mediaType: LayerMediaType; store: Store }): Node<LayerData> {
  const entries: TarEntry[] = [{ path: o.path, type: 'file', mode: 0o755, source: o.binary.path }];
  const key = keyOf({ kind: 'binary-layer', v: 1, binary: o.binary.digest, path: o.path, mode: 0o755, mtime: o.mtime, mediaType: o.mediaType });
  return layerNode(
    `layer ${key}`,
    o.label,
    async () => key,
    o.store,
    async () => entries,
    o.mtime,
    o.mediaType,
  );
}

export interface FileMapping {
  from: string;
  to: string;
}

const GLOB = /[*?[]/;

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
        i += glob[i + 2] === '/' ? 2 : 1;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&').replace('[', '\\[');
  }
  return new RegExp(`^${re}$`);
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/**
 * The files a `files` option names, as (source, in-image path) pairs, sorted. A plain file
 * goes to `to` (or into it, when `to` ends with "/"); a folder's files and a glob's matches
 * go under `to`, keeping their path below the folder or the glob's fixed prefix (like ko's
 * kodata). A mapping that matches nothing is an error: a typo never ships an empty image.
 */
export async function resolveFiles(projectRoot: string, mappings: FileMapping[]): Promise<{ source: string; target: string }[]> {
  const out: { source: string; target: string }[] = [];
  for (const [i, m] of mappings.entries()) {
    const from = m.from.replace(/^\.\//, '');
    const segments = from.split('/');
    const firstGlob = segments.findIndex((s) => GLOB.test(s));
    const prefix = join(projectRoot, ...(firstGlob < 0 ? segments : segments.slice(0, firstGlob)));
    const st = await fs.stat(prefix).catch(() => undefined);
    let found: { source: string; rel: string }[] = [];
    if (firstGlob < 0 && st?.isFile()) {
      const target = m.to.endsWith('/') ? posix.join(m.to, posix.basename(from)) : m.to;
      out.push({ source: prefix, target });
      continue;
    }
    if (st?.isDirectory()) {
      const re = firstGlob < 0 ? undefined : globToRegExp(segments.slice(firstGlob).join('/'));
      found = (await walk(prefix)).map((source) => ({ source, rel: relative(prefix, source).split(sep).join('/') })).filter((f) => !re || re.test(f.rel));
    }
    if (!found.length) {
      throw new FnbuildError(
        `files[${i}].from "${m.from}" matches no file under ${projectRoot}`,
        'Paths and globs are relative to the project root, e.g. "static/**" or "config/app.yaml".',
      );
    }
    for (const f of found) out.push({ source: f.source, target: posix.join(m.to, f.rel) });
  }
  const seen = new Map<string, string>();
  for (const f of out) {
    const other = seen.get(f.target);
    if (other && other !== f.source) throw new FnbuildError(`files: both ${other} and ${f.source} would be ${f.target} in the image`);
    seen.set(f.target, f.source);
  }
  return out.sort((a, b) => (a.target < b.target ? -1 : 1));
}

/** The extra files' layer (below the binary's): keyed on every file's digest, mode and place. */
export async function filesLayerNode(o: {
  projectRoot: string;
  files: FileMapping[];
  memo: StatMemo;
  mtime: number;
  mediaType: LayerMediaType;
  store: Store;
}): Promise<Node<LayerData>> {
  const files = await resolveFiles(o.projectRoot, o.files);
  const entries = await Promise.all(
    files.map(async (f): Promise<TarEntry & { digest: string }> => {
      const st = await fs.stat(f.source);
      return { path: f.target, type: 'file', mode: st.mode & 0o111 ? 0o755 : 0o644, source: f.source, digest: (await o.memo.digest(f.source))!.digest };
    }),
  );
  const key = keyOf({ kind: 'files-layer', v: 1, files: entries.map((e) => [e.path, e.mode, e.digest]), mtime: o.mtime, mediaType: o.mediaType });
  return layerNode(
    `layer ${key}`,
    `layer files (${files.length})`,
    async () => key,
    o.store,
    async () => entries.map(({ digest: _d, ...e }) => e),
    o.mtime,
    o.mediaType,
  );
}
