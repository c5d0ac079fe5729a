import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { WatchView } from '../../../src/watch/types.js';
import { advance, createHarness, type Harness, MINUTE } from '../watch/harness.js';
import { buildWatchApp } from './watch-app.js';

let h: Harness;
let app: FastifyInstance;
let services: string[];

beforeEach(async () => {
  h = await createHarness();
  services = ['prep-api'];
  app = await buildWatchApp(h, { services: () => services });
});

afterEach(async () => {
  await h.manager.stop();
  await app.close();
  await h.close();
});

async function post(url: string, payload: Record<string, unknown>) {
  // inject() comes from 127.0.0.1: with no token configured, the loopback client is let in.
  return app.inject({ method: 'POST', url, payload });
}

describe('POST /api/v1/watches input', () => {
  test.each([
    { field: 'version', value: '1.4.2' },
    { field: 'version', value: '2026.11.27-rc.1+build_7' },
    { field: 'previousVersion', value: 'v1.4.1' },
  ])('accepts $field "$value"', async ({ field, value }) => {
    const body = { service: 'prep-api', version: '1.4.2', [field]: value };
    const res = await post('/api/v1/watches', body);
    expect(res.statusCode).toBe(201);
    expect((res.json() as WatchView)[field as 'version']).toBe(value);
  });

  test.each([
    { field: 'version', value: '1.4.2"}' },
    { field: 'version', value: '1.4.2|.*' },
    { field: 'version', value: '1.4 2' },
    { field: 'version', value: '' },
    { field: 'version', value: 'a'.repeat(129) },
    { field: 'version', value: '1.4.2\n' },
    { field: 'previousVersion', value: '../1.4.1' },
    { field: 'previousVersion', value: '1.4.1)' },
  ])('refuses $field $value with 400 naming body.$field', async ({ field, value }) => {
    const body = { service: 'prep-api', version: '1.4.2', [field]: value };
    const res = await post('/api/v1/watches', body);
    expect(res.statusCode).toBe(400);
    const { problems } = res.json() as { problems: { path: string; message: string }[] };
    expect(problems.map((p) => p.path)).toEqual([`body.${field}`]);
    expect(problems[0]?.message).toContain('letters, digits');
    expect(await h.manager.list()).toEqual([]);
  });

  test('a service that is not configured is 400 naming the known ones, and starts nothing', async () => {
    const res = await post('/api/v1/watches', { service: 'prep-worker', version: '1.0.0' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: 'bad request',
      problems: [{ path: 'body.service', message: 'unknown service "prep-worker" (configured: prep-api)' }],
    });
    expect(await h.manager.list()).toEqual([]);
  });

  test('the configured names are read per request, so a reload takes effect', async () => {
    services = ['prep-worker'];
    expect((await post('/api/v1/watches', { service: 'prep-worker', version: '1' })).statusCode).toBe(201);
    expect((await post('/api/v1/watches', { service: 'prep-api', version: '1' })).statusCode).toBe(400);
  });
});

describe('operator overrides', () => {
  async function started(): Promise<WatchView> {
    const res = await post('/api/v1/watches', { service: 'prep-api', version: '1.4.2' });
    return res.json() as WatchView;
  }

  test('who is recorded with how the request arrived', async () => {
    const watch = await started();
    const res = await post(`/api/v1/watches/${watch.id}/abort`, { reason: 'bad build', who: 'alice' });
    expect(res.statusCode).toBe(200);
    const override = (res.json() as WatchView).timeline.find((e) => e.type === 'override');
    expect(override?.message).toBe('abort by alice (via loopback): bad build');
  });

  test('without who, the requester is described by its address', async () => {
    const watch = await started();
    const res = await post(`/api/v1/watches/${watch.id}/abort`, { reason: 'bad build' });
    const override = (res.json() as WatchView).timeline.find((e) => e.type === 'override');
    expect(override?.message).toBe('abort by loopback client (127.0.0.1): bad build');
  });

  test.each([
    { body: { reason: 'x', who: '' }, path: 'body.who' },
    { body: { reason: 'x', who: 'alice\u001b[31m' }, path: 'body.who' },
    { body: { reason: 'x', who: 'a'.repeat(101) }, path: 'body.who' },
    { body: { reason: 'x', whom: 'alice' }, path: 'body' },
    { body: { who: 'alice' }, path: 'body.reason' },
  ])('a bad override body is 400 at $path', async ({ body, path }) => {
    const watch = await started();
    const res = await post(`/api/v1/watches/${watch.id}/abort`, body);
    expect(res.statusCode).toBe(400);
    const { problems } = res.json() as { problems: { path: string }[] };
    expect(problems.map((p) => p.path)).toEqual([path]);
    expect((await h.manager.get(watch.id))?.status).toBe('running');
  });
});

describe('text the store cannot hold', () => {
  test.each([
    { name: 'a watch id', method: 'GET' as const, url: '/api/v1/watches/w_%00', path: 'params.id' },
    { name: 'a verdict id', method: 'GET' as const, url: '/api/v1/watches/w_%00/verdict', path: 'params.id' },
    {
      name: 'a service filter',
      method: 'GET' as const,
      url: '/api/v1/watches?service=prep%00',
      path: 'query.service',
    },
    {
      name: 'an override reason',
      method: 'POST' as const,
      url: '/api/v1/watches/WATCH/abort',
      payload: { reason: 'bad\u0000build' },
      path: 'body.reason',
    },
  ])(
    'a NUL character in $name is 400 at $path (PostgreSQL text cannot hold one)',
    async ({ method, url, payload, path }) => {
      const watch = (
        await post('/api/v1/watches', { service: 'prep-api', version: '1.4.2' })
      ).json() as WatchView;
      const res = await app.inject({
        method,
        url: url.replace('WATCH', watch.id),
        ...(payload ? { payload } : {}),
      });
      expect(res.statusCode).toBe(400);
      const { problems } = res.json() as { problems: { path: string; message: string }[] };
      expect(problems).toEqual([{ path, message: 'no NUL characters' }]);
      expect((await h.manager.get(watch.id))?.status).toBe('running');
    },
  );
});

describe('a follower replica (DESIGN §13)', () => {
  test('serves the API from the shared store: creates, reads and overrides, and runs nothing', async () => {
    const follower = await createHarness({ store: h.store, clock: h.clock, manager: { leading: false } });
    const api = await buildWatchApp(follower, {
      services: () => services,
      leadership: () => ({ leader: false, instance: 'vigil-b', leaderInstance: 'vigil-a', reason: null }),
    });
    try {
      const created = await api.inject({
        method: 'POST',
        url: '/api/v1/watches',
        payload: { service: 'prep-api', version: '1.4.2' },
      });
      expect(created.statusCode).toBe(201);
      const { id } = created.json() as WatchView;
      // The same request on the leader's API starts the watch's smoke phase; the follower's does not.
      // (Another service: a new deploy of prep-api would supersede the follower's watch.)
      services = ['prep-api', 'prep-worker'];
      expect((await post('/api/v1/watches', { service: 'prep-worker', version: '2.0.0' })).statusCode).toBe(
        201,
      );
      await advance(h.clock, 2 * MINUTE, MINUTE);
      expect(h.smokeRuns).toBeGreaterThan(0);
      expect(follower.smokeRuns).toBe(0);

      const read = await api.inject({ method: 'GET', url: `/api/v1/watches/${id}` });
      expect(read.statusCode).toBe(200);
      expect((read.json() as WatchView).version).toBe('1.4.2');
      const verdict = await api.inject({ method: 'GET', url: `/api/v1/watches/${id}/verdict` });
      expect(verdict.json()).toMatchObject({ id, status: 'running' });
      expect((await api.inject({ method: 'GET', url: '/ready' })).json()).toEqual({
        status: 'ok',
        leader: false,
      });

      const aborted = await api.inject({
        method: 'POST',
        url: `/api/v1/watches/${id}/abort`,
        payload: { reason: 'bad build', who: 'alice' },
      });
      expect(aborted.statusCode).toBe(200);
      expect((aborted.json() as WatchView).status).toBe('aborted');
      // Written to the store the replicas share: the leader reads the operator's decision.
      expect((await h.manager.get(id))?.status).toBe('aborted');
    } finally {
      await follower.manager.stop();
      await api.close();
    }
  });
});

describe('rate limit budgets', () => {
  async function limited(max: number): Promise<FastifyInstance> {
    await app.close();
    app = await buildWatchApp(h, { services: () => services, rateLimit: { max, windowMs: 60_000 } });
    return app;
  }

  test('?wait= on an ordinary route spends the ordinary budget', async () => {
    const api = await limited(2);
    const codes: number[] = [];
    for (const url of [
      '/api/v1/probes',
      '/api/v1/slos',
      '/api/v1/probes?wait=30s',
      '/api/v1/watches?wait=1s',
    ]) {
      codes.push((await api.inject({ method: 'GET', url })).statusCode);
    }
    expect(codes).toEqual([200, 200, 429, 429]);
  });

  test('the verdict long poll has its own budget, and only with wait', async () => {
    const api = await limited(2);
    const watch = (
      await api.inject({
        method: 'POST',
        url: '/api/v1/watches',
        payload: { service: 'prep-api', version: '1' },
      })
    ).json() as WatchView;
    expect((await api.inject({ method: 'GET', url: '/api/v1/probes' })).statusCode).toBe(200);
    // The ordinary budget (2) is spent; a long poll still answers, a plain verdict read does not.
    const poll = await api.inject({ method: 'GET', url: `/api/v1/watches/${watch.id}/verdict?wait=0s` });
    expect(poll.statusCode).toBe(200);
    const plain = await api.inject({ method: 'GET', url: `/api/v1/watches/${watch.id}/verdict` });
    expect(plain.statusCode).toBe(429);
  });
});
