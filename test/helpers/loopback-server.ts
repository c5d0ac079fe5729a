import { once } from 'node:events';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Serves `handler` on a free loopback port and registers its shutdown (open connections closed first) in
 * `cleanups`; resolves with the base URL.
 *
 * @example const url = await listenLoopback((req, res) => res.end('ok'), cleanups);
 */
export async function listenLoopback(
  handler: RequestListener,
  cleanups: (() => Promise<void> | void)[],
): Promise<string> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
