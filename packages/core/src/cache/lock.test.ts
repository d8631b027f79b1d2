import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock, inspectLock, type LockOwner } from './lock';

jest.setTimeout(60_000);

const WORKER = join(__dirname, '__fixtures__', 'lock-worker.ts');
const SWC = require.resolve('@swc-node/register');
const onLinux = existsSync('/proc/self/stat');

let dir: string;
let lockPath: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fnb-lock-'));
  lockPath = join(dir, 'locks', 'ab', 'ab'.repeat(32));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Worker {
  name: string;
  pid: number;
  lines: string[];
  /** The first line of this event ("acquired 1733200000000 ..."), once printed. */
  next(event: string): Promise<{ at: number; detail: string }>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a lock-worker process competing for lockPath; its stdout lines are collected. */
function worker(name: string, dwellMs = 0): Worker {
  const child = spawn(process.execPath, ['-r', SWC, WORKER, lockPath, dir, name, String(dwellMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
    waiters.splice(0).forEach((w) => w());
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  void exit.then(() => waiters.splice(0).forEach((w) => w()));
  const next = (event: string) =>
    new Promise<{ at: number; detail: string }>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`${name}: no "${event}" within 30s; lines: ${lines.join(' | ')}; stderr: ${stderr}`)), 30_000);
      const check = () => {
        const line = lines.find((l) => l.startsWith(event + ' '));
        if (line) {
          clearTimeout(deadline);
          const [, at, ...rest] = line.split(' ');
          return resolve({ at: Number(at), detail: rest.join(' ') });
        }
        if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(deadline);
          return reject(new Error(`${name} exited without "${event}"; lines: ${lines.join(' | ')}; stderr: ${stderr}`));
        }
        waiters.push(check);
      };
      check();
    });
  return { name, pid: child.pid!, lines, next, exit };
}

const events = (w: Worker) => w.lines.map((l) => l.split(' ')[0]);
const ran = () =>
  readdirSync(dir)
    .filter((f) => f.startsWith('ran.'))
    .sort();
const openGate = () => writeFileSync(join(dir, 'gate'), '');

/** The pid of a process that has exited (and been reaped): nobody owns it now. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

function plantLock(owner: Partial<LockOwner>): void {
  const full: LockOwner = { pid: 1, start: null, host: hostname(), since: new Date().toISOString(), nonce: 'planted', ...owner };
  spawnSync('mkdir', ['-p', join(dir, 'locks', 'ab')]);
  writeFileSync(lockPath, JSON.stringify(full));
}

/** Field 22 of /proc/<pid>/stat, read here independently of lock.ts. */
function startTimeOf(pid: number): string {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[19];
}

test('two processes racing for one key: exactly one does the work, the other waits and finds it done', async () => {
  const [a, b] = [worker('a'), worker('b')];
  // Whoever gets the lock holds it at the gate until the other is seen waiting.
  const first = await Promise.race([a.next('acquired').then(() => a), b.next('acquired').then(() => b)]);
  const second = first === a ? b : a;
  await second.next('waiting');
  openGate();
  expect(await first.exit).toEqual({ code: 0, signal: null });
  expect(await second.exit).toEqual({ code: 0, signal: null });

  expect(ran()).toEqual([`ran.${first.name}`]);
  expect(events(first)).toEqual(['started', 'acquired', 'done', 'held']);
  expect(events(second)).toEqual(['started', 'waiting', 'acquired', 'cached', 'held']);
  expect([first, second].map((w) => w.lines.find((l) => l.startsWith('held '))?.split(' ')[2])).toEqual(['intact', 'intact']);
  expect(Number((await second.next('waiting')).detail)).toBe(first.pid);
  expect(readFileSync(join(dir, 'entry'), 'utf8')).toBe(`first half by ${first.name}\nsecond half by ${first.name}\n`);
  expect(existsSync(lockPath)).toBe(false);
});

test('a holder killed with SIGKILL mid-work: the waiter takes over at once and does the whole work itself', async () => {
  const a = worker('a');
  await a.next('acquired');
  const b = worker('b');
  await b.next('waiting');
  a.exit.catch(() => undefined);
  process.kill(a.pid, 'SIGKILL');
  const killedAt = Date.now();
  expect(await a.exit).toEqual({ code: null, signal: 'SIGKILL' });
  const takeover = await b.next('takeover');
  // Reported, not asserted: speed is not a test's business.
  console.log(`lock: SIGKILL of the holder → take-over by the waiter: ${takeover.at - killedAt} ms`);
  expect(takeover.detail).toMatch(new RegExp(`^process ${a.pid} \\(started \\d+\\) is gone$`));
  openGate();
  expect(await b.exit).toEqual({ code: 0, signal: null });

  expect(ran()).toEqual(['ran.a', 'ran.b']);
  expect(events(b)).toEqual(['started', 'waiting', 'takeover', 'acquired', 'done', 'held']);
  // The killed holder's half-done output was never published; the entry is the waiter's, whole.
  expect(readFileSync(join(dir, 'entry'), 'utf8')).toBe('first half by b\nsecond half by b\n');
  expect(existsSync(join(dir, 'entry.a.partial'))).toBe(true);
  expect(existsSync(lockPath)).toBe(false);
});

test('four waiters noticing one owner die together: one removes its lock, and the lock is only ever held by one', async () => {
  const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(holder);
  await new Promise((r) => holder.once('spawn', r));
  plantLock({ pid: holder.pid!, start: onLinux ? startTimeOf(holder.pid!) : null });
  openGate();
  const ws = ['a', 'b', 'c', 'd'].map((n) => worker(n, 150));
  for (const w of ws) await w.next('waiting');
  holder.kill('SIGKILL');
  for (const w of ws) expect(await w.exit).toEqual({ code: 0, signal: null });

  const all = ws.flatMap((w) => w.lines.map((l) => `${w.name} ${l.split(' ')[0]} ${l.split(' ').slice(2).join(' ')}`));
  expect(all.filter((l) => / takeover /.test(l))).toHaveLength(1);
  expect(all.filter((l) => / held /.test(l)).map((l) => l.split(' ').pop())).toEqual(['intact', 'intact', 'intact', 'intact']);
  expect(ran()).toHaveLength(1);
  expect(all.filter((l) => / cached/.test(l))).toHaveLength(3);
  expect(existsSync(lockPath)).toBe(false);
  expect(readdirSync(join(dir, 'locks', 'ab'))).toEqual([]); // no guard or temp file left behind
});

describe('stale lock files are taken over at once', () => {
  const take = async () => {
    const onWait = jest.fn();
    const onTakeOver = jest.fn();
    const lock = await acquireLock(lockPath, { onWait, onTakeOver });
    const owner = JSON.parse(readFileSync(lockPath, 'utf8')) as LockOwner;
    await lock.release();
    return { onWait, onTakeOver, owner };
  };

  test('an owner pid that no longer exists', async () => {
    const pid = deadPid();
    plantLock({ pid });
    const r = await take();
    expect(r.onWait).not.toHaveBeenCalled();
    expect(r.onTakeOver.mock.calls).toEqual([[expect.stringMatching(new RegExp(`^process ${pid} .*is gone$`))]]);
    expect(r.owner.pid).toBe(process.pid);
    expect(existsSync(lockPath)).toBe(false);
  });

  (onLinux ? test : test.skip)('a live pid with another start time: the pid was recycled, the owner is gone', async () => {
    plantLock({ pid: process.pid, start: String(Number(startTimeOf(process.pid)) - 1) });
    const r = await take();
    expect(r.onWait).not.toHaveBeenCalled();
    expect(r.onTakeOver).toHaveBeenCalledTimes(1);
  });

  (onLinux ? test : test.skip)('the same pid and start time is a live owner, not taken over', async () => {
    plantLock({ pid: process.pid, start: startTimeOf(process.pid) });
    expect(await inspectLock(lockPath)).toMatchObject({ state: 'live', owner: { pid: process.pid } });
    const ac = new AbortController();
    const onWait = jest.fn(() => ac.abort(new Error('stop waiting')));
    await expect(acquireLock(lockPath, { onWait, signal: ac.signal })).rejects.toThrow('stop waiting');
    expect(onWait).toHaveBeenCalledTimes(1);
    expect((JSON.parse(readFileSync(lockPath, 'utf8')) as LockOwner).nonce).toBe('planted');
  });

  test('a garbage lock file (not JSON, not a lock record, empty) is taken over, once it is old enough not to be one being written', async () => {
    for (const garbage of ['\u0000\u0001 not json', '{"pid":"seven"}', '']) {
      spawnSync('mkdir', ['-p', join(dir, 'locks', 'ab')]);
      writeFileSync(lockPath, garbage);
      expect(await inspectLock(lockPath)).toMatchObject({ state: 'writing' });
      utimesSync(lockPath, Date.now() / 1000 - 60, Date.now() / 1000 - 60);
      expect(await inspectLock(lockPath)).toMatchObject({ state: 'dead', why: 'the lock file is not a lock record' });
      const r = await take();
      expect(r.onTakeOver.mock.calls).toEqual([['the lock file is not a lock record']]);
      expect(r.owner.pid).toBe(process.pid);
    }
  });

  test('a fresh garbage file is waited on briefly, then taken over: never a hang', async () => {
    spawnSync('mkdir', ['-p', join(dir, 'locks', 'ab')]);
    writeFileSync(lockPath, 'half a recor');
    const r = await take();
    expect(r.onTakeOver.mock.calls).toEqual([['the lock file is not a lock record']]);
  });
});

test('release removes the lock only while it is still ours', async () => {
  const lock = await acquireLock(lockPath);
  // Someone else's lock now sits there (as after a take-over from an owner wrongly judged dead).
  plantLock({ pid: process.pid, nonce: 'someone else' });
  await lock.release();
  expect((JSON.parse(readFileSync(lockPath, 'utf8')) as LockOwner).nonce).toBe('someone else');
  await lock.release(); // twice is harmless
});

test('a lock from another host is live while its file is fresh (its pid means nothing here)', async () => {
  plantLock({ pid: deadPid(), host: `not-${hostname()}` });
  expect(await inspectLock(lockPath)).toMatchObject({ state: 'live', owner: { host: `not-${hostname()}` } });
});
