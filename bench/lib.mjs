// Shared bits of the benchmarks: processes, timing, a registry on loopback, peers installed on demand.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
export const cli = join(repo, 'packages/core/dist/cli.js');

export function exec(cmd, argv, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}:\n${out}`))));
  });
}

export async function time(fn) {
  const t = performance.now();
  const inner = await fn();
  return { wall: performance.now() - t, inner };
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** CNCF Distribution (Debian's docker-registry) on loopback; resolves when /v2/ answers. */
export async function startRegistry(dir) {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  const cfg = join(dir, 'config.yml');
  writeFileSync(
    cfg,
    `version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: ${join(dir, 'data')}}\n  delete: {enabled: true}\nhttp: {addr: 127.0.0.1:${port}}\n`,
  );
  const child = spawn('docker-registry', ['serve', cfg], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/v2/`)).status === 200) return { host: `127.0.0.1:${port}`, stop: () => child.kill() };
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('docker-registry did not start (apt-get install docker-registry)');
}

/** A peer tool built from the Go module proxy once, kept in ~/.cache (never committed). */
export async function goTool(pkg, version, name) {
  const bin = join(homedir(), '.cache', 'nx-fnbuild-bench', `${name}-${version}`);
  if (!existsSync(join(bin, name))) {
    process.stderr.write(`installing ${pkg}@${version} (once)...\n`);
    await exec('go', ['install', `${pkg}@${version}`], { env: { ...process.env, GOBIN: bin } });
  }
  return join(bin, name);
}
