import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startRegistry, tempDir, type RunningRegistry } from '../../../../testkit';

jest.setTimeout(180_000);

const SIZE = 200 * 1024 * 1024;
const MB = 1024 * 1024;
const REPO_ROOT = resolve(__dirname, '../../../..');

let reg: RunningRegistry;
let dir: string;
beforeAll(async () => {
  dir = tempDir('large');
  reg = await startRegistry();
});
afterAll(async () => {
  await reg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** 200 MB of random bytes (incompressible), written and hashed in 1 MB pieces. */
async function bigFile(path: string): Promise<`sha256:${string}`> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let written = 0; written < SIZE; written += MB) {
    const chunk = randomBytes(MB);
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return `sha256:${hash.digest('hex')}`;
}

it('uploads and downloads a 200 MB blob with bounded memory (measured in a child process)', async () => {
  const file = join(dir, 'big.bin');
  const back = join(dir, 'back.bin');
  const digest = await bigFile(file);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['-r', '@swc-node/register', join(__dirname, 'large-blob-child.ts'), reg.host, file, digest, String(SIZE), back],
    { cwd: REPO_ROOT, maxBuffer: 1024 * 1024, env: { ...process.env, SWC_NODE_PROJECT: join(REPO_ROOT, 'tsconfig.base.json') } },
  );
  const r = JSON.parse(stdout) as {
    outcome: string;
    got: { digest: string; size: number };
    baseline: number;
    uploadPeak: number;
    downloadPeak: number;
    uploadMs: number;
    downloadMs: number;
  };
  expect(r.outcome).toBe('uploaded');
  expect(r.got).toEqual({ digest, size: SIZE });
  expect(statSync(back).size).toBe(SIZE);
  const up = (r.uploadPeak - r.baseline) / MB;
  const down = (r.downloadPeak - r.baseline) / MB;
  console.log(
    `200 MB blob: RSS baseline ${(r.baseline / MB).toFixed(0)} MB; growth during upload ${up.toFixed(1)} MB (${r.uploadMs} ms), during download ${down.toFixed(1)} MB (${r.downloadMs} ms)`,
  );
  expect(up).toBeLessThan(100);
  expect(down).toBeLessThan(100);
});
