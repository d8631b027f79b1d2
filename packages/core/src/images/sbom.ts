import type { BlobRef } from '../cache/store';
import type { Node } from '../graph/node';
import type { Toolchain } from '../go/toolchain';
import { runOk } from '../process/run';
import { keyOf, sha256Hex } from '../util/hash';

/** A module a binary was built from, as `go version -m` reports it. */
export interface BuiltModule {
  path: string;
  version: string;
  /** go.sum's h1: hash, when the module came from the module cache. */
  sum?: string;
  main?: boolean;
}

export interface BuildInfo {
  goVersion: string;
  mainPackage: string;
  modules: BuiltModule[];
}

/**
 * Parses `go version -m` (tab-separated, stable since Go 1.18): "path", "mod", "dep" and
 * "=>" (a replacement of the dep above it) lines.
 */
export function parseBuildInfo(text: string): BuildInfo {
  const lines = text.split('\n');
  const goVersion = /:\s*(go\S+)/.exec(lines[0] ?? '')?.[1] ?? 'unknown';
  let mainPackage = '';
  const modules: BuiltModule[] = [];
  for (const line of lines.slice(1)) {
    const [, kind, path, version, sum] = line.split('\t');
    if (kind === 'path') mainPackage = path ?? '';
    else if (kind === 'mod') modules.push({ path: path!, version: version || '(devel)', sum: sum || undefined, main: true });
    else if (kind === 'dep') modules.push({ path: path!, version: version ?? '', sum: sum || undefined });
    else if (kind === '=>' && modules.length) modules[modules.length - 1] = { path: path!, version: version || '(devel)', sum: sum || undefined };
  }
  return { goVersion, mainPackage, modules };
}

/** sbom inputs of one binary: `go version -m`, cached by the binary's digest. */
export function buildInfoNode(tc: Toolchain, binary: BlobRef, label: string): Node<BuildInfo> {
  return {
    kind: 'sbom',
    id: `buildinfo ${binary.digest}`,
    label: `buildinfo ${label}`,
    key: async () => keyOf({ kind: 'buildinfo', v: 1, binary: binary.digest }),
    async run() {
      return { data: parseBuildInfo(await runOk(tc.go, ['version', '-m', binary.path], { cwd: '/', env: tc.processEnv })) };
    },
  };
}

const spdxId = (s: string) => `SPDXRef-Package-${s.replace(/[^A-Za-z0-9.-]/g, '-')}`;
const purl = (m: BuiltModule) => `pkg:golang/${m.path}${m.version && m.version !== '(devel)' ? `@${m.version}` : ''}`;

/** h1:<base64 sha256> → hex, the way ko records go.sum hashes as SPDX SHA256 checksums. */
function h1Hex(sum: string | undefined): string | undefined {
  if (!sum?.startsWith('h1:')) return undefined;
  const hex = Buffer.from(sum.slice(3), 'base64').toString('hex');
  return hex.length === 64 ? hex : undefined;
}

/**
 * An SPDX 2.3 document for one image: the main module, every dependency module (path,
 * version, go.sum hash, purl) and the Go standard library, from all of the image's
 * binaries. Deterministic: same inputs, same bytes (the namespace is a content hash).
 */
export function spdxDocument(o: { imageName: string; created: string; infos: BuildInfo[] }): Buffer {
  const byId = new Map<string, BuiltModule>();
  for (const info of o.infos) for (const m of info.modules) byId.set(`${m.path}@${m.version}`, { ...byId.get(`${m.path}@${m.version}`), ...m });
  const goVersions = [...new Set(o.infos.map((i) => i.goVersion))].sort();
  const mods = [...byId.values()].sort((a, b) => (a.main === b.main ? (a.path + a.version < b.path + b.version ? -1 : 1) : a.main ? -1 : 1));
  const mains = mods.filter((m) => m.main);
  const packages = [
    ...mods.map((m) => {
      const hex = h1Hex(m.sum);
      return {
        name: m.path,
        SPDXID: spdxId(`${m.path}@${m.version}`),
        versionInfo: m.version,
        downloadLocation: 'NOASSERTION',
        filesAnalyzed: false,
        ...(hex ? { checksums: [{ algorithm: 'SHA256', checksumValue: hex }] } : {}),
        externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: purl(m) }],
      };
    }),
    ...goVersions.map((v) => ({
      name: 'stdlib',
      SPDXID: spdxId(`stdlib@${v}`),
      versionInfo: v,
      downloadLocation: 'https://go.dev/dl/',
      filesAnalyzed: false,
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: `pkg:golang/stdlib@${v.replace(/^go/, '')}` }],
    })),
  ];
  const relationships = [
    ...mains.map((m) => ({ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: spdxId(`${m.path}@${m.version}`) })),
    ...mains.flatMap((main) =>
      packages
        .filter((p) => p.SPDXID !== spdxId(`${main.path}@${main.version}`) && !mains.some((m) => spdxId(`${m.path}@${m.version}`) === p.SPDXID))
        .map((p) => ({ spdxElementId: spdxId(`${main.path}@${main.version}`), relationshipType: 'DEPENDS_ON', relatedSpdxElement: p.SPDXID })),
    ),
  ];
  const body = { packages, relationships };
  const doc = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: o.imageName,
    documentNamespace: `https://nx-fnbuild.dev/spdx/${o.imageName}/${sha256Hex(JSON.stringify(body))}`,
    creationInfo: { created: o.created, creators: ['Tool: nx-fnbuild'] },
    ...body,
  };
  return Buffer.from(JSON.stringify(doc, null, 2) + '\n');
}
