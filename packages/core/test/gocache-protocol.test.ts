/**
 * The cache program's loop against real framed input (what cmd/go writes, see
 * cache/prog.go writeToChild), in process and as the built CLI. The go builds through it are
 * in gocache-build.test.ts.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { RemoteCache, RemoteCacheMode } from '../src/cache/remote';
import { sumCounters, type GoCacheCounters } from '../src/gocache/counters';
import { goCacheProgram } from '../src/gocache/main';
import { DirRemoteCache } from './gocache-dir-remote';

const CLI = resolve(__dirname, '../dist/cli.js');
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
const AID1 = sha('action 1');
const AID2 = sha('action 2');
const BODY = Buffer.from('!<arch>\ncompiled package bytes\n');

/** What cmd/go writes for one request: JSON, a newline from the encoder, another, then the body line for a put. */
function frame(req: { ID: number; Command: string; ActionID?: string; OutputID?: string }, body?: Buffer): string {
  const head = JSON.stringify({ ...req, ...(body?.length ? { BodySize: body.length } : {}) }) + '\n\n';
  return body?.length ? head + `"${body.toString('base64')}"\n` : head;
}
const get = (id: number, aid: string) => frame({ ID: id, Command: 'get', ActionID: b64(aid) });
const put = (id: number, aid: string, body: Buffer, outputId = sha(body)) =>
  frame({ ID: id, Command: 'put', ActionID: b64(aid), OutputID: b64(outputId) }, body);
const close = (id: number) => frame({ ID: id, Command: 'close' });

interface Response {
  ID: number;
  Err?: string;
  KnownCommands?: string[];
  Miss?: boolean;
  OutputID?: string;
  Size?: number;
  Time?: string;
  DiskPath?: string;
}

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'fnb-gocacheprog-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

let sessions = 0;

/** One go command's session with the program, in process: every stdout line must be protocol JSON. */
async function session(opts: {
  machine: string;
  input: string[] | AsyncIterable<Buffer>;
  remote?: RemoteCache;
  mode?: RemoteCacheMode;
  env?: Record<string, string>;
  uploadDeadlineMs?: number;
}) {
  let stdout = '';
  let stderr = '';
  const statsFile = join(work, `${opts.machine}.${++sessions}.stats`);
  const code = await goCacheProgram({
    env: { NX_FNBUILD_CACHE_DIR: join(work, opts.machine), NX_FNBUILD_GOCACHEPROG_STATS: statsFile, ...opts.env },
    io: {
      stdin: Array.isArray(opts.input) ? Readable.from(opts.input.map((s) => Buffer.from(s))) : opts.input,
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
    },
    openRemote: () => (opts.remote ? { remote: opts.remote, mode: opts.mode ?? 'read-write' } : undefined),
    ...(opts.uploadDeadlineMs !== undefined && { uploadDeadlineMs: opts.uploadDeadlineMs }),
  });
  const responses = stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Response);
  const counters: GoCacheCounters = sumCounters(existsSync(statsFile) ? readFileSync(statsFile, 'utf8') : '');
  return { code, responses, stderr, counters, byId: (id: number) => responses.find((r) => r.ID === id) };
}

describe('the cache program loop', () => {
  test('announces get/put/close, stores a put under the store folder, answers get hits and misses, replies to close', async () => {
    const s = await session({ machine: 'a', input: [put(1, AID1, BODY), get(2, AID1), get(3, AID2), close(4)] });
    expect(s.code).toBe(0);
    expect(s.responses[0]).toEqual({ ID: 0, KnownCommands: ['get', 'put', 'close'] });
    const stored = s.byId(1)!.DiskPath!;
    expect(stored).toBe(join(work, 'a', 'go', 'o', sha(BODY).slice(0, 2), sha(BODY)));
    expect(readFileSync(stored)).toEqual(BODY);
    expect(s.byId(2)).toMatchObject({ OutputID: b64(sha(BODY)), Size: BODY.length, DiskPath: stored });
    expect(new Date(s.byId(2)!.Time!).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(s.byId(3)).toEqual({ ID: 3, Miss: true });
    expect(s.responses.at(-1)).toEqual({ ID: 4 });
    expect(s.counters).toMatchObject({ gets: 2, hitsLocal: 1, misses: 1, puts: 1 });
    expect(s.stderr).toBe('');
  });

  test('a later go command (a new program) finds what an earlier one put', async () => {
    await session({ machine: 'a', input: [put(1, AID1, BODY), close(2)] });
    const s = await session({ machine: 'a', input: [get(1, AID1), close(2)] });
    expect(readFileSync(s.byId(1)!.DiskPath!)).toEqual(BODY);
  });

  test('an empty output (BodySize 0, no body line) is stored and found', async () => {
    const s = await session({ machine: 'a', input: [put(1, AID1, Buffer.alloc(0)), get(2, AID1), close(3)] });
    expect(s.byId(2)).toMatchObject({ OutputID: b64(sha('')), DiskPath: s.byId(1)!.DiskPath });
    expect(readFileSync(s.byId(1)!.DiskPath!).length).toBe(0);
  });

  test('a put whose OutputID is not the sha256 of its body is refused, and leaves no entry', async () => {
    const s = await session({ machine: 'a', input: [put(1, AID1, BODY, sha('other')), get(2, AID1), close(3)] });
    expect(s.byId(1)!.Err).toMatch(/is not the sha256 of the \d+-byte body/);
    expect(s.byId(2)).toEqual({ ID: 2, Miss: true });
  });

  test('an unknown command gets an error reply; the program goes on', async () => {
    const s = await session({ machine: 'a', input: [frame({ ID: 1, Command: 'get2', ActionID: b64(AID1) }), get(2, AID1), close(3)] });
    expect(s.byId(1)!.Err).toMatch(/unknown command "get2"/);
    expect(s.byId(2)).toEqual({ ID: 2, Miss: true });
    expect(s.code).toBe(0);
  });

  test('a malformed line: one clear line on stderr, exit code 1, nothing but JSON on stdout', async () => {
    const s = await session({ machine: 'a', input: [get(1, AID1), '{"ID": 2, "Command": "get", oops\n', close(3)] });
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/^gocacheprog: request line 3: not JSON .*oops/);
    expect(s.responses.map((r) => r.ID)).toEqual([0, 1]);
  });

  test('stdin closing without close (go died) ends the program, complete entries kept', async () => {
    const s = await session({ machine: 'a', input: [put(1, AID1, BODY)] });
    expect(s.code).toBe(0);
    expect(readFileSync(s.byId(1)!.DiskPath!)).toEqual(BODY);
  });

  test('NX_FNBUILD_CACHE_DIR unset: exit 2 with a message naming it', async () => {
    let stderr = '';
    const code = await goCacheProgram({
      env: {},
      io: { stdin: Readable.from([]), stdout: { write: () => true }, stderr: { write: (s: string) => (stderr += s) } },
    });
    expect(code).toBe(2);
    expect(stderr).toMatch(/NX_FNBUILD_CACHE_DIR is not set/);
  });
});

describe('the remote tier', () => {
  const remoteDir = () => join(work, 'remote');
  const files = (dir: string) => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : []);

  test('machine A uploads before replying to close; machine B (another store) gets it from the remote, verified, into its own folder', async () => {
    const a = await session({ machine: 'a', input: [put(1, AID1, BODY), close(2)], remote: new DirRemoteCache(remoteDir()) });
    expect(a.counters).toMatchObject({ puts: 1, uploads: 1, bytesUp: BODY.length });
    expect(files(join(remoteDir(), 'go'))).toEqual([AID1]);
    expect(files(join(remoteDir(), 'cas'))).toEqual([sha(BODY)]);

    const remote = new DirRemoteCache(remoteDir());
    const b = await session({ machine: 'b', input: [get(1, AID1), get(2, AID2), close(3)], remote });
    expect(b.byId(1)).toMatchObject({ OutputID: b64(sha(BODY)), Size: BODY.length, DiskPath: join(work, 'b', 'go', 'o', sha(BODY).slice(0, 2), sha(BODY)) });
    expect(readFileSync(b.byId(1)!.DiskPath!)).toEqual(BODY);
    expect(b.byId(2)).toEqual({ ID: 2, Miss: true });
    expect(b.counters).toMatchObject({ gets: 2, hitsRemote: 1, misses: 1, bytesDown: BODY.length, remoteErrors: 0 });

    // B's next go command: local now, the remote not asked.
    const again = new DirRemoteCache(remoteDir());
    const b2 = await session({ machine: 'b', input: [get(1, AID1), close(2)], remote: again });
    expect(b2.counters).toMatchObject({ hitsLocal: 1, hitsRemote: 0 });
    expect(again.calls).toEqual([]);
  });

  test('stdin closing without close (what go list -export does) still uploads the puts, within the deadline', async () => {
    // cmd/go sends close only after a build (Builder.Do skips it for go list); stdlib(P) runs go list -export.
    const a = await session({ machine: 'a', input: [put(1, AID1, BODY)], remote: new DirRemoteCache(remoteDir()) });
    expect(a.code).toBe(0);
    expect(a.counters).toMatchObject({ puts: 1, uploads: 1, uploadsSkipped: 0 });
    expect(files(join(remoteDir(), 'cas'))).toEqual([sha(BODY)]);
  });

  test('a remote that is down: puts and gets go on locally, one warning line, exit 0', async () => {
    const s = await session({
      machine: 'a',
      input: [get(1, AID2), put(2, AID1, BODY), get(3, AID1), get(4, sha('x')), close(5)],
      remote: new DirRemoteCache(remoteDir(), 'down'),
    });
    expect(s.code).toBe(0);
    expect(s.byId(1)).toEqual({ ID: 1, Miss: true });
    expect(s.byId(3)).toMatchObject({ DiskPath: s.byId(2)!.DiskPath });
    expect(s.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^warning: Go cache: remote cache dir-remote\(remote\): getEntry go [0-9a-f]+: connection refused; this go command continues without the remote cache$/,
      ),
    ]);
    expect(s.counters.remoteErrors).toBeGreaterThanOrEqual(1); // the first failures may be concurrent; one line says so
  });

  test('a remote tier that hands out wrong bytes: a miss, and nothing of it left on disk', async () => {
    await session({ machine: 'a', input: [put(1, AID1, BODY), close(2)], remote: new DirRemoteCache(remoteDir()) });
    const b = await session({ machine: 'b', input: [get(1, AID1), close(2)], remote: new DirRemoteCache(remoteDir(), 'lying') });
    expect(b.byId(1)).toEqual({ ID: 1, Miss: true });
    expect(files(join(work, 'b', 'go', 'o')).filter((f) => f.includes(sha(BODY).slice(4)))).toEqual([]);
  });

  test('read-only mode (pull requests from forks) reads but never writes', async () => {
    await session({ machine: 'a', input: [put(1, AID1, BODY), close(2)], remote: new DirRemoteCache(remoteDir()) });
    const remote = new DirRemoteCache(remoteDir());
    const b = await session({ machine: 'b', input: [get(1, AID1), put(2, AID2, Buffer.from('new')), close(3)], remote, mode: 'read' });
    expect(b.counters).toMatchObject({ hitsRemote: 1, puts: 1, uploads: 0 });
    expect(remote.calls.filter((c) => c.startsWith('put') || c.startsWith('hasBlob'))).toEqual([]);
    expect(files(join(remoteDir(), 'go'))).toEqual([AID1]);
  });
  test('a clean machine fetches what an earlier run of the same go command asked for ahead of go (its action list), each action once', async () => {
    const AID3 = sha('action 3');
    const bodies = [BODY, Buffer.from('two'), Buffer.from('three')];
    const aids = [AID1, AID2, AID3];
    // Machine A: go asks, misses, builds and puts each action; its action list goes up at close, keyed by its first ActionID.
    await session({
      machine: 'a',
      input: aids.flatMap((aid, i) => [get(2 * i + 1, aid), put(2 * i + 2, aid, bodies[i]!)]).concat(close(99)),
      remote: new DirRemoteCache(remoteDir()),
    });

    const remote = new DirRemoteCache(remoteDir());
    const fetched = (aid: string) => remote.calls.filter((c) => c === `getEntry go ${aid}`).length;
    async function* goAsks(): AsyncIterable<Buffer> {
      yield Buffer.from(get(1, AID1));
      // Go asks for the rest only once the prefetch has brought them (bounded wait: a broken prefetch fails the test below, not hangs it).
      for (let i = 0; i < 200 && !remote.calls.includes(`getBlob sha256:${sha(bodies[2]!)}`); i++) await new Promise((r) => setTimeout(r, 25));
      yield Buffer.from(get(2, AID2) + get(3, AID3) + close(4));
    }
    const b = await session({ machine: 'b', input: goAsks(), remote });
    expect(b.counters).toMatchObject({ gets: 3, hitsRemote: 3, misses: 0, prefetched: 2 });
    expect(aids.map(fetched)).toEqual([1, 1, 1]);
    expect(readFileSync(b.byId(3)!.DiskPath!, 'utf8')).toBe('three');
  });

  test('close waits for uploads only up to its deadline: a hanging remote is a warning and skipped uploads, never a hung go', async () => {
    const dir = new DirRemoteCache(remoteDir());
    const hanging: RemoteCache = {
      name: 'hanging-remote',
      getEntry: async () => undefined,
      putEntry: () => new Promise(() => undefined),
      hasBlob: async () => false,
      getBlob: async () => false,
      putBlob: () => new Promise(() => undefined),
      stats: () => dir.stats(),
    };
    const s = await session({ machine: 'a', input: [put(1, AID1, BODY), put(2, AID2, Buffer.from('two')), close(3)], remote: hanging, uploadDeadlineMs: 50 });
    expect(s.code).toBe(0);
    expect(s.responses.at(-1)).toEqual({ ID: 3 });
    expect(s.counters).toMatchObject({ puts: 2, uploads: 0, uploadsSkipped: 2 });
    expect(s.stderr.trim().split('\n')).toEqual(['warning: Go cache: 2 uploads to hanging-remote did not finish in 50 ms and were skipped']);
    expect(readFileSync(s.byId(1)!.DiskPath!)).toEqual(BODY); // local entries are complete regardless
  });
});

describe('one store folder, many go commands at once', () => {
  test('concurrent programs putting the same and different outputs all succeed, and every file is whole', async () => {
    const bodies = Array.from({ length: 8 }, (_, i) => Buffer.alloc(200_000 + i, i));
    const sessions = await Promise.all(
      Array.from({ length: 6 }, (_, n) =>
        session({
          machine: 'shared',
          input: [...bodies.map((b, i) => put(i + 1, sha(`action ${i}`), b)), ...bodies.map((_b, i) => get(100 + i, sha(`action ${(i + n) % 8}`))), close(999)],
        }),
      ),
    );
    for (const [n, s] of sessions.entries()) {
      expect(s.code).toBe(0);
      // Digests, not toEqual: jest compares Buffers element by element, slowly.
      for (let i = 0; i < 8; i++) expect(sha(readFileSync(s.byId(100 + i)!.DiskPath!))).toBe(sha(bodies[(i + n) % 8]!));
    }
    const leftovers = readdirSync(join(work, 'shared', 'go'), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.tmp'));
    expect(leftovers).toEqual([]);
  });
});

describe('the built program (node dist/cli.js gocacheprog)', () => {
  /** Runs the real CLI with `input` on stdin (stdin then closes, as when go exits). */
  function runCli(input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((done, fail) => {
      const child = spawn(process.execPath, [CLI, 'gocacheprog'], {
        env: { PATH: process.env.PATH, NX_FNBUILD_CACHE_DIR: join(work, 'cli') },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('error', fail);
      child.on('close', (code) => done({ code, stdout, stderr }));
      child.stdin.end(input);
    });
  }

  test('speaks the protocol and exits after close', async () => {
    const r = await runCli(put(1, AID1, BODY) + get(2, AID1) + close(3));
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Response);
    expect(lines.map((l) => l.ID).sort()).toEqual([0, 1, 2, 3]);
    expect(readFileSync(lines.find((l) => l.ID === 2)!.DiskPath!)).toEqual(BODY);
    expect(r.stderr).toBe('');
  });

  test('a malformed line: the message on stderr and a non-zero exit, so cmd/go stops with an error', async () => {
    const r = await runCli(get(1, AID1) + 'not json at all\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gocacheprog: request line 3: not JSON/);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as Response).ID),
    ).toEqual([0, 1]);
  });

  test('exits when stdin closes without a close request', async () => {
    const r = await runCli(get(1, AID1));
    expect(r.code).toBe(0);
  });
});
