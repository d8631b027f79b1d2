/**
 * A process that competes for one lock (run by lock.test.ts with `node -r @swc-node/register`).
 *   lock-worker.ts <lock path> <work dir> <name> [dwell ms]
 * Takes the lock; if <work>/entry exists it reports "cached" (another worker did the work);
 * else it records <work>/ran.<name>, writes a partial entry, waits until <work>/gate exists,
 * then publishes the whole entry by rename. Every step is one line on stdout: "<event> <ms since epoch> [detail]".
 */
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { acquireLock } from '../lock';

const [path, work, name, dwell = '0'] = process.argv.slice(2);
const say = (event: string, detail = '') => process.stdout.write(`${event} ${Date.now()}${detail ? ' ' + detail : ''}\n`);

async function main(): Promise<void> {
  say('started', String(process.pid));
  const lock = await acquireLock(path, { onWait: (h) => say('waiting', String(h.pid)), onTakeOver: (why) => say('takeover', why) });
  say('acquired');
  try {
    if (existsSync(join(work, 'entry'))) say('cached');
    else {
      await fs.writeFile(join(work, `ran.${name}`), String(process.pid));
      const tmp = join(work, `entry.${name}.partial`);
      await fs.writeFile(tmp, `first half by ${name}\n`);
      while (!existsSync(join(work, 'gate'))) await new Promise((r) => setTimeout(r, 20));
      await fs.appendFile(tmp, `second half by ${name}\n`);
      await fs.rename(tmp, join(work, 'entry'));
      say('done');
    }
    await new Promise((r) => setTimeout(r, Number(dwell)));
    // The lock must still be ours at the end: nobody took it over from a live owner.
    const mine = await fs.readFile(path, 'utf8').then(
      (t) => (JSON.parse(t) as { pid: number }).pid === process.pid,
      () => false,
    );
    say('held', mine ? 'intact' : 'lost');
  } finally {
    await lock.release();
  }
}

main().catch((err: unknown) => {
  say('error', String(err));
  process.exit(1);
});
