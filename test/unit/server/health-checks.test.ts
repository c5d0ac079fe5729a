import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { rootConfigSchema } from '../../../src/config/schema.js';
import type { HealthCheck } from '../../../src/server/health.js';
import {
  configWarnings,
  dependencyChecks,
  dependencyHeaders,
  executableCheck,
  httpCheck,
  READY_PATHS,
  storeCheck,
} from '../../../src/server/health-checks.js';
import { openStore } from '../../../src/store/open.js';

const signal = new AbortController().signal;

describe('storeCheck', () => {
  test('an open store is ok and a closed one throws', async () => {
    const store = await openStore({ path: ':memory:' });
    const check = storeCheck(store);
    expect(await check(signal)).toEqual({ status: 'ok' });
    await store.close();
    await expect(check(signal)).rejects.toThrow();
  });

  test('a store that reads but cannot commit is down, saying why', async () => {
    const check = storeCheck({
      watches: { get: async () => undefined },
      checkWritable: async () => {
        throw new Error('attempt to write a readonly database');
      },
    });
    expect(await check(signal)).toEqual({
      status: 'down',
      error: 'the store cannot be written: attempt to write a readonly database',
    });
  });
});

describe('httpCheck', () => {
  let server: Server;
  let base: string;
  const seen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      if (req.url?.endsWith('/-/ready')) {
        res.writeHead(200).end('Prometheus Server is Ready.');
      } else {
        res.writeHead(503).end('not ready');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('a 2xx readiness answer is ok, with the dependency credentials and tenant sent', async () => {
    const check = httpCheck(
      { url: `${base}/prefix/`, bearerToken: 'tok', tenant: 'team-a' },
      READY_PATHS.prometheus,
    );
    expect(await check(signal)).toEqual({ status: 'ok' });
    const last = seen.at(-1);
    expect(last?.url).toBe('/prefix/-/ready');
    expect(last?.headers.authorization).toBe('Bearer tok');
    expect(last?.headers['x-scope-orgid']).toBe('team-a');
  });

  test('a non-2xx answer is down with the status only', async () => {
    const check = httpCheck({ url: base }, READY_PATHS.loki);
    expect(await check(signal)).toEqual({ status: 'down', error: 'readiness answered HTTP 503' });
  });

  test('an unreachable dependency throws (the reporter records it as down)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(httpCheck({ url: `http://127.0.0.1:${port}` }, '/-/ready')(signal)).rejects.toThrow();
  });

  test('basic auth is encoded', () => {
    expect(dependencyHeaders({ url: base, basicAuth: { username: 'u', password: 'p' } }).authorization).toBe(
      `Basic ${Buffer.from('u:p').toString('base64')}`,
    );
  });
});

describe('executableCheck', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vigil-exec-'));
    await writeFile(join(dir, 'k6'), '#!/bin/sh\nexit 0\n');
    await chmod(join(dir, 'k6'), 0o755);
    await writeFile(join(dir, 'not-exec'), '');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test.each([
    {
      name: 'a bare name found on PATH is ok',
      command: 'k6',
      path: () => `/nonexistent:${dir}`,
      status: 'ok',
    },
    {
      name: 'a bare name missing from PATH is down',
      command: 'k6',
      path: () => '/nonexistent',
      status: 'down',
    },
    {
      name: 'an absolute executable path is ok',
      command: () => join(dir, 'k6'),
      path: () => '',
      status: 'ok',
    },
    {
      name: 'a file without the execute bit is down',
      command: () => join(dir, 'not-exec'),
      path: () => '',
      status: 'down',
    },
  ])('$name', async ({ command, path, status }) => {
    const name = typeof command === 'function' ? command() : command;
    expect((await executableCheck(name, path())(signal)).status).toBe(status);
  });
});

describe('dependencyChecks and configWarnings', () => {
  const root = (extra: Record<string, unknown>) =>
    rootConfigSchema.parse({
      service: 'prep-api',
      target: { baseUrl: 'http://127.0.0.1:8080' },
      storage: { path: ':memory:' },
      ...extra,
    });

  test('unconfigured dependencies are disabled, configured ones are checked', async () => {
    const store = await openStore({ path: ':memory:' });
    const checks = dependencyChecks(
      root({ sources: { prometheus: { url: 'http://127.0.0.1:9090' }, loki: { url: '' } } }),
      { store },
    );
    expect(Object.keys(checks).sort()).toEqual(['alertmanager', 'k6', 'loki', 'prometheus', 'store']);
    expect(typeof checks.store).toBe('function');
    expect(typeof checks.prometheus).toBe('function');
    expect(checks.loki).toBe('disabled');
    expect(checks.alertmanager).toBe('disabled');
    expect(checks.k6).toBe('disabled');
    expect(typeof dependencyChecks(root({}), { store, k6Command: 'k6', searchPath: '' }).k6).toBe('function');
    expect(await (checks.store as HealthCheck)(signal)).toEqual({ status: 'ok' });
    await store.close();
  });

  test.each([
    { name: 'no rollback target warns', actions: {}, count: 1 },
    { name: 'a rollback target with an empty URL warns', actions: { rollback: [{ url: '' }] }, count: 1 },
    {
      name: 'a rollback target is quiet',
      actions: { rollback: [{ url: 'http://127.0.0.1:1/rb' }] },
      count: 0,
    },
    {
      name: 'dry run warns',
      actions: { rollback: [{ url: 'http://127.0.0.1:1/rb' }], dryRun: true },
      count: 1,
    },
  ])('$name', ({ actions, count }) => {
    expect(configWarnings(root({ actions }))).toHaveLength(count);
  });
});
