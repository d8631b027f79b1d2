import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tool } from './process';

/** A self-signed certificate (its own CA) for 127.0.0.1 and localhost: the IP SAN is what clients check. */
export async function makeCert(dir: string, name: string, cn = '127.0.0.1'): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await tool('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-keyout',
    key,
    '-out',
    cert,
    '-subj',
    `/CN=${cn}`,
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { cert, key };
}

/** user → password as dir/htpasswd (bcrypt, `htpasswd -Bbn`): Distribution's Basic auth. */
export async function makeHtpasswd(dir: string, users: Record<string, string>): Promise<string> {
  const lines = await Promise.all(Object.entries(users).map(([u, p]) => tool('htpasswd', ['-Bbn', u, p])));
  const path = join(dir, 'htpasswd');
  writeFileSync(path, lines.map((l) => l.trim()).join('\n') + '\n');
  return path;
}
