import { createServer, type AddressInfo } from 'node:net';

/** A port nothing listens on right now on 127.0.0.1 (a server may still lose a race for it: retry on EADDRINUSE). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
