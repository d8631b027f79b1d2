import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/cache/store';
import { RegistryClient } from '../../src/registry/client';
import { resolveImage } from '../../src/registry/pull';
import {
  digestOf,
  startFaultProxy,
  startRegistry,
  tempDir,
  tool,
  type Fault,
  type FaultProxy,
  type FaultRequest,
  type RunningRegistry,
} from '../../../../testkit';
import { pushImage, syntheticImage } from './synthetic';

jest.setTimeout(90_000);

/**
 * A proxy in front of Distribution fails requests on a fixed schedule (by request number):
 * 503s, 429s with Retry-After: 1, sockets destroyed before an answer, and blob downloads
 * cut off after their first kilobyte. Pushes and pulls must still complete, verified.
 */
let reg: RunningRegistry;
let proxy: FaultProxy;
let dir: string;
let client: RegistryClient;
const retries: string[] = [];
// Layers big enough (200 KB) that a cut-off download is really cut.
const img = syntheticImage('flaky', ['linux/amd64', 'linux/arm64'], { extraBytes: 200_000 });

const bigLayers = img.blobs.filter((b) => b.size > 100_000).map((b) => b.digest);

function plan({ n, method, url, range }: FaultRequest): Fault {
  if (n === 9 || n === 40) return 'throttle';
  if (n % 5 === 2) return 'unavailable';
  if (n % 7 === 4) return 'reset';
  // Every big layer's first download is cut off after 1 KiB; a resumed (Range) one goes through.
  if (method === 'GET' && !range && bigLayers.some((d) => url.endsWith(`/blobs/${d}`))) return 'cut';
  return 'pass';
}

beforeAll(async () => {
  dir = tempDir('faults');
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.port, plan);
  client = new RegistryClient({
    insecureRegistries: [proxy.host],
    retry: { attempts: 6, baseDelayMs: 20, maxDelayMs: 200 },
    onRetry: (err, attempt) => retries.push(`${attempt}: ${err.message.split('\n')[0]}`),
  });
});
afterAll(async () => {
  client?.close();
  await proxy?.stop();
  await reg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('pushes through injected faults, and the registry holds exactly the image', async () => {
  const { digest } = await pushImage(client, `${proxy.host}/flaky/app`, 'v1', img, { sequential: true });
  expect(digest).toBe(img.index.digest);
  const raw = await tool('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${reg.host}/flaky/app:v1`]);
  expect(digestOf(raw)).toBe(img.index.digest);
  const faults = new Set(proxy.requests.map((r) => r.fault));
  expect([...faults].sort()).toEqual(['pass', 'reset', 'throttle', 'unavailable']);
  // Blob bodies were among the casualties: those uploads started over from a fresh session, re-reading the source.
  expect(proxy.requests.filter((r) => r.method === 'PUT' && r.url.includes('/blobs/uploads/') && r.fault !== 'pass').length).toBeGreaterThan(0);
  console.log(
    `faults: ${proxy.requests
      .filter((r) => r.fault !== 'pass')
      .map((r) => `#${r.n} ${r.fault} ${r.method} ${r.url.replace(/\?.*$/, '').slice(0, 40)}`)
      .join(', ')}`,
  );
});

it('pulls through injected faults (cut downloads included) and verifies every byte', async () => {
  // The image, pushed straight to the registry (the push through faults is the test above).
  const direct = new RegistryClient({ insecureRegistries: [reg.host] });
  try {
    await pushImage(direct, `${reg.host}/flaky/app`, 'v1', img);
  } finally {
    direct.close();
  }
  proxy.reset();
  retries.length = 0;
  const store = await Store.open(join(dir, 'store'));
  for (const [i, p] of ['linux/amd64', 'linux/arm64'].entries()) {
    const got = await resolveImage(client, `${proxy.host}/flaky/app:v1`, p, { store });
    expect(got.manifest.digest).toBe(img.manifests[i]!.digest);
    for (const layer of got.manifest.parsed.layers) {
      const path = await got.ensureLayer(layer.digest);
      expect(digestOf(readFileSync(path))).toBe(layer.digest);
    }
  }
  expect(proxy.requests.some((r) => r.fault === 'cut')).toBe(true);
  expect(proxy.requests.some((r) => r.fault === 'unavailable' || r.fault === 'reset')).toBe(true);
  // A cut download resumed where it stopped rather than starting over.
  const resumed = proxy.requests.filter((r) => r.range);
  expect(new Set(resumed.map((r) => r.url)).size).toBe(bigLayers.length);
  expect(resumed.every((r) => /^bytes=[1-9]\d*-$/.test(r.range!))).toBe(true);
  expect(retries.length).toBeGreaterThan(3);
  console.log(
    `faults: ${proxy.requests
      .filter((r) => r.fault !== 'pass')
      .map((r) => `#${r.n} ${r.fault} ${r.method}`)
      .join(', ')}; resumed with ${resumed.map((r) => r.range).join(', ')}`,
  );
});
