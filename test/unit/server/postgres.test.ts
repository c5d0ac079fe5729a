import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/clock.js';
import { createHealthReporter } from '../../../src/server/health.js';
import { storeCheck } from '../../../src/server/health-checks.js';
import { openStore } from '../../../src/store/open.js';
import type { Store } from '../../../src/store/port.js';
import type { WatchView } from '../../../src/watch/types.js';
import { type RunningPostgres, skipWithoutPostgres, startPostgres } from '../../helpers/postgres.js';
import { createHarness, type Harness } from '../watch/harness.js';
import { buildWatchApp } from './watch-app.js';

/*
 * The API over a real PostgreSQL that goes away and comes back (DESIGN §13): while the database cannot
 * be reached, a request that needs it answers 503 "store unavailable" (not 500), the store check is
 * down and /health is 503; once it is back, the same requests answer from the rows kept.
 */

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(skipWithoutPostgres)('the API over PostgreSQL', () => {
  let server: RunningPostgres;
  let store: Store | undefined;
  let h: Harness | undefined;
  let app: FastifyInstance | undefined;

  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.destroy();
  });
  afterEach(async () => {
    await h?.manager.stop();
    await app?.close();
    await store?.close();
  });

  it('answers 503 "store unavailable" while the database is down, and from its rows once it is back', async () => {
    store = await openStore({ url: await server.createDatabase(), instance: 'vigil-a' });
    // A follower: the API is all this replica runs, so nothing but the requests below reaches the database.
    h = await createHarness({ store, manager: { leading: false } });
    const health = createHealthReporter({
      clock: systemClock,
      cacheMs: 0,
      checks: () => ({ store: storeCheck(store as Store) }),
    });
    app = await buildWatchApp(h, { health });
    const ask = (method: 'GET' | 'POST', url: string, payload?: Record<string, unknown>) =>
      (app as FastifyInstance).inject({ method, url, ...(payload ? { payload } : {}) });

    const created = await ask('POST', '/api/v1/watches', { service: 'prep-api', version: '1.4.2' });
    expect(created.statusCode).toBe(201);
    const { id } = created.json() as WatchView;
    expect((await ask('GET', '/health')).json()).toMatchObject({
      status: 'ok',
      checks: { store: { status: 'ok' } },
    });

    await server.stop();
    for (const [method, url, payload] of [
      ['GET', '/api/v1/watches', undefined],
      ['GET', `/api/v1/watches/${id}`, undefined],
      ['POST', `/api/v1/watches/${id}/abort`, { reason: 'bad build' }],
    ] as const) {
      const res = await ask(method, url, payload);
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(503);
      expect(res.json()).toMatchObject({
        error: 'store unavailable',
        message: expect.stringMatching(/^the store cannot be used right now \(\w+\); see \/health$/),
      });
    }
    const down = await ask('GET', '/health');
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ status: 'down', checks: { store: { status: 'down' } } });

    await server.start();
    // The pool drops the connections the shutdown cut and opens new ones on the next request.
    let read = await ask('GET', `/api/v1/watches/${id}`);
    for (let tries = 0; read.statusCode !== 200 && tries < 50; tries++) {
      await wait(100);
      read = await ask('GET', `/api/v1/watches/${id}`);
    }
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ id, status: 'running', version: '1.4.2' });
    const aborted = await ask('POST', `/api/v1/watches/${id}/abort`, { reason: 'bad build' });
    expect(aborted.statusCode).toBe(200);
    expect((aborted.json() as WatchView).status).toBe('aborted');
    expect((await ask('GET', '/health')).statusCode).toBe(200);
  }, 60_000);
});
