import helmet from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createHarness, type Harness } from '../watch/harness.js';
import { buildWatchApp } from './watch-app.js';

/** Headers that differ by request, route or body, not by security policy. */
const PER_RESPONSE = new Set([
  'date',
  'connection',
  'keep-alive',
  'content-length',
  'content-type',
  'x-request-id',
]);

let h: Harness;
let app: FastifyInstance;

beforeEach(async () => {
  h = await createHarness();
  app = await buildWatchApp(h);
});

afterEach(async () => {
  await h.manager.stop();
  await app.close();
  await h.close();
});

function securityOnly(headers: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !PER_RESPONSE.has(name) && !name.startsWith('x-ratelimit-')),
  );
}

describe('security headers', () => {
  test('are the ones @fastify/helmet sent when registered per request with the same options', async () => {
    // The registration buildApp had before the headers were computed once (issue 17).
    const reference = Fastify({ logger: false });
    await reference.register(helmet, {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
      },
      strictTransportSecurity: false,
      frameguard: { action: 'deny' },
      referrerPolicy: { policy: 'no-referrer' },
    });
    reference.get('/live', async () => ({ status: 'ok' }));
    const expected = securityOnly((await reference.inject({ method: 'GET', url: '/live' })).headers);
    await reference.close();

    expect(expected['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
    expect(expected['x-frame-options']).toBe('DENY');
    expect(expected['referrer-policy']).toBe('no-referrer');
    expect(expected).not.toHaveProperty('strict-transport-security');
    for (const url of ['/live', '/api/v1/watches/w_unknown/verdict', '/no-such-route']) {
      const response = await app.inject({ method: 'GET', url });
      expect(securityOnly(response.headers), url).toEqual(expected);
    }
  });
});

describe('GET /api/v1/watches/:id/verdict without wait', () => {
  test('answers the same bytes and content type as the serialized verdict object', async () => {
    const outcome = await h.manager.create({ service: 'prep-api', version: '1.4.2' });
    if (!outcome.ok) throw new Error(JSON.stringify(outcome.problems));
    const url = `/api/v1/watches/${outcome.watch.id}/verdict`;
    for (const query of ['', '?until=complete', '?since=0']) {
      const response = await app.inject({ method: 'GET', url: `${url}${query}` });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(response.body).toBe(JSON.stringify(await h.manager.verdict(outcome.watch.id)));
    }
    // What a long poll that answers at once sends, through fastify's own serializer.
    const waited = await app.inject({ method: 'GET', url: `${url}?wait=30s&since=0` });
    expect(waited.body).toBe((await app.inject({ method: 'GET', url })).body);
    expect(waited.headers['content-type']).toBe('application/json; charset=utf-8');
  });

  test('a change made through the API answers at once: the cached verdict does not outlive it', async () => {
    const outcome = await h.manager.create({ service: 'prep-api', version: '1.4.2' });
    if (!outcome.ok) throw new Error(JSON.stringify(outcome.problems));
    const url = `/api/v1/watches/${outcome.watch.id}/verdict`;
    const before = await app.inject({ method: 'GET', url });
    expect(before.json()).toMatchObject({ status: 'running' });
    const aborted = await app.inject({
      method: 'POST',
      url: `/api/v1/watches/${outcome.watch.id}/abort`,
      payload: { reason: 'bad build' },
    });
    expect(aborted.statusCode).toBe(200);
    const after = await app.inject({ method: 'GET', url });
    expect(after.json()).toMatchObject({ status: 'aborted' });
    expect(after.body).toBe(JSON.stringify(await h.manager.verdict(outcome.watch.id)));
  });

  test('an unknown watch is 404 as before', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/watches/w_nope/verdict' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: 'not found', message: 'no watch w_nope' });
  });
});
