/**
 * Run in its own process by large-blob.test.ts (`node -r @swc-node/register`), so its RSS
 * measures the client alone: uploads a big file as a blob, downloads it back, and prints
 * JSON with the resident memory before and at its peak during each phase.
 */
import { RegistryClient, fileBlob } from '../../src/registry/client';
import type { Digest } from '../../src/util/hash';

async function main() {
  const [host, file, digest, size, out] = process.argv.slice(2) as [string, string, Digest, string, string];
  const client = new RegistryClient({ insecureRegistries: [host] });
  const repo = `${host}/big/blob`;
  await client.headBlob(repo, digest); // warm up: modules loaded, connection and auth settled
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);

  const t0 = Date.now();
  const outcome = await client.uploadBlob(repo, fileBlob(file, { digest, size: Number(size) }));
  const uploadMs = Date.now() - t0;
  const uploadPeak = Math.max(peak, process.memoryUsage().rss);

  peak = process.memoryUsage().rss;
  const t1 = Date.now();
  const got = await client.getBlob(repo, digest, out, { size: Number(size) });
  const downloadMs = Date.now() - t1;
  const downloadPeak = Math.max(peak, process.memoryUsage().rss);
  clearInterval(sampler);
  client.close();
  process.stdout.write(JSON.stringify({ outcome, got, baseline, uploadPeak, downloadPeak, uploadMs, downloadMs }));
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(1);
});
