import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/server/app.js';
import type { HealthReporter } from '../../src/server/health.js';
import { watchRoutes } from '../../src/server/routes/watches.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import type { Verdict, WatchView } from '../../src/watch/types.js';
import { check, createHarness, type Harness, MINUTE, T0 } from '../unit/watch/harness.js';

const TOKEN = 'watch-api-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const health: HealthReporter = {
  report: async () => ({ status: 'ok', checks: {}, checkedAt: new Date(T0).toISOString() }),
};

let h: Harness;
let app: FastifyInstance;

beforeEach(async () => {
  // error-rate turns to warn at minute 3: a change the long poll must answer promptly.
  h = await createHarness({
    settings: { phases: ['bake'] },
    evaluate: (minute) => [check('error-rate', minute >= 3 ? 'warn' : 'pass', minute >= 3 ? 0.008 : 0.001)],
  });
  app = await buildApp({
    logger: silentLogger(),
    metrics: h.metrics,
    apiToken: () => TOKEN,
    rateLimit: { max: 1000, windowMs: 60_000 },
    isReady: () => true,
    health,
    routes: [watchRoutes(h.manager)],
  });
});

afterEach(async () => {
  await h.manager.stop();
  await app.close();
  await h.close();
});

async function createWatch(
  body: Record<string, unknown> = { service: 'prep-api', version: '1.4.2' },
): Promise<WatchView> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/watches', headers: auth, payload: body });
  expect(res.statusCode).toBe(201);
  return res.json() as WatchView;
}

describe('POST /api/v1/watches', () => {
  it('creates a watch and answers 201 with the watch object', async () => {
    const watch = await createWatch({
      service: 'prep-api',
      version: '1.4.2',
      previousVersion: '1.4.1',
      duration: '2h',
    });
    expect(watch).toMatchObject({
      service: 'prep-api',
      version: '1.4.2',
      previousVersion: '1.4.1',
      status: 'running',
      phase: 'bake',
      verdict: 'pending',
      startedAt: new Date(T0).toISOString(),
      duration: '2h',
      durationMs: 7_200_000,
      reasons: [],
      checks: [],
    });
    expect(watch.phases).toEqual([
      { name: 'bake', state: 'running', startedAt: new Date(T0).toISOString(), endedAt: null },
    ]);
    expect(watch.timeline.map((e) => e.type)).toEqual(['created', 'phase']);
  });

  it.each([
    { name: 'missing version', body: { service: 'prep-api' }, path: 'body.version' },
    { name: 'an unknown field', body: { service: 'prep-api', version: '1', colour: 'red' }, path: 'body' },
    {
      name: 'a malformed duration',
      body: { service: 'prep-api', version: '1', duration: '2 hours' },
      path: 'body.duration',
    },
    {
      name: 'an unknown phase',
      body: { service: 'prep-api', version: '1', phases: ['soak'] },
      path: 'body.phases[0]',
    },
    {
      name: 'a start older than the duration',
      body: { service: 'p', version: '1', startedAt: (T0 - 2 * 86_400_000) / 1000 },
      path: 'body.startedAt',
    },
  ])('answers 400 with the problems for $name', async ({ body, path }) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/watches', headers: auth, payload: body });
    expect(res.statusCode).toBe(400);
    const problems = (res.json() as { problems: { path: string; message: string }[] }).problems;
    expect(problems.map((p) => p.path)).toContain(path);
  });

  it('accepts an RFC 3339 startedAt in the past', async () => {
    const startedAt = new Date(T0 - 30 * MINUTE).toISOString();
    const watch = await createWatch({ service: 'prep-api', version: '1', startedAt });
    expect(watch.startedAt).toBe(startedAt);
  });

  it('needs the token', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/watches',
      payload: { service: 'a', version: '1' },
    });
    expect(res.statusCode).toBe(401);
  });
});

describe('GET /api/v1/watches', () => {
  it('lists newest first, filtered by service and status', async () => {
    const a = await createWatch({ service: 'a', version: '1' });
    await h.clock.advance(1000);
    const b = await createWatch({ service: 'b', version: '1' });
    await h.clock.advance(1000);
    const c = await createWatch({ service: 'a', version: '2' });
    const all = (await app.inject({ method: 'GET', url: '/api/v1/watches', headers: auth })).json() as {
      watches: WatchView[];
    };
    expect(all.watches.map((w) => w.id)).toEqual([c.id, b.id, a.id]);
    const running = await app.inject({
      method: 'GET',
      url: '/api/v1/watches?service=a&status=running',
      headers: auth,
    });
    expect((running.json() as { watches: WatchView[] }).watches.map((w) => w.id)).toEqual([c.id]);
    const bad = await app.inject({ method: 'GET', url: '/api/v1/watches?status=done', headers: auth });
    expect(bad.statusCode).toBe(400);
  });

  it('answers 404 for an unknown watch, on the watch and its verdict', async () => {
    for (const url of ['/api/v1/watches/w_unknown', '/api/v1/watches/w_unknown/verdict?wait=5s']) {
      const res = await app.inject({ method: 'GET', url, headers: auth });
      expect(res.statusCode).toBe(404);
    }
  });
});

describe('GET /api/v1/watches/{id}/verdict long poll', () => {
  it('answers promptly when the verdict changes, long before wait runs out', async () => {
    const watch = await createWatch();
    await h.clock.advance(2 * MINUTE);
    let answered = false;
    const pending = app
      .inject({ method: 'GET', url: `/api/v1/watches/${watch.id}/verdict?wait=120s`, headers: auth })
      .then((res) => {
        answered = true;
        return res;
      });
    await h.clock.advance(30_000);
    expect(answered).toBe(false);
    const started = Date.now();
    await h.clock.advance(30_000);
    const res = await pending;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(h.clock.now()).toBe(T0 + 3 * MINUTE);
    expect(res.json()).toMatchObject({ verdict: 'warn', status: 'running' });
  });

  it('answers with the unchanged verdict when wait runs out, capped at 120 s', async () => {
    const watch = await createWatch();
    await h.clock.advance(1000);
    let answered = false;
    const pending = app
      .inject({ method: 'GET', url: `/api/v1/watches/${watch.id}/verdict?wait=10m`, headers: auth })
      .then((res) => {
        answered = true;
        return res;
      });
    await h.clock.advance(119_000);
    expect(answered).toBe(false);
    await h.clock.advance(1_000);
    expect(((await pending).json() as Verdict).verdict).toBe('pass');
  });

  it('answers at once when until is already reached, or when the watch changed since the caller last looked', async () => {
    const watch = await createWatch();
    const seen = (
      await app.inject({ method: 'GET', url: `/api/v1/watches/${watch.id}/verdict`, headers: auth })
    ).json() as Verdict;
    const smoke = await app.inject({
      method: 'GET',
      url: `/api/v1/watches/${watch.id}/verdict?wait=60s&until=smoke`,
      headers: auth,
    });
    expect(smoke.statusCode).toBe(200);
    await h.clock.advance(MINUTE);
    const since = await app.inject({
      method: 'GET',
      url: `/api/v1/watches/${watch.id}/verdict?wait=60s&since=${encodeURIComponent(seen.updatedAt)}`,
      headers: auth,
    });
    expect(Date.parse((since.json() as Verdict).updatedAt)).toBeGreaterThan(Date.parse(seen.updatedAt));
  });

  it('rejects a bad until', async () => {
    const watch = await createWatch();
    const res = await app.inject({
      method: 'GET',
      url: `/api/v1/watches/${watch.id}/verdict?until=soon`,
      headers: auth,
    });
    expect(res.statusCode).toBe(400);
  });
});

describe('operator overrides over HTTP', () => {
  it('records who and why; a second abort is a conflict; a missing reason is a 400', async () => {
    const watch = await createWatch();
    const missing = await app.inject({
      method: 'POST',
      url: `/api/v1/watches/${watch.id}/abort`,
      headers: auth,
      payload: {},
    });
    expect(missing.statusCode).toBe(400);
    const res = await app.inject({
      method: 'POST',
      url: `/api/v1/watches/${watch.id}/abort`,
      headers: auth,
      payload: { reason: 'deploy cancelled' },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json() as WatchView;
    expect(body.status).toBe('aborted');
    expect(body.timeline.find((e) => e.type === 'override')).toMatchObject({
      action: 'abort',
      who: 'token holder (127.0.0.1)',
      reason: 'deploy cancelled',
    });
    const again = await app.inject({
      method: 'POST',
      url: `/api/v1/watches/${watch.id}/promote`,
      headers: auth,
      payload: { reason: 'x' },
    });
    expect(again.statusCode).toBe(409);
    const unknown = await app.inject({
      method: 'POST',
      url: '/api/v1/watches/w_nope/rollback',
      headers: auth,
      payload: { reason: 'x' },
    });
    expect(unknown.statusCode).toBe(404);
  });
});
