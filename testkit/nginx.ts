/**
 * Debian's nginx on loopback with WebDAV PUT under /cache/: the Bazel HTTP cache layout
 * (ac/<sha256>, cas/<sha256>) any HTTP remote cache client speaks. Started with an argument
 * array on a free port with every path of its own under a temp dir, and stopped by the
 * object that started it (its own child, never by name).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join, relative } from 'node:path';
import { freePort } from './ports';
import { serverProcess } from './process';
import { tempDir } from './temp';

export const NGINX_BIN = '/usr/sbin/nginx';

export interface NginxOptions {
  /** Basic auth (nginx's {PLAIN} password scheme). */
  basic?: { user: string; password: string };
  /** A header every request must carry, e.g. ['X-Cache-Token', 'secret']. */
  header?: [string, string];
  tls?: { cert: string; key: string };
}

export interface RunningNginx {
  /** http(s)://127.0.0.1:port/cache/ */
  url: string;
  port: number;
  /** The folder nginx serves `/cache/` from: ac/ and cas/ appear in it. */
  data: string;
  /** Files under data, relative ("ac/…", "cas/…"), sorted. */
  files(): string[];
  stop(): Promise<void>;
}

function nginxConfig(dir: string, port: number, o: NginxOptions): string {
  const auth = o.basic ? `auth_basic "cache"; auth_basic_user_file ${join(dir, 'htpasswd')};` : '';
  const header = o.header ? `if ($http_${o.header[0].toLowerCase().replace(/-/g, '_')} != "${o.header[1]}") { return 401; }` : '';
  const tls = o.tls ? `ssl_certificate ${o.tls.cert}; ssl_certificate_key ${o.tls.key};` : '';
  return `
${process.getuid?.() === 0 ? 'user root;' : ''}
daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'tmp', 'body')};
  proxy_temp_path ${join(dir, 'tmp', 'proxy')};
  fastcgi_temp_path ${join(dir, 'tmp', 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'tmp', 'uwsgi')};
  scgi_temp_path ${join(dir, 'tmp', 'scgi')};
  server {
    listen 127.0.0.1:${port}${o.tls ? ' ssl' : ''};
    ${tls}
    root ${join(dir, 'www')};
    client_max_body_size 0;
    location /cache/ {
      ${auth}
      ${header}
      dav_methods PUT DELETE;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
`;
}

async function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const mod = url.startsWith('https') ? https : http;
    const req = mod.get(url, { rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(1000, () => req.destroy());
  });
}

function walk(root: string, dir = root): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(root, p) : [relative(root, p)];
  });
}

/** nginx on 127.0.0.1 with a free port and every path of its own under a temp dir. */
export async function startNginx(o: NginxOptions = {}): Promise<RunningNginx> {
  for (let attempt = 1; ; attempt++) {
    const dir = tempDir('nginx');
    const data = join(dir, 'www', 'cache');
    mkdirSync(data, { recursive: true });
    mkdirSync(join(dir, 'tmp'), { recursive: true });
    if (o.basic) writeFileSync(join(dir, 'htpasswd'), `${o.basic.user}:{PLAIN}${o.basic.password}\n`);
    const port = await freePort();
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, nginxConfig(dir, port, o));
    const child = spawn(NGINX_BIN, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = serverProcess(child);
    const { output } = proc;
    const stop = async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    };
    const url = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}/cache/`;
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (!ready && child.exitCode === null && Date.now() < deadline) {
      ready = await answers(url);
      if (!ready) await new Promise((r) => setTimeout(r, 50));
    }
    if (!ready) {
      await stop();
      if (attempt < 3 && /Address already in use/i.test(output())) continue;
      throw new Error(`nginx did not start:\n${output()}`);
    }
    return { url, port, data, files: () => walk(data).sort(), stop };
  }
}
