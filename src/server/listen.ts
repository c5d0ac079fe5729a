import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { errorMessage, VigilError } from '../errors.js';

/** A parsed `server.listen` value. */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses `host:port` or `[ipv6]:port` (the `server.listen` format). Port 0 asks the OS for a free port.
 *
 * @example parseListenAddress('[::1]:9469') // { host: '::1', port: 9469 }
 */
export function parseListenAddress(value: string): ListenAddress {
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/i.exec(value);
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (!match || host === undefined || !Number.isInteger(port) || port > 65_535) {
    throw new VigilError(
      'LISTEN_FAILED',
      `invalid listen address "${value}": expected host:port or [ipv6]:port`,
    );
  }
  return { host, port };
}

/**
 * Binds the app to `listenAddress` and returns where it actually listens (the real port when 0 was
 * asked). A taken port or an address this machine does not have becomes a VigilError naming the address,
 * which `vigil serve` prints as its one-line startup failure.
 *
 * @example const { port } = await listen(app, '127.0.0.1:0');
 */
export async function listen(
  app: FastifyInstance,
  listenAddress: string,
): Promise<{ address: string; port: number }> {
  const { host, port } = parseListenAddress(listenAddress);
  try {
    await app.listen({ host, port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'EADDRINUSE'
        ? 'the port is already in use'
        : code === 'EADDRNOTAVAIL'
          ? 'the address is not available on this machine'
          : code === 'EACCES'
            ? 'permission denied (ports below 1024 need privileges)'
            : errorMessage(error);
    throw new VigilError('LISTEN_FAILED', `cannot listen on ${listenAddress}: ${reason}`, { cause: error });
  }
  const bound = app.server.address() as AddressInfo;
  return { address: bound.address, port: bound.port };
}
