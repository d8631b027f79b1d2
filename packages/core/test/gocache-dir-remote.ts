/**
 * A directory-backed RemoteCache for the GOCACHEPROG tests. It stands in for the real tiers
 * (Bazel HTTP against nginx, OCI against Distribution), which are tested on their own: here
 * the point is what Go's cache program does with a remote shared by two "machines", not the
 * wire protocol. Faults are switchable to test that a failing remote never fails go.
 *
 * Run as a script (`node -r @swc-node/register gocache-dir-remote.ts`), it is a cache
 * program: the real loop (src/gocache) with this remote at $GOCACHE_TEST_REMOTE_DIR, so go
 * can start it as GOCACHEPROG.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { RemoteCacheError, type RemoteArea, type RemoteCache, type RemoteStats } from '../src/cache/remote';
import { goCacheProgramOnStdio } from '../src/gocache/main';
import type { Digest } from '../src/util/hash';

/** down: every call fails. lying: getBlob hands out wrong bytes without checking (a buggy tier). */
export type DirRemoteFault = 'none' | 'down' | 'lying';

async function writeAtomic(target: string, data: Uint8Array): Promise<void> {
  await fs.mkdir(dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.${Math.random().toString(16).slice(2)}.tmp`;
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, target);
}

export class DirRemoteCache implements RemoteCache {
  readonly name: string;
  private readonly s: RemoteStats = { hits: 0, misses: 0, bytesDown: 0, bytesUp: 0, ms: 0, errors: 0 };
  /** Every call, in order, so tests can see what went over the "network". */
  readonly calls: string[] = [];

  constructor(
    readonly root: string,
    private readonly fault: DirRemoteFault = 'none',
  ) {
    this.name = `dir-remote(${root.split('/').pop()})`;
  }

  private check(call: string): void {
    this.calls.push(call);
    if (this.fault === 'down') {
      this.s.errors++;
      throw new RemoteCacheError(this.name, `${call}: connection refused`);
    }
  }

  private blob(digest: Digest): string {
    return join(this.root, 'cas', digest.slice(7));
  }

  async getEntry(area: RemoteArea, key: string): Promise<Uint8Array | undefined> {
    this.check(`getEntry ${area} ${key}`);
    const bytes = await fs.readFile(join(this.root, area, key)).catch(() => undefined);
    if (bytes) this.s.hits++;
    else this.s.misses++;
    return bytes;
  }

  async putEntry(area: RemoteArea, key: string, bytes: Uint8Array): Promise<void> {
    this.check(`putEntry ${area} ${key}`);
    await writeAtomic(join(this.root, area, key), bytes);
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    this.check(`hasBlob ${digest}`);
    return (await fs.stat(this.blob(digest)).catch(() => undefined)) !== undefined;
  }

  async getBlob(digest: Digest, dest: string): Promise<boolean> {
    this.check(`getBlob ${digest}`);
    const bytes = await fs.readFile(this.blob(digest)).catch(() => undefined);
    if (!bytes) return false;
    const ok = `sha256:${createHash('sha256').update(bytes).digest('hex')}` === digest;
    if (this.fault === 'lying') {
      await writeAtomic(dest, Buffer.concat([bytes, Buffer.from('!')]));
      return true;
    }
    if (!ok) return false;
    await writeAtomic(dest, bytes);
    this.s.bytesDown += bytes.length;
    return true;
  }

  async putBlob(digest: Digest, size: number, path: string): Promise<void> {
    this.check(`putBlob ${digest}`);
    const bytes = await fs.readFile(path);
    if (bytes.length !== size) throw new Error(`putBlob ${digest}: ${path} has ${bytes.length} bytes, not ${size}`);
    await writeAtomic(this.blob(digest), bytes);
    this.s.bytesUp += size;
  }

  stats(): RemoteStats {
    return { ...this.s };
  }
}

if (require.main === module) {
  goCacheProgramOnStdio((env) => {
    const dir = env.GOCACHE_TEST_REMOTE_DIR;
    if (!dir) return undefined;
    const mode = env.NX_FNBUILD_REMOTE_CACHE_MODE === 'read' ? 'read' : 'read-write';
    return { remote: new DirRemoteCache(dir, (env.GOCACHE_TEST_REMOTE_FAULT as DirRemoteFault | undefined) ?? 'none'), mode };
  }).then((code) => process.stdout.write('', () => process.exit(code)));
}
