import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { createPatternStore, type PatternStore } from '../../../src/patterns/store.js';
import { buildApp } from '../../../src/server/app.js';
import type { HealthReporter } from '../../../src/server/health.js';
import { patternRoutes } from '../../../src/server/routes/patterns.js';
import { openStore } from '../../../src/store/open.js';
import type { Store } from '../../../src/store/port.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';

const T0 = Date.parse('2026-11-27T12:10:00Z');
const health: HealthReporter = {
  report: async () => ({ status: 'ok', checks: {}, checkedAt: new Date(T0).toISOString() }),
};

let db: Store;
let store: PatternStore;
let app: FastifyInstance;
const clock = new ManualClock(T0);

const signature = (id: string, template: string, status: 'known' | 'new', count: number) => ({
  check: 'new-error-signatures',
  id,
  status,
  level: 'error',
  logger: '',
  template,
  count,
  baselineCount: status === 'new' ? null : 12,
  firstSeen: T0 - 240_000,
  lastSeen: T0 - 1_000,
  examples: [`{"level":"error","msg":"${template}"}`],
  updatedAt: T0,
});

beforeEach(async () => {
  db = await openStore({ path: ':memory:' });
  store = createPatternStore(db);
  await store.saveObservations('w_1', 'new-error-signatures', 'prep-api', T0, [
    signature('p0123456789ab', 'KeyError: <STR>', 'new', 14),
    signature('pba9876543210', 'payment failed', 'known', 9),
  ]);
  app = await buildApp({
    logger: silentLogger(),
    metrics: createMetrics({ version: 'test', defaultMetrics: false }),
    apiToken: () => '',
    rateLimit: { max: 1000, windowMs: 60_000 },
    isReady: () => true,
    health,
    routes: [
      patternRoutes({
        watches: { get: async (id) => (id === 'w_1' ? { service: 'prep-api' } : undefined) },
        store,
        clock,
      }),
    ],
  });
});

afterEach(async () => {
  await app.close();
  await db.close();
});

describe('GET /api/v1/watches/{id}/patterns', () => {
  test('lists the signatures a watch saw by check: new, changed, known', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/watches/w_1/patterns' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.checks).toHaveLength(1);
    expect(body.checks[0].name).toBe('new-error-signatures');
    expect(body.checks[0].new.map((s: { template: string; count: number }) => [s.template, s.count])).toEqual(
      [['KeyError: <STR>', 14]],
    );
    expect(body.checks[0].known[0]).toMatchObject({
      id: 'pba9876543210',
      baselineCount: 12,
      firstSeen: '2026-11-27T12:06:00.000Z',
    });
    expect(body.checks[0].changed).toEqual([]);
  });

  test('an unknown watch is 404', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/v1/watches/w_9/patterns' })).statusCode).toBe(404);
  });
});

describe('POST /api/v1/patterns/{signature}/ignore · /always-fail', () => {
  test('records the decision for the service, audited with who and why', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/patterns/p0123456789ab/ignore',
      payload: { reason: 'known currency backfill', who: 'alice' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      signature: 'p0123456789ab',
      verdict: 'ignore',
      service: 'prep-api',
      template: 'KeyError: <STR>',
    });
    await clock.advance(60_000);
    await app.inject({
      method: 'POST',
      url: '/api/v1/patterns/p0123456789ab/always-fail',
      payload: { reason: 'it came back' },
    });
    expect((await store.feedback('prep-api')).map((f) => [f.signature, f.verdict])).toEqual([
      ['p0123456789ab', 'always-fail'],
    ]);
    expect((await store.feedbackHistory('p0123456789ab')).map((f) => [f.verdict, f.who, f.reason])).toEqual([
      ['ignore', 'alice (via loopback)', 'known currency backfill'],
      ['always-fail', expect.stringContaining('loopback client'), 'it came back'],
    ]);
    const listed = (await app.inject({ method: 'GET', url: '/api/v1/watches/w_1/patterns' })).json();
    expect(listed.feedback).toMatchObject([{ signature: 'p0123456789ab', verdict: 'always-fail' }]);
  });

  test.each([
    ['an unseen signature is 404', '/api/v1/patterns/p000000000000/ignore', { reason: 'x' }, 404],
    ['a malformed id is 400', '/api/v1/patterns/KeyError/ignore', { reason: 'x' }, 400],
    ['no reason is 400', '/api/v1/patterns/p0123456789ab/ignore', {}, 400],
  ])('%s', async (_name, url, payload, status) => {
    expect((await app.inject({ method: 'POST', url, payload })).statusCode).toBe(status);
  });
});
