import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { join, relative } from 'node:path';
import { crc32 } from 'node:zlib';
import { execOk } from './process';

let realGoPromise: Promise<string> | undefined;

/** The go command the machine has: $GO if set, else `which go`. */
export function realGo(): Promise<string> {
  return (realGoPromise ??= (async () => {
    if (process.env.GO?.includes('/')) return process.env.GO;
    const r = await execOk('which', [process.env.GO || 'go'], { cwd: '/', env: process.env });
    return r.stdout.trim();
  })());
}

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A go command that records every call, one line each:
 *   <argv joined by spaces> TAB ppid=<pid of the caller> GOOS=.. GOARCH=.. GOARM=..
 * then execs the real go. Set it as $GO for the engine: counting calls this way does not
 * depend on anything the engine says about itself.
 *
 * With E2E_GO_GATE=<dir> set, a `go build` first writes <dir>/held.<its pid> (holding the
 * caller's pid), then waits until <dir>/open exists: a test holds builds mid-way, sees who
 * is building and who is waiting, kills one, and opens the gate when it has seen enough.
 */
export async function writeGoWrapper(path: string, log: string): Promise<void> {
  const go = await realGo();
  const script = `#!/usr/bin/env bash
# nx-fnbuild e2e: log this go call, then run the real go.
printf '%s\\t%s\\n' "$*" "ppid=$PPID GOOS=\${GOOS:-} GOARCH=\${GOARCH:-} GOARM=\${GOARM:-}" >> ${sq(log)}
if [ "\${1:-}" = build ] && [ -n "\${E2E_GO_GATE:-}" ]; then
  mkdir -p "$E2E_GO_GATE" && printf '%s' "$PPID" > "$E2E_GO_GATE/held.$$"
  for _ in $(seq 1 6000); do
    [ -e "$E2E_GO_GATE/open" ] && break
    sleep 0.05
  done
fi
exec ${sq(go)} "$@"
`;
  await fs.writeFile(path, script, { mode: 0o755 });
  await fs.writeFile(log, '');
}

export interface GoCall {
  /** argv as one string: "build -trimpath ... -- ./cmd/server". */
  args: string;
  /** Pid of the process that ran go (the engine). */
  ppid: string;
  /** "linux/amd64", "linux/arm/v7" (GOARM as the OCI variant), from the call's environment. */
  platform: string;
  /** For go build: the package argument after "--". */
  pkg?: string;
}

export class GoLog {
  constructor(readonly path: string) {}

  async reset(): Promise<void> {
    await fs.writeFile(this.path, '');
  }

  async calls(): Promise<GoCall[]> {
    const text = await fs.readFile(this.path, 'utf8');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [args, meta = ''] = line.split('\t');
        const v = Object.fromEntries(meta.split(' ').map((kv) => kv.split('=') as [string, string]));
        const platform = [v.GOOS, v.GOARCH, v.GOARCH === 'arm' && v.GOARM ? `v${v.GOARM}` : ''].filter(Boolean).join('/');
        const dashes = args.lastIndexOf(' -- ');
        return { args, ppid: v.ppid, platform, pkg: dashes >= 0 ? args.slice(dashes + 4) : undefined };
      });
  }

  /** The `go build` calls: "zero go builds" means this is empty. */
  async builds(): Promise<GoCall[]> {
    return (await this.calls()).filter((c) => c.args.startsWith('build '));
  }

  /** The builds as sorted "<package> <platform>" strings, for exact comparisons. */
  async buildSet(): Promise<string[]> {
    return (await this.builds()).map((c) => `${c.pkg} ${c.platform}`).sort();
  }

  async modDownloads(): Promise<GoCall[]> {
    return (await this.calls()).filter((c) => c.args.startsWith('mod download'));
  }
}

/** A zip with stored (uncompressed) entries: all a module proxy's .zip needs. */
function zipStored(entries: { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const n = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(0x21, 12); // date 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(n.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, n, data);
    centrals.push(central, n);
    offset += local.length + n.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/**
 * Lays out a file:// module proxy (<module>/@v/list, vX.info, vX.mod, vX.zip) from source
 * folders named <module>@<version> under `sources`. Use with GOPROXY=file://<dir>.
 */
export async function buildModuleProxy(sources: string, dir: string): Promise<void> {
  const filesIn = async (d: string): Promise<string[]> => {
    const out: string[] = [];
    for (const e of await fs.readdir(d, { withFileTypes: true })) out.push(...(e.isDirectory() ? await filesIn(join(d, e.name)) : [join(d, e.name)]));
    return out.sort();
  };
  const moduleDirs = async (d: string): Promise<string[]> => {
    const out: string[] = [];
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      out.push(...(e.name.includes('@') ? [join(d, e.name)] : await moduleDirs(join(d, e.name))));
    }
    return out;
  };
  for (const src of await moduleDirs(sources)) {
    const mv = relative(sources, src); // example.com/quote@v1.0.0
    const [module, version] = mv.split('@');
    const at = join(dir, module, '@v');
    await fs.mkdir(at, { recursive: true });
    const listFile = join(at, 'list');
    const listed = existsSync(listFile) ? await fs.readFile(listFile, 'utf8') : '';
    await fs.writeFile(listFile, listed + `${version}\n`);
    await fs.writeFile(join(at, `${version}.info`), JSON.stringify({ Version: version, Time: '2024-01-01T00:00:00Z' }));
    await fs.copyFile(join(src, 'go.mod'), join(at, `${version}.mod`));
    const entries = await Promise.all((await filesIn(src)).map(async (f) => ({ name: `${mv}/${relative(src, f)}`, data: await fs.readFile(f) })));
    await fs.writeFile(join(at, `${version}.zip`), zipStored(entries));
  }
}

/**
 * A real go.sum line for a module's go.mod (dirhash "h1": sha256 over "<sha256 hex>  go.mod\n"),
 * as `go mod download` would write it.
 */
export function goModSumLine(module: string, version: string, goModText: string): string {
  const fileHash = createHash('sha256').update(goModText).digest('hex');
  const h1 = createHash('sha256').update(`${fileHash}  go.mod\n`).digest('base64');
  return `${module} ${version}/go.mod h1:${h1}`;
}
