import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { afterEach, describe, expect, test } from 'vitest';
import { VigilError } from '../../../src/errors.js';
import { buildApp } from '../../../src/server/app.js';
import { listen, parseListenAddress } from '../../../src/server/listen.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';

describe('parseListenAddress', () => {
  test.each([
    { value: '127.0.0.1:9469', host: '127.0.0.1', port: 9469 },
    { value: '0.0.0.0:80', host: '0.0.0.0', port: 80 },
    { value: 'localhost:0', host: 'localhost', port: 0 },
    { value: '[::1]:9469', host: '::1', port: 9469 },
    { value: '[::]:1', host: '::', port: 1 },
  ])('$value', ({ value, host, port }) => {
    expect(parseListenAddress(value)).toEqual({ host, port });
  });

  test.each(['9469', '127.0.0.1', '::1:9469', '127.0.0.1:70000', '127.0.0.1:abc', ':9469'])(
    '"%s" is refused with LISTEN_FAILED',
    (value) => {
      expect(() => parseListenAddress(value)).toThrow(VigilError);
      expect(() => parseListenAddress(value)).toThrow(/invalid listen address/);
    },
  );
});

describe('listen', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of cleanup.splice(0)) await close();
  });

  test('port 0 binds a free port and reports it', async () => {
    const app = Fastify();
    app.get('/live', async () => ({ status: 'ok' }));
    cleanup.push(() => app.close());
    const { address, port } = await listen(app, '127.0.0.1:0');
    expect(address).toBe('127.0.0.1');
    expect(port).toBeGreaterThan(0);
    const res = await fetch(`http://127.0.0.1:${port}/live`);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  test('the built app answers over a real loopback socket, and a loopback client needs no token', async () => {
    const app = await buildApp({
      logger: silentLogger(),
      metrics: createMetrics({ version: '0.0.0-test', defaultMetrics: false }),
      apiToken: () => '',
      rateLimit: { max: 10, windowMs: 60_000 },
      isReady: () => true,
      health: { report: async () => ({ status: 'ok', checks: {}, checkedAt: new Date(0).toISOString() }) },
    });
    cleanup.push(() => app.close());
    const { port } = await listen(app, '127.0.0.1:0');
    const live = await fetch(`http://127.0.0.1:${port}/live`);
    expect(live.status).toBe(200);
    expect(live.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const probes = await fetch(`http://127.0.0.1:${port}/api/v1/probes`);
    expect(probes.status).toBe(200);
    expect(await probes.json()).toEqual({ probes: [] });
  });

  test('a taken port is a LISTEN_FAILED error naming the address', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const taken = `127.0.0.1:${(blocker.address() as AddressInfo).port}`;
    const app = Fastify();
    cleanup.push(() => app.close());
    const error = await listen(app, taken).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VigilError);
    expect((error as VigilError).code).toBe('LISTEN_FAILED');
    expect((error as VigilError).message).toBe(`cannot listen on ${taken}: the port is already in use`);
  });
});
