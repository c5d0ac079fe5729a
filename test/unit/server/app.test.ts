import { Writable } from 'node:stream';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import type { ProbeResult } from '../../../src/prober/types.js';
import { type AppDeps, buildApp, redactUrl } from '../../../src/server/app.js';
import type { HealthReport, HealthReporter } from '../../../src/server/health.js';
import { parseBody, parseQuery } from '../../../src/server/problems.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';

const TOKEN = 'test-token-0123456789';
const REMOTE = '203.0.113.7';

/** A route plugin like the watch engineer's: one POST with a zod body, one GET with a query, one that throws. */
const testRoutes: FastifyPluginAsync = async (api) => {
  api.post('/things', async (request, reply) => {
    const body = parseBody(z.strictObject({ name: z.string().min(1), count: z.int().positive() }), request);
    return reply.code(201).send({ created: body.name });
  });
  api.get('/things', async (request) => {
    const query = parseQuery(z.object({ wait: z.string().optional() }), request);
    return { things: [], wait: query.wait ?? null };
  });
  // Shaped like the real long-poll route (LONG_POLL_ROUTE), so the rate limiter can tell it apart.
  api.get('/watches/:id/verdict', async (request) => {
    const query = parseQuery(z.object({ wait: z.string().optional() }), request);
    return { verdict: 'pending', wait: query.wait ?? null };
  });
  // Throws what a store engine throws: an error with its code (SqliteError, pg's DatabaseError).
  api.get('/store-error/:code', async (request) => {
    const { code } = request.params as { code: string };
    throw Object.assign(new Error(`store said ${code}`), { code });
  });
  api.get('/boom', async () => {
    throw new Error('database password=hunter2 exploded');
  });
};

function staticHealth(report: Omit<HealthReport, 'checkedAt'>): HealthReporter {
  return { report: async () => ({ ...report, checkedAt: '2026-11-27T10:00:00.000Z' }) };
}

const okHealth = staticHealth({
  status: 'ok',
  checks: {
    store: { status: 'ok', latencyMs: 1 },
    prometheus: { status: 'ok', latencyMs: 3 },
    loki: { status: 'disabled' },
    alertmanager: { status: 'ok', latencyMs: 2 },
    k6: { status: 'disabled' },
  },
});

interface Harness {
  app: FastifyInstance;
  logs: Array<Record<string, unknown>>;
}

let current: FastifyInstance | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

async function harness(overrides: Partial<AppDeps> = {}): Promise<Harness> {
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      callback();
    },
  });
  const app = await buildApp({
    logger: createLogger({ level: 'debug', destination }),
    metrics: createMetrics({ version: '9.9.9-test', defaultMetrics: false }),
    apiToken: () => TOKEN,
    rateLimit: { max: 100, windowMs: 60_000 },
    isReady: () => true,
    health: okHealth,
    routes: [testRoutes],
    ...overrides,
  });
  current = app;
  return { app, logs };
}

const auth = { authorization: `Bearer ${TOKEN}` };

describe('unauthenticated routes', () => {
  test('/live answers 200 {"status":"ok"}', async () => {
    const { app } = await harness();
    const res = await app.inject({ method: 'GET', url: '/live' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  test.each([
    { name: 'ready answers 200 once ready', ready: true, stopping: false, status: 200, body: 'ok' },
    {
      name: 'not ready before start answers 503',
      ready: false,
      stopping: false,
      status: 503,
      body: 'not ready',
    },
    { name: 'shutting down answers 503', ready: false, stopping: true, status: 503, body: 'shutting down' },
  ])('/ready: $name', async ({ ready, stopping, status, body }) => {
    const { app } = await harness({ isReady: () => ready, isShuttingDown: () => stopping });
    const res = await app.inject({ method: 'GET', url: '/ready' });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({ status: body });
  });

  test.each([
    {
      name: 'the leader says so',
      status: { leader: true, instance: 'vigil-a', leaderInstance: 'vigil-a', reason: null },
      body: { status: 'ok', leader: true },
    },
    {
      name: 'a follower is ready too, saying it follows',
      status: {
        leader: false,
        instance: 'vigil-b',
        leaderInstance: 'vigil-a',
        reason: 'another replica leads',
      },
      body: { status: 'ok', leader: false },
    },
  ])('/ready with replicas: $name', async ({ status, body }) => {
    const { app } = await harness({ leadership: () => status });
    const res = await app.inject({ method: 'GET', url: '/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(body);
  });

  test('/ready is 503 with the reason while one is given, and ready again once it clears', async () => {
    let reason: string | null =
      'the database is unreachable: connect ECONNREFUSED postgres://vigil:s3cret@db:5432/vigil';
    const { app } = await harness({
      notReadyReason: () => reason,
      leadership: () => ({ leader: false, instance: 'vigil-b', leaderInstance: '', reason }),
    });
    const down = await app.inject({ method: 'GET', url: '/ready' });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toEqual({
      status: 'not ready',
      reason: 'the database is unreachable: connect ECONNREFUSED postgres://[redacted]@db:5432/vigil',
    });
    reason = null;
    const up = await app.inject({ method: 'GET', url: '/ready' });
    expect(up.statusCode).toBe(200);
    expect(up.json()).toEqual({ status: 'ok', leader: false });
  });

  test('/ready says "shutting down" over a not-ready reason', async () => {
    const { app } = await harness({
      isReady: () => false,
      isShuttingDown: () => true,
      notReadyReason: () => 'the database is unreachable',
    });
    const res = await app.inject({ method: 'GET', url: '/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'shutting down' });
  });

  test.each([
    {
      name: 'the leader names itself',
      status: { leader: true, instance: 'vigil-a', leaderInstance: 'vigil-a', reason: null },
      entry: { status: 'ok', leader: true, instance: 'vigil-a' },
    },
    {
      name: 'a follower names the leader and why it follows',
      status: {
        leader: false,
        instance: 'vigil-b',
        leaderInstance: 'vigil-a',
        reason: 'another replica leads',
      },
      entry: {
        status: 'ok',
        leader: false,
        instance: 'vigil-b',
        leaderInstance: 'vigil-a',
        reason: 'another replica leads',
      },
    },
    {
      name: 'a follower that knows no leader says null',
      status: { leader: false, instance: 'vigil-b', leaderInstance: '', reason: null },
      entry: { status: 'ok', leader: false, instance: 'vigil-b', leaderInstance: null },
    },
  ])('/health with replicas: $name, beside the dependency checks', async ({ status, entry }) => {
    const { app } = await harness({ leadership: () => status });
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.status).toBe('ok');
    expect(body.checks.leader).toEqual(entry);
    expect(Object.keys(body.checks).sort()).toEqual([
      'alertmanager',
      'k6',
      'leader',
      'loki',
      'prometheus',
      'store',
    ]);
  });

  test('/health reads leadership per request, past the cached checks, and keeps a down store 503', async () => {
    let leader = false;
    const health = staticHealth({ status: 'down', checks: { store: { status: 'down', error: 'closed' } } });
    const { app } = await harness({
      health,
      leadership: () => ({
        leader,
        instance: 'vigil-b',
        leaderInstance: leader ? 'vigil-b' : 'vigil-a',
        reason: null,
      }),
    });
    const before = await app.inject({ method: 'GET', url: '/health' });
    expect(before.statusCode).toBe(503);
    expect(before.json()).toMatchObject({ status: 'down', checks: { leader: { leader: false } } });
    leader = true;
    const after = await app.inject({ method: 'GET', url: '/health' });
    expect(after.json().checks.leader).toEqual({ status: 'ok', leader: true, instance: 'vigil-b' });
  });

  test('/health answers 200 with every dependency check', async () => {
    const { app } = await harness();
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.status).toBe('ok');
    expect(Object.keys(body.checks).sort()).toEqual(['alertmanager', 'k6', 'loki', 'prometheus', 'store']);
    expect(body.checks.prometheus).toEqual({ status: 'ok', latencyMs: 3 });
  });

  test('/health answers 200 degraded when a dependency is down', async () => {
    const health = staticHealth({
      status: 'degraded',
      checks: { store: { status: 'ok' }, loki: { status: 'down', error: 'connect ECONNREFUSED' } },
    });
    const { app } = await harness({ health });
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toBe('degraded');
  });

  test('/health answers 503 "down" when the store is down', async () => {
    const health = staticHealth({ status: 'down', checks: { store: { status: 'down', error: 'closed' } } });
    const { app } = await harness({ health });
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(503);
    expect(res.json().status).toBe('down');
  });

  test('/metrics is Prometheus text exposition with vigil_build_info', async () => {
    const { app } = await harness();
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.body).toContain('vigil_build_info{version="9.9.9-test"} 1');
  });

  test('security headers are set on every answer, 404s included', async () => {
    const { app } = await harness();
    for (const url of ['/live', '/nope']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['strict-transport-security']).toBeUndefined();
    }
  });
});

describe('/api/v1 auth', () => {
  test.each([
    { name: 'right token from a remote client is answered', headers: auth, remote: REMOTE, status: 200 },
    {
      name: 'right token is case-insensitive in the scheme',
      headers: { authorization: `bearer ${TOKEN}` },
      remote: REMOTE,
      status: 200,
    },
    { name: 'missing token is 401', headers: {}, remote: REMOTE, status: 401 },
    { name: 'wrong token is 401', headers: { authorization: 'Bearer nope' }, remote: REMOTE, status: 401 },
    {
      name: 'token prefix is 401',
      headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
      remote: REMOTE,
      status: 401,
    },
    {
      name: 'basic scheme is 401',
      headers: { authorization: `Basic ${TOKEN}` },
      remote: REMOTE,
      status: 401,
    },
    {
      name: 'loopback without the token is 401 when a token is configured',
      headers: {},
      remote: '127.0.0.1',
      status: 401,
    },
  ])('with a token configured: $name', async ({ headers, remote, status }) => {
    const { app } = await harness();
    const res = await app.inject({ method: 'GET', url: '/api/v1/probes', headers, remoteAddress: remote });
    expect(res.statusCode).toBe(status);
    if (status === 401) {
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.json().error).toBe('unauthorized');
    }
  });

  test.each([
    { remote: '127.0.0.1', status: 200 },
    { remote: '127.8.9.10', status: 200 },
    { remote: '::1', status: 200 },
    { remote: '::ffff:127.0.0.1', status: 200 },
    { remote: REMOTE, status: 403 },
    { remote: '::ffff:10.0.0.1', status: 403 },
    { remote: '2001:db8::1', status: 403 },
  ])('with no token configured, $remote gets $status', async ({ remote, status }) => {
    const { app } = await harness({ apiToken: () => '' });
    const res = await app.inject({ method: 'GET', url: '/api/v1/probes', remoteAddress: remote });
    expect(res.statusCode).toBe(status);
    if (status === 403) expect(res.json().message).toMatch(/only loopback clients/);
  });

  test('the token is read per request, so a reload takes effect', async () => {
    let token = 'old-token';
    const { app } = await harness({ apiToken: () => token });
    const ask = (t: string) =>
      app.inject({
        method: 'GET',
        url: '/api/v1/slos',
        headers: { authorization: `Bearer ${t}` },
        remoteAddress: REMOTE,
      });
    expect((await ask('old-token')).statusCode).toBe(200);
    token = 'new-token';
    expect((await ask('old-token')).statusCode).toBe(401);
    expect((await ask('new-token')).statusCode).toBe(200);
  });

  test('an unauthenticated POST is refused before its body is parsed', async () => {
    const { app } = await harness();
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/things',
      headers: { 'content-type': 'application/json' },
      payload: '{not json',
      remoteAddress: REMOTE,
    });
    expect(res.statusCode).toBe(401);
  });
});

describe('/api/v1 answers', () => {
  test('probes and slos come from the injected readers', async () => {
    const probe = { probe: 'health', kind: 'smoke', success: true } as ProbeResult;
    const { app } = await harness({
      probes: () => [probe],
      slos: () => [{ name: 'error-rate', result: 'pass' }],
    });
    const probes = await app.inject({ method: 'GET', url: '/api/v1/probes', headers: auth });
    expect(probes.json()).toEqual({ probes: [probe] });
    const slos = await app.inject({ method: 'GET', url: '/api/v1/slos', headers: auth });
    expect(slos.json()).toEqual({ slos: [{ name: 'error-rate', result: 'pass' }] });
  });

  test('a route plugin under /api/v1 answers 201', async () => {
    const { app } = await harness();
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/things',
      headers: auth,
      payload: { name: 'a', count: 1 },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ created: 'a' });
  });

  test.each([
    {
      name: 'every zod problem is listed with its path',
      payload: { name: '', count: -1, extra: true },
      paths: ['body', 'body.count', 'body.name'],
    },
    { name: 'a missing body is one problem at the root', payload: undefined, paths: ['body'] },
  ])('400: $name', async ({ payload, paths }) => {
    const { app } = await harness();
    const res = await app.inject({ method: 'POST', url: '/api/v1/things', headers: auth, payload });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error).toBe('bad request');
    expect(body.problems.map((p: { path: string }) => p.path).sort()).toEqual(paths);
    for (const problem of body.problems) expect(problem.message).toEqual(expect.any(String));
  });

  test('400 for a body that is not JSON, without echoing it', async () => {
    const { app } = await harness();
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/things',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{"name": "secret-value"',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: 'bad request',
      problems: [{ path: 'body', message: 'body is not valid JSON' }],
    });
  });

  test('413 for a body over 64 KiB', async () => {
    const { app } = await harness();
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/things',
      headers: auth,
      payload: { name: 'x'.repeat(65 * 1024), count: 1 },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toBe('payload too large');
  });

  test('415 for a body that is not JSON by media type', async () => {
    const { app } = await harness();
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/things',
      headers: { ...auth, 'content-type': 'text/plain' },
      payload: 'name=a',
    });
    expect(res.statusCode).toBe(415);
    expect(res.json().error).toBe('unsupported media type');
  });

  test('a thrown error answers 500 with only "internal error" and the request id, and is logged', async () => {
    const { app, logs } = await harness();
    const res = await app.inject({
      method: 'GET',
      url: '/api/v1/boom',
      headers: { ...auth, 'x-request-id': 'req-42' },
    });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'internal error', requestId: 'req-42' });
    expect(res.body).not.toMatch(/hunter2|at .*\.ts|stack/);
    const logged = logs.find((l) => l.msg === 'request failed');
    expect(logged?.reqId).toBe('req-42');
    expect(JSON.stringify(logged)).toContain('exploded');
  });
});

describe('a store that cannot be used', () => {
  test.each([
    { code: 'SQLITE_FULL', status: 503 },
    { code: 'SQLITE_READONLY', status: 503 },
    { code: 'SQLITE_BUSY', status: 503 },
    { code: '08006', status: 503 }, // PostgreSQL: connection failure
    { code: '53100', status: 503 }, // disk full
    { code: '53300', status: 503 }, // too many connections
    { code: '57P01', status: 503 }, // admin shutdown
    { code: '25006', status: 503 }, // read-only SQL transaction (a standby)
    { code: 'ECONNREFUSED', status: 503 }, // the database server is down
    { code: 'SQLITE_CONSTRAINT_UNIQUE', status: 500 }, // a bug, not an outage
    { code: '23505', status: 500 }, // PostgreSQL unique violation: a bug too
    { code: '080061', status: 500 }, // not a SQLSTATE
  ])('an error coded $code answers $status', async ({ code, status }) => {
    const { app, logs } = await harness();
    const res = await app.inject({
      method: 'GET',
      url: `/api/v1/store-error/${code}`,
      headers: { ...auth, 'x-request-id': 'req-7' },
    });
    expect(res.statusCode).toBe(status);
    if (status === 503) {
      expect(res.json()).toEqual({
        error: 'store unavailable',
        message: `the store cannot be used right now (${code}); see /health`,
        requestId: 'req-7',
      });
      expect(logs.some((l) => l.msg === 'request failed: the store is unavailable')).toBe(true);
    } else {
      expect(res.json()).toEqual({ error: 'internal error', requestId: 'req-7' });
    }
  });
});

describe('unknown routes', () => {
  test.each([
    { method: 'GET' as const, url: '/nope', status: 404 },
    { method: 'GET' as const, url: '/api/v1/nope?token=abc', status: 404 },
    { method: 'DELETE' as const, url: '/live', status: 405 },
    { method: 'PUT' as const, url: '/api/v1/things', status: 405 },
  ])('$method $url answers $status', async ({ method, url, status }) => {
    const { app } = await harness();
    const res = await app.inject({ method, url, headers: auth });
    expect(res.statusCode).toBe(status);
    expect(res.body).not.toContain('abc');
    if (status === 404) expect(res.json()).toEqual({ error: 'not found' });
    if (status === 405) expect(res.headers.allow).toContain('GET');
  });
});

describe('rate limit', () => {
  test('the request over the limit answers 429 with Retry-After', async () => {
    const { app } = await harness({ rateLimit: { max: 2, windowMs: 60_000 } });
    const ask = () =>
      app.inject({ method: 'GET', url: '/api/v1/probes', headers: auth, remoteAddress: REMOTE });
    expect((await ask()).statusCode).toBe(200);
    expect((await ask()).statusCode).toBe(200);
    const limited = await ask();
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json()).toMatchObject({
      error: 'too many requests',
      retryAfterSeconds: expect.any(Number),
    });
  });

  test('clients are limited separately', async () => {
    const { app } = await harness({ rateLimit: { max: 1, windowMs: 60_000 } });
    const ask = (remoteAddress: string) =>
      app.inject({ method: 'GET', url: '/api/v1/probes', headers: auth, remoteAddress });
    expect((await ask('198.51.100.1')).statusCode).toBe(200);
    expect((await ask('198.51.100.1')).statusCode).toBe(429);
    expect((await ask('198.51.100.2')).statusCode).toBe(200);
  });

  test('verdict long polls do not use up the budget of ordinary calls', async () => {
    const { app } = await harness({ rateLimit: { max: 2, windowMs: 60_000 } });
    const ask = (url: string) => app.inject({ method: 'GET', url, headers: auth, remoteAddress: REMOTE });
    expect((await ask('/api/v1/watches/w_1/verdict?wait=30s')).statusCode).toBe(200);
    expect((await ask('/api/v1/watches/w_1/verdict?wait=30s')).statusCode).toBe(200);
    expect((await ask('/api/v1/things')).statusCode).toBe(200);
    expect((await ask('/api/v1/things')).statusCode).toBe(200);
    expect((await ask('/api/v1/things')).statusCode).toBe(429);
  });

  test('?wait= on any other route is an ordinary call, not a way around the limit', async () => {
    const { app } = await harness({ rateLimit: { max: 2, windowMs: 60_000 } });
    const ask = (url: string) => app.inject({ method: 'GET', url, headers: auth, remoteAddress: REMOTE });
    expect((await ask('/api/v1/things?wait=30s')).statusCode).toBe(200);
    expect((await ask('/api/v1/things?wait=30s')).statusCode).toBe(200);
    expect((await ask('/api/v1/things?wait=30s')).statusCode).toBe(429);
    expect((await ask('/api/v1/watches/w_1/verdict')).statusCode).toBe(429);
  });

  test('unauthenticated attempts are counted too', async () => {
    const { app } = await harness({ rateLimit: { max: 1, windowMs: 60_000 } });
    const ask = (token: string) =>
      app.inject({
        method: 'GET',
        url: '/api/v1/probes',
        headers: { authorization: `Bearer ${token}` },
        remoteAddress: REMOTE,
      });
    expect((await ask('guess-1')).statusCode).toBe(401);
    expect((await ask('guess-2')).statusCode).toBe(429);
  });

  test('routes outside /api/v1 are not limited', async () => {
    const { app } = await harness({ rateLimit: { max: 1, windowMs: 60_000 } });
    for (let i = 0; i < 3; i++)
      expect((await app.inject({ method: 'GET', url: '/live' })).statusCode).toBe(200);
  });
});

describe('request ids and logs', () => {
  test.each([
    { name: 'a sane incoming X-Request-Id is echoed', incoming: 'abc-123', echoed: 'abc-123' },
    { name: 'an unsafe one is replaced', incoming: 'bad id\twith spaces', echoed: /^[0-9a-f-]{36}$/ },
    { name: 'none gets a fresh uuid', incoming: undefined, echoed: /^[0-9a-f-]{36}$/ },
  ])('$name', async ({ incoming, echoed }) => {
    const { app } = await harness();
    const headers = incoming === undefined ? {} : { 'x-request-id': incoming };
    const res = await app.inject({ method: 'GET', url: '/live', headers });
    if (typeof echoed === 'string') expect(res.headers['x-request-id']).toBe(echoed);
    else expect(res.headers['x-request-id']).toMatch(echoed);
  });

  test('request log lines carry the request id and never the Authorization header or a query credential', async () => {
    const { app, logs } = await harness();
    await app.inject({
      method: 'GET',
      url: '/api/v1/things?token=leaky&wait=1s',
      headers: { ...auth, 'x-request-id': 'trace-7' },
    });
    const requestLines = logs.filter((l) => l.reqId === 'trace-7');
    expect(requestLines.length).toBeGreaterThanOrEqual(2);
    const text = JSON.stringify(logs);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('leaky');
    expect(text).toContain('token=%5BRedacted%5D');
  });

  test('redactUrl keeps harmless parameters', () => {
    expect(redactUrl('/x?wait=30s&api_key=k&until=smoke')).toBe(
      '/x?wait=30s&api_key=%5BRedacted%5D&until=smoke',
    );
    expect(redactUrl('/x')).toBe('/x');
  });
});

test('a rate limit given as a function is read per request, so a reload takes effect', async () => {
  let settings = { max: 1, windowMs: 60_000 };
  const { app } = await harness({ rateLimit: () => settings });
  const ask = () =>
    app.inject({ method: 'GET', url: '/api/v1/probes', headers: auth, remoteAddress: REMOTE });
  expect((await ask()).statusCode).toBe(200);
  expect((await ask()).statusCode).toBe(429);
  settings = { max: 5, windowMs: 60_000 };
  expect((await ask()).statusCode).toBe(200);
});
