#!/usr/bin/env node
// Benchmark: the remote cache tier's transfers against curl on the same servers: a 64 MB blob
// uploaded to and downloaded from nginx (WebDAV, the Bazel HTTP layout) and CNCF Distribution,
// both on loopback; and what a silent remote (accepts, never answers) costs with the default
// deadlines. Prints figures and ratios; asserts nothing. Needs `npm run build`, nginx, docker-registry.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec, fmt, freePort, median, repo, startRegistry, time } from './lib.mjs';

const { HttpRemoteCache } = await import(join(repo, 'packages/core/dist/remote/http.js'));
const { OciRemoteCache } = await import(join(repo, 'packages/core/dist/remote/oci.js'));
const { sha256File } = await import(join(repo, 'packages/core/dist/util/hash.js'));

const runs = 5;
const work = join(tmpdir(), `fnbuild-bench-remote-${process.pid}`);
mkdirSync(join(work, 'www', 'cache'), { recursive: true });

async function startNginx() {
  const port = await freePort();
  const conf = join(work, 'nginx.conf');
  writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? 'user root;' : ''} daemon off; worker_processes 1; pid ${work}/nginx.pid; error_log ${work}/error.log;
events {} http { access_log off; client_body_temp_path ${work}/body; server { listen 127.0.0.1:${port}; root ${work}/www; client_max_body_size 0;
location /cache/ { dav_methods PUT DELETE; create_full_put_path on; } } }`,
  );
  const child = spawn('/usr/sbin/nginx', ['-p', work, '-c', conf, '-e', `${work}/error.log`], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/cache/`);
      return { url: `http://127.0.0.1:${port}/cache/`, stop: () => child.kill() };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  child.kill();
  throw new Error('nginx did not start (apt-get install nginx)');
}

const blob = join(work, 'blob');
writeFileSync(blob, randomBytes(64 * 1024 * 1024));
const { digest, size } = await sha256File(blob);
const hex = digest.slice(7);
const nginx = await startNginx();
const registry = await startRegistry(join(work, 'registry'));
const rows = [];

try {
  // HTTP: our PUT/GET against curl's on the same nginx.
  const http = new HttpRemoteCache({ url: `${nginx.url}ours/` });
  const up = { ours: [], curl: [] };
  const down = { ours: [], curl: [] };
  for (let i = 0; i < runs; i++) {
    rmSync(join(work, 'www', 'cache', 'ours'), { recursive: true, force: true });
    up.ours.push((await time(() => http.putBlob(digest, size, blob))).wall);
    up.curl.push((await time(() => exec('curl', ['-sf', '-T', blob, `${nginx.url}curl/cas/${hex}`]))).wall);
    down.ours.push((await time(() => http.getBlob(digest, join(work, `down-ours-${i}`)))).wall);
    down.curl.push((await time(() => exec('curl', ['-sf', '-o', join(work, `down-curl-${i}`), `${nginx.url}curl/cas/${hex}`]))).wall);
  }
  await http.close();
  rows.push(['HTTP (nginx) upload', median(up.ours), median(up.curl), 'curl -T']);
  rows.push(['HTTP (nginx) download + verify', median(down.ours), median(down.curl), 'curl -o (no verify)']);

  // OCI: our blob download against curl's GET of the same blob from Distribution.
  const oci = new OciRemoteCache({ url: `oci://${registry.host}/bench/cache`, env: { ...process.env, NX_FNBUILD_INSECURE_REGISTRIES: registry.host } });
  const ociUp = (await time(() => oci.putBlob(digest, size, blob))).wall;
  const ociDown = { ours: [], curl: [] };
  for (let i = 0; i < runs; i++) {
    ociDown.ours.push((await time(() => oci.getBlob(digest, join(work, `oci-ours-${i}`)))).wall);
    ociDown.curl.push(
      (await time(() => exec('curl', ['-sfL', '-o', join(work, `oci-curl-${i}`), `http://${registry.host}/v2/bench/cache/blobs/${digest}`]))).wall,
    );
  }
  await oci.close();
  rows.push(['OCI (Distribution) download + verify', median(ociDown.ours), median(ociDown.curl), 'curl -L (no verify)']);

  // A silent remote: what the first lookup costs before the tier turns it off (default deadlines).
  const sockets = [];
  const silent = createServer((s) => sockets.push(s.on('error', () => {})));
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  const port = silent.address().port;
  const lookup = async (remote) => {
    const t = await time(() => remote.getEntry('ac', hex).catch((e) => e.message));
    await remote.close();
    return t;
  };
  const h = await lookup(new HttpRemoteCache({ url: `http://127.0.0.1:${port}/cache/` }));
  const o = await lookup(
    new OciRemoteCache({ url: `oci://127.0.0.1:${port}/cache`, env: { ...process.env, NX_FNBUILD_INSECURE_REGISTRIES: `127.0.0.1:${port}` } }),
  );
  sockets.forEach((s) => s.destroy());
  silent.close();

  console.log(`bench: remote cache transfers of a ${size >> 20} MB blob on loopback, median of ${runs}`);
  console.log('\n| transfer | nx-fnbuild | peer | ratio | peer is |');
  console.log('|---|---|---|---|---|');
  for (const [what, ours, peer, is] of rows) console.log(`| ${what} | ${fmt(ours)} | ${fmt(peer)} | ${(ours / peer).toFixed(2)}× | ${is} |`);
  console.log(`\nOCI upload (once, blob absent): ${fmt(ociUp)}`);
  console.log(`\nsilent remote, default deadlines: HTTP lookup gave up after ${fmt(h.wall)} (${h.inner}); OCI after ${fmt(o.wall)} (${o.inner})`);
  console.log('(the tier turns the remote off at the first fault: a build pays this once)');
} finally {
  nginx.stop();
  registry.stop();
  rmSync(work, { recursive: true, force: true });
}
