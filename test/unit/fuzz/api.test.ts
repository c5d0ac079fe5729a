import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { parseDurationMs } from '../../../src/config/units.js';
import { createDaemon, type Daemon } from '../../../src/daemon/index.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { type DaemonFiles, TEST_API_TOKEN, writeDaemonConfig } from '../../helpers/daemon.js';

/*
 * Every route of the daemon's app (built by createDaemon, driven with app.inject) under random methods,
 * paths, parameters, headers and bodies: the answer is never a 5xx, always JSON for /api/v1, and an
 * error answer never carries a stack trace. One real watch exists so ids that match are exercised too.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

let files: DaemonFiles;
let daemon: Daemon;
let watchId: string;

beforeAll(async () => {
  files = writeDaemonConfig({
    targetUrl: 'http://127.0.0.1:9',
    probes: '- name: health\n  kind: smoke\n  interval: 1h\n  request: { method: GET, path: /health }\n',
    slos: '- name: avail\n  source: probes\n  sli: { probe: health, measure: successRatio }\n  objective: { gte: 0.9 }\n',
    root: ['watch: { duration: 1h, phases: [bake], evaluationInterval: 1h }'],
  });
  const config = await loadConfig(files.configFile, {});
  daemon = await createDaemon({ config, logger: silentLogger(), searchPath: '', defaultMetrics: false });
  // Started (on 127.0.0.1:0) so /ready answers as in production; requests still go through inject.
  await daemon.start();
  const created = await daemon.app.inject({
    method: 'POST',
    url: '/api/v1/watches',
    headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
    payload: { service: 'prep-api', version: '1.0.0' },
  });
  expect(created.statusCode).toBe(201);
  watchId = created.json<{ id: string }>().id;
});

afterAll(async () => {
  await daemon?.stop(1_000);
  files?.cleanup();
});

/** Strings that break naive code: unicode, control characters, huge numbers, path tricks, templates. */
const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ maxLength: 20, unit: 'binary' }),
  fc.constantFrom(
    '',
    ' ',
    '0',
    '-1',
    '1e309',
    'NaN',
    'Infinity',
    '9007199254740993',
    '../../etc/passwd',
    '%00',
    '%zz',
    'null',
    '[]',
    '{}',
    '__proto__',
    'constructor',
    'toString',
    '2026-13-45T99:99:99Z',
    '1970-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
    'smoke',
    'complete',
    'running',
  ),
);

/** A `wait` value that can never start a long poll (the property must stay fast). */
const harmlessWait = nasty.map((w) => (parseDurationMs(w.trim()) !== undefined || /^\d+$/.test(w) ? '0' : w));

const idArb = fc.oneof(fc.constant('WATCH'), nasty, fc.string({ minLength: 65, maxLength: 80 }));

const pathArb = fc.oneof(
  fc.constantFrom(
    '/live',
    '/ready',
    '/health',
    '/metrics',
    '/api/v1/probes',
    '/api/v1/slos',
    '/api/v1/watches',
  ),
  idArb.map((id) => `/api/v1/watches/${encodeURIComponent(id)}`),
  fc
    .tuple(idArb, fc.constantFrom('verdict', 'abort', 'promote', 'rollback', 'nope'))
    .map(([id, tail]) => `/api/v1/watches/${encodeURIComponent(id)}/${tail}`),
  // As a client sends it: characters a URL cannot hold raw (`\`, spaces, quotes) go percent-encoded.
  fc.string({ maxLength: 30 }).map((s) => `/${encodeURI(s)}`),
  fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
);

const queryArb = fc
  .dictionary(
    fc.constantFrom('service', 'status', 'limit', 'until', 'since', 'wait', 'x', '__proto__'),
    fc.oneof(nasty, fc.array(nasty, { maxLength: 3 })),
    { maxKeys: 4 },
  )
  .chain((q) => (q.wait === undefined ? fc.constant(q) : harmlessWait.map((wait) => ({ ...q, wait }))));

const jsonBody = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record(
    {
      service: fc.oneof(nasty, fc.constant('prep-api'), fc.jsonValue()),
      version: fc.oneof(nasty, fc.jsonValue()),
      previousVersion: fc.oneof(nasty, fc.jsonValue()),
      duration: fc.oneof(nasty, fc.constantFrom('1s', '0s', '-1h', '100000000h', '1h'), fc.jsonValue()),
      phases: fc.oneof(fc.array(fc.constantFrom('smoke', 'load', 'bake', 'x')), fc.jsonValue()),
      startedAt: fc.oneof(nasty, fc.integer(), fc.double(), fc.jsonValue()),
      reason: fc.oneof(nasty, fc.string({ maxLength: 1200 }), fc.jsonValue()),
      who: fc.oneof(nasty, fc.constant('alice'), fc.string({ maxLength: 120 }), fc.jsonValue()),
    },
    { requiredKeys: [] },
  ),
);

const bodyArb = fc.oneof(
  fc.constant(undefined),
  jsonBody.map((v) => ({ type: 'application/json', payload: JSON.stringify(v) })),
  fc.string({ maxLength: 100 }).map((s) => ({ type: 'application/json', payload: s })),
  fc.string({ maxLength: 50 }).map((s) => ({ type: 'text/plain', payload: s })),
  fc.string({ maxLength: 50 }).map((s) => ({ type: 'application/x-www-form-urlencoded', payload: s })),
  // Expanded in the property to a body over the 64 KiB limit (kept short in counterexamples).
  fc.constant({ type: 'application/json', payload: 'HUGE' }),
);

const authArb = fc.oneof(
  { weight: 5, arbitrary: fc.constant(`Bearer ${TEST_API_TOKEN}`) },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.oneof(nasty, fc.constant('Bearer '), fc.constant(`bearer ${TEST_API_TOKEN}x`)) },
);

/** Routes whose answer is known from the request alone: the GETs that take no id. */
const LIST_ROUTES = new Set(['/api/v1/probes', '/api/v1/slos', '/api/v1/watches']);
const QUERY_KEYS = new Set(['service', 'status', 'limit']);

/**
 * The exact answers a request may get, where they follow from the request alone (undefined elsewhere):
 * a wrong or missing token is 401 on every authenticated route; an authenticated GET of a list answers
 * 200, or 400 for a query it refuses (/watches validates its query; /probes and /slos a `service`).
 */
function expectedStatus(
  method: string,
  url: string,
  auth: string | undefined,
  query: Record<string, unknown>,
): number[] | undefined {
  if (!LIST_ROUTES.has(url) || (method !== 'GET' && method !== 'HEAD')) return undefined;
  if (auth !== `Bearer ${TEST_API_TOKEN}`) return [401];
  if (url !== '/api/v1/watches') {
    // `?service=` must name a configured service (this daemon's only one is prep-api); empty means all.
    // As sent: a list repeats the key (one element is a plain value), an empty list sends nothing.
    const raw = query.service;
    const sent = Array.isArray(raw) ? raw.map(String) : raw === undefined ? [] : [String(raw)];
    if (sent.length > 1) return [400];
    const service = sent[0];
    return service === undefined || service === '' || service === 'prep-api' ? [200] : [400];
  }
  const filtered = Object.keys(query).some((key) => QUERY_KEYS.has(key));
  return filtered ? [200, 400] : [200];
}

describe('API fuzzing: only 2xx/3xx/4xx, never a 5xx', () => {
  it('random requests to every route', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
        pathArb,
        queryArb,
        bodyArb,
        authArb,
        async (method, path, query, body, auth) => {
          const url = path.replace('WATCH', watchId);
          const headers: Record<string, string> = {};
          if (auth !== undefined) headers.authorization = auth;
          if (body) headers['content-type'] = body.type;
          // No catch: inject itself takes every input generated here (header values with control
          // characters included), so any throw is a failure of the app, not noise to filter.
          const response = await daemon.app.inject({
            method,
            url,
            query,
            headers,
            ...(body && method !== 'GET' && method !== 'HEAD'
              ? { payload: body.payload === 'HUGE' ? `{"reason":"${'x'.repeat(70_000)}"}` : body.payload }
              : {}),
          });
          seen.add(`${response.statusCode}`);
          if (url.startsWith('/api/v1/')) seen.add(`api ${response.statusCode}`);
          const where = `${method} ${url} ${JSON.stringify(query)} → ${response.statusCode} ${response.body.slice(0, 300)}`;
          expect(response.statusCode, where).toBeLessThan(500);
          expect(response.body, where).not.toMatch(/\n\s+at .+\(.*:\d+:\d+\)/);
          if (url.startsWith('/api/v1') && method !== 'HEAD' && response.body !== '') {
            expect(() => JSON.parse(response.body), where).not.toThrow();
          }
          const expected = expectedStatus(method, url, auth, query);
          if (expected !== undefined) expect(expected, where).toContain(response.statusCode);
        },
      ),
      { numRuns: RUNS },
    );
    // The inputs reach the routes: successes, refusals for bad input, auth, size and missing routes.
    expect([...seen]).toEqual(expect.arrayContaining(['api 200', 'api 400', '401', '404']));
  }, 60_000);
});
