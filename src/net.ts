import { createServer } from 'node:net';

/**
 * A free TCP port on loopback, found by binding port 0 and closing again. The caller binds it promptly
 * (k6's REST API, the demo's Prometheus); a race with another process is possible and shows as a
 * clear "address in use" from the program that loses it.
 *
 * @example const port = await freePort();
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
