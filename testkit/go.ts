/**
 * The real go command, and a wrapper around it that logs every call: counting calls this way
 * does not depend on anything the engine says about itself.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, promises as fs, writeFileSync } from 'node:fs';
import { join } from 'node:path';

let realGoPath: string | undefined;

/** The machine's go binary: GOROOT/bin/go of $GO (or of `go` on PATH), wrappers and symlinks seen through. */
export function realGo(): string {
  return (realGoPath ??= join(execFileSync(process.env.GO || 'go', ['env', 'GOROOT'], { encoding: 'utf8' }).trim(), 'bin', 'go'));
}

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The wrapper script: one line per call, written with one printf (a single append, so
 * concurrent go processes never interleave lines):
 *   ppid=<pid of the caller> GOOS=.. GOARCH=.. GOARM=.. TAB <arg 1> TAB <arg 2> ...
 * then it execs the real go.
 *
 * With E2E_GO_GATE=<dir> set, a `go build` first writes <dir>/held.<its pid> (holding the
 * caller's pid), then waits until <dir>/open exists: a test holds builds mid-way, sees who
 * is building and who is waiting, kills one, and opens the gate when it has seen enough.
 */
function script(log: string): string {
  return `#!/usr/bin/env bash
# nx-fnbuild tests: log this go call, then run the real go.
line="ppid=$PPID GOOS=\${GOOS:-} GOARCH=\${GOARCH:-} GOARM=\${GOARM:-}"
for a in "$@"; do line="$line"$'\\t'"$a"; done
printf '%s\\n' "$line" >> ${sq(log)}
if [ "\${1:-}" = build ] && [ -n "\${E2E_GO_GATE:-}" ]; then
  mkdir -p "$E2E_GO_GATE" && printf '%s' "$PPID" > "$E2E_GO_GATE/held.$$"
  for _ in $(seq 1 6000); do
    [ -e "$E2E_GO_GATE/open" ] && break
    sleep 0.05
  done
fi
exec ${sq(realGo())} "$@"
`;
}

export interface GoCall {
  argv: string[];
  /** argv as one string: "build -trimpath ... -- ./cmd/server". */
  args: string;
  /** Pid of the process that ran go (the engine). */
  ppid: string;
  /** "linux/amd64", "linux/arm/v7" (GOARM as the OCI variant), from the call's environment. */
  platform: string;
  /** For go build: the package argument after "--". */
  pkg?: string;
}

function parseCall(line: string): GoCall {
  const [meta = '', ...argv] = line.split('\t');
  const v = Object.fromEntries(meta.split(' ').map((kv) => kv.split('=') as [string, string]));
  const platform = [v.GOOS, v.GOARCH, v.GOARCH === 'arm' && v.GOARM ? `v${v.GOARM}` : ''].filter(Boolean).join('/');
  const args = argv.join(' ');
  const dashes = args.lastIndexOf(' -- ');
  return { argv, args, ppid: v.ppid ?? '', platform, pkg: dashes >= 0 ? args.slice(dashes + 4) : undefined };
}

/** The calls a wrapper logged. */
export class GoLog {
  private seen = 0;

  constructor(readonly path: string) {}

  async reset(): Promise<void> {
    await fs.writeFile(this.path, '');
    this.seen = 0;
  }

  async calls(): Promise<GoCall[]> {
    return (await fs.readFile(this.path, 'utf8')).split('\n').filter(Boolean).map(parseCall);
  }

  /** The calls made since the last time this was asked (or since reset). */
  async newCalls(): Promise<GoCall[]> {
    const all = await this.calls();
    const fresh = all.slice(this.seen);
    this.seen = all.length;
    return fresh;
  }

  /** The `go build` calls: "zero go builds" means this is empty. */
  async builds(): Promise<GoCall[]> {
    return (await this.calls()).filter((c) => c.argv[0] === 'build');
  }

  /** The builds as sorted "<package> <platform>" strings, for exact comparisons. */
  async buildSet(): Promise<string[]> {
    return (await this.builds()).map((c) => `${c.pkg} ${c.platform}`).sort();
  }

  async modDownloads(): Promise<GoCall[]> {
    return (await this.calls()).filter((c) => c.argv[0] === 'mod' && c.argv[1] === 'download');
  }
}

export interface GoWrapper {
  /** The wrapper: set it as $GO for the engine. */
  command: string;
  log: GoLog;
}

/** Writes <dir>/go, logging to <dir>/go.log (emptied). */
export function goWrapper(dir: string): GoWrapper {
  mkdirSync(dir, { recursive: true });
  const command = join(dir, 'go');
  const log = join(dir, 'go.log');
  writeFileSync(command, script(log), { mode: 0o755 });
  writeFileSync(log, '');
  return { command, log: new GoLog(log) };
}
