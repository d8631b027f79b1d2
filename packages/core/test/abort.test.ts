/**
 * Aborting a build mid-compile (Ctrl-C in the CLI, Nx stopping a task): the build rejects
 * with the signal's reason, writes no artifacts.json, and leaves no go process running,
 * neither go itself nor the tools it started. Read from /proc. The compiler runs through a
 * -toolexec that stalls (a sleep), so the compile is surely still running when the test
 * aborts, and an orphan would be there to see for as long as anyone looks.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBinaries } from '../src/binaries/build-binaries';
import { FnbuildError } from '../src/util/errors';
import { cleanup, copyFixture, REAL_GO, tempDir, testEnv } from './fixtures/helpers';
import { goWrapper } from '../../../testkit';

jest.setTimeout(300_000);

interface Proc {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
}

/** Every process as /proc says: "pid (comm) state ppid pgrp ...", comm may hold spaces and parentheses. */
function processes(): Proc[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const close = stat.lastIndexOf(')');
        const [state, ppid, pgrp] = stat.slice(close + 2).split(' ');
        // A zombie has exited: it only waits to be reaped.
        return state === 'Z' ? [] : [{ pid: Number(d), comm: stat.slice(stat.indexOf('(') + 1, close), state, ppid: Number(ppid), pgrp: Number(pgrp) }];
      } catch {
        return []; // exited while we looked
      }
    });
}

/** `root` and every process below it. */
function tree(root: number, all: Proc[]): Proc[] {
  const below = all.filter((p) => p.ppid === root);
  return [...all.filter((p) => p.pid === root), ...below.flatMap((p) => tree(p.pid, all))];
}

/** Polls until `found` returns something; a deadline only so that nothing hangs. */
async function waitFor<T>(what: string, found: () => T | undefined, ms = 240_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = found();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let tmp: string;
beforeAll(() => {
  tmp = tempDir('abort');
});
afterAll(() => cleanup(tmp));

test('abort mid-compile: the build rejects with the reason, no go process is left, no artifacts.json written', async () => {
  const project = copyFixture('multi', tmp);
  // An empty GOCACHE, and a compiler that answers go's version question, then stalls.
  const env = testEnv({ GO: REAL_GO, GOCACHE: join(tmp, 'gocache'), GOFLAGS: '-mod=mod' });
  mkdirSync(join(tmp, 'tools'), { recursive: true });
  const stall = join(tmp, 'tools', 'stall');
  writeFileSync(stall, '#!/bin/sh\ncase "$2" in -V*) exec "$@";; esac\nexec sleep 3600\n', { mode: 0o755 });
  const controller = new AbortController();
  const reason = new FnbuildError('interrupted by the test');
  const options = { cacheDir: join(tmp, 'cache'), parallelism: 2, flags: [`-toolexec=${stall}`] };
  const build = buildBinaries({ workspaceRoot: tmp, projectRoot: project, options, env, signal: controller.signal });
  const settled = build.then(
    () => undefined,
    (err: unknown) => err,
  );

  // A go child of this process, and below it a (stalled) compile.
  const go = await waitFor('go compiling', () => {
    const all = processes();
    const goes = all.filter((p) => p.ppid === process.pid && p.comm === 'go');
    return goes.find((g) => tree(g.pid, all).some((p) => p.comm === 'sleep'));
  });
  expect(go.pgrp).toBe(go.pid); // a process group of its own, which the abort stops whole
  const started = tree(go.pid, processes()).map((p) => `${p.pid} ${p.comm}`);
  controller.abort(reason);

  expect(await settled).toBe(reason);
  // What go had started (orphans would outlive it), and any go still a child of this process.
  const leftOver = () => processes().filter((p) => started.includes(`${p.pid} ${p.comm}`) || p.pgrp === go.pid || (p.ppid === process.pid && p.comm === 'go'));
  const left = await waitFor('the go processes to exit', () => (leftOver().length ? undefined : []), 10_000).catch(() => leftOver());
  expect(left).toEqual([]);
  expect(existsSync(join(project, 'bin', 'artifacts.json'))).toBe(false);
});

test('an already aborted signal starts no process at all', async () => {
  const project = copyFixture('multi', tmp, 'multi-2');
  const go = goWrapper(join(tmp, 'tools-2'));
  const controller = new AbortController();
  controller.abort(new FnbuildError('stopped before it began'));
  const build = buildBinaries({
    workspaceRoot: tmp,
    projectRoot: project,
    options: { cacheDir: join(tmp, 'cache-2') },
    env: testEnv({ GO: go.command }),
    signal: controller.signal,
  });
  await expect(build).rejects.toThrow('stopped before it began');
  expect(await go.log.calls()).toEqual([]);
});
