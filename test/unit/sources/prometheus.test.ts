import { Agent } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { sourceSchema } from '../../../src/config/schema.js';
import { createPrometheusSource, planRange } from '../../../src/sources/prometheus.js';
import { NoDataError, QueryError, SourceUnavailableError } from '../../../src/sources/types.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { type FakeAnswer, type FakeServer, promError, promSuccess, startFakeServer } from './fake-server.js';

const T = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const dispatcher = new Agent({ keepAliveTimeout: 10 });
afterAll(() => dispatcher.close());

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A server answering every request with `reply`, and a source on it without retries. */
async function sourceAnswering(
  reply: FakeAnswer | ((index: number) => FakeAnswer),
  extra: Record<string, unknown> = {},
) {
  server = await startFakeServer((_req, i) => (typeof reply === 'function' ? reply(i) : reply));
  const config = sourceSchema.parse({ url: server.url, ...extra });
  const metrics = createMetrics({ version: 'test', defaultMetrics: false });
  const source = createPrometheusSource(config, { dispatcher, metrics, resilience: { retries: 0 } });
  return { source, metrics, server };
}

const vector = (...series: [Record<string, string>, string][]) =>
  promSuccess({
    resultType: 'vector',
    result: series.map(([metric, v]) => ({ metric, value: [T / 1000, v] })),
  });

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected the query to fail'),
    (error: unknown) => error,
  );
}

describe('instant query answers', () => {
  it.each([
    { name: 'a single-series vector gives its value', answer: vector([{}, '0.0099']), value: 0.0099 },
    // DESIGN §6: ±Inf is a value (a quantile above the highest bucket), judged, never "no data".
    { name: '"+Inf" is a value, not no data', answer: vector([{}, '+Inf']), value: Number.POSITIVE_INFINITY },
    { name: '"-Inf" is a value', answer: vector([{}, '-Inf']), value: Number.NEGATIVE_INFINITY },
    {
      name: 'a scalar result is accepted',
      answer: promSuccess({ resultType: 'scalar', result: [T / 1000, '42'] }),
      value: 42,
    },
    {
      name: 'float noise is kept as sent',
      answer: vector([{}, '0.09999999999999999']),
      value: 0.09999999999999999,
    },
  ])('$name', async ({ answer, value }) => {
    const { source } = await sourceAnswering(answer);
    await expect(source.query('up', T)).resolves.toEqual({ value, at: T });
  });

  it.each([
    {
      name: '"NaN" (0/0, no traffic) is no data with the reason',
      answer: vector([{}, 'NaN']),
      message: /NaN/,
    },
    { name: 'an empty vector is no data', answer: vector(), message: /no series/ },
    {
      name: 'a NaN scalar is no data',
      answer: promSuccess({ resultType: 'scalar', result: [T / 1000, 'NaN'] }),
      message: /NaN/,
    },
  ])('$name', async ({ answer, message }) => {
    const { source } = await sourceAnswering(answer);
    const error = await errorOf(source.query('x', T));
    expect(error).toBeInstanceOf(NoDataError);
    expect((error as Error).message).toMatch(message);
  });

  it('several series where one is expected is a query error naming their label sets', async () => {
    const { source } = await sourceAnswering(
      vector([{ job: 'api', code: '200' }, '1'], [{ job: 'api', code: '500' }, '2']),
    );
    const error = await errorOf(source.query('rate(http_requests_total[5m])', T));
    expect(error).toBeInstanceOf(QueryError);
    expect((error as Error).message).toContain('2 series');
    expect((error as Error).message).toContain('{code="200",job="api"}, {code="500",job="api"}');
  });

  it('a string result is a query error', async () => {
    const { source } = await sourceAnswering(promSuccess({ resultType: 'string', result: [T / 1000, 'hi'] }));
    await expect(source.query('"hi"', T)).rejects.toBeInstanceOf(QueryError);
  });
});

describe('error envelope and status mapping', () => {
  const parseError = 'invalid parameter "query": 1:16: parse error: unclosed left parenthesis';
  it.each([
    {
      name: 'bad_data 400 is the query’s fault',
      answer: promError('bad_data', parseError, 400),
      kind: QueryError,
      text: /unclosed left parenthesis/,
    },
    {
      name: 'execution 422 is the query’s fault',
      answer: promError('execution', 'many-to-many matching not allowed', 422),
      kind: QueryError,
      text: /many-to-many/,
    },
  ])('$name', async ({ answer, kind, text }) => {
    const { source, metrics } = await sourceAnswering(answer);
    const error = await errorOf(source.query('sum(rate(x[5m])', T));
    expect(error).toBeInstanceOf(kind);
    expect((error as Error).message).toMatch(text);
    const counted = (await metrics.sourceErrors.get()).values;
    expect(counted).toEqual([
      expect.objectContaining({ labels: { source: 'prometheus', reason: 'bad_query' }, value: 1 }),
    ]);
  });

  it.each([
    {
      name: 'timeout 503 from the engine',
      answer: promError('timeout', 'query timed out in query execution', 503),
      reason: 'timeout',
    },
    { name: 'canceled 503', answer: promError('canceled', 'query was canceled', 503), reason: 'unavailable' },
    { name: 'internal 500', answer: promError('internal', 'boom', 500), reason: 'http_5xx' },
    {
      name: 'plain-text 503 while Prometheus starts',
      answer: { status: 503, body: 'Service Unavailable', contentType: 'text/plain' },
      reason: 'unavailable',
    },
    {
      name: 'HTML 502 from a proxy',
      answer: { status: 502, body: '<html>Bad Gateway</html>', contentType: 'text/html' },
      reason: 'unavailable',
    },
    {
      name: 'plain 500',
      answer: { status: 500, body: 'oops', contentType: 'text/plain' },
      reason: 'http_5xx',
    },
    {
      name: '401 from an auth gateway',
      answer: { status: 401, body: 'Unauthorized', contentType: 'text/plain' },
      reason: 'auth',
    },
    {
      name: '429 from Mimir limits',
      answer: { status: 429, body: 'too many requests', contentType: 'text/plain' },
      reason: 'rate_limited',
    },
    {
      name: 'a 200 that is not JSON',
      answer: { status: 200, body: '<html>login</html>', contentType: 'text/html' },
      reason: 'bad_response',
    },
    {
      name: 'a 200 envelope with a strange data shape',
      answer: promSuccess({ resultType: 'vector', result: 'x' }),
      reason: 'bad_response',
    },
  ])('$name → SourceUnavailableError $reason', async ({ answer, reason }) => {
    const { source, metrics } = await sourceAnswering(answer);
    const error = await errorOf(source.query('up', T));
    expect(error).toBeInstanceOf(SourceUnavailableError);
    expect((error as SourceUnavailableError).reason).toBe(reason);
    const counted = (await metrics.sourceErrors.get()).values;
    expect(counted).toEqual([
      expect.objectContaining({ labels: { source: 'prometheus', reason }, value: 1 }),
    ]);
  });

  it('a connection refused is reason connect', async () => {
    const closed = await startFakeServer(() => ({}));
    await closed.close();
    const source = createPrometheusSource(sourceSchema.parse({ url: closed.url }), {
      dispatcher,
      resilience: { retries: 0 },
    });
    const error = await errorOf(source.query('up', T));
    expect((error as SourceUnavailableError).reason).toBe('connect');
  });
});

describe('requests', () => {
  it('POSTs a form with query, time in seconds and a server timeout, with auth, tenant and headers', async () => {
    server = await startFakeServer(() => vector([{}, '1']));
    const config = {
      bearerToken: 's3cret-token',
      tenant: 'team-a',
      headers: { 'X-Extra': 'yes' },
      timeout: '7s',
    };
    const prefixed = createPrometheusSource(sourceSchema.parse({ url: `${server.url}/prom/`, ...config }), {
      dispatcher,
    });
    await prefixed.query('sum(rate(http_requests_total[5m]))', T + 500);
    const [seen] = server.requests;
    expect(seen?.method).toBe('POST');
    expect(seen?.path).toBe('/prom/api/v1/query');
    expect(seen?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(seen?.form ?? [])).toEqual({
      query: 'sum(rate(http_requests_total[5m]))',
      time: '1767225600.5',
      timeout: '7000ms',
    });
    expect(seen?.headers.authorization).toBe('Bearer s3cret-token');
    expect(seen?.headers['x-scope-orgid']).toBe('team-a');
    expect(seen?.headers['x-extra']).toBe('yes');
  });

  it('sends basic auth, including credentials written in the URL, and never names them in errors', async () => {
    server = await startFakeServer(() => ({ status: 401, body: 'Unauthorized', contentType: 'text/plain' }));
    const url = server.url.replace('http://', 'http://alice:pa55word@');
    const source = createPrometheusSource(sourceSchema.parse({ url }), {
      dispatcher,
      resilience: { retries: 0 },
    });
    const error = await errorOf(source.query('up', T));
    expect(server.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('alice:pa55word').toString('base64')}`,
    );
    expect((error as Error).message).not.toMatch(/alice|pa55word/);
    expect(server.requests).toHaveLength(1); // auth failures are not retried
  });
});

describe('range queries', () => {
  it.each([
    {
      name: 'aligns the start up to a multiple of the step',
      args: [61_000, 601_000, 60_000],
      plan: { start: 120_000, end: 601_000, stepMs: 60_000 },
    },
    {
      name: 'keeps an aligned start',
      args: [120_000, 600_000, 60_000],
      plan: { start: 120_000, end: 600_000, stepMs: 60_000 },
    },
    {
      name: 'raises the step to stay within 11,000 points',
      args: [0, 30 * 86_400_000, 1_000],
      plan: { start: 0, end: 2_592_000_000, stepMs: 235_637 },
    },
    {
      name: 'a window shorter than the step keeps its start',
      args: [61_000, 62_000, 60_000],
      plan: { start: 61_000, end: 62_000, stepMs: 60_000 },
    },
  ])('$name', ({ args, plan }) => {
    const [start, end, step] = args as [number, number, number];
    const planned = planRange(start, end, step);
    expect(planned).toEqual(plan);
    expect(Math.floor((planned.end - planned.start) / planned.stepMs)).toBeLessThanOrEqual(11_000);
  });

  it('sends the planned range and drops NaN points, keeping the others (±Inf included)', async () => {
    const values = [
      [T / 1000, '1'],
      [T / 1000 + 60, 'NaN'],
      [T / 1000 + 120, '3'],
      [T / 1000 + 180, '+Inf'],
    ];
    const { source, server } = await sourceAnswering(
      promSuccess({ resultType: 'matrix', result: [{ metric: {}, values }] }),
    );
    const samples = await source.queryRange('x', T - 30_000, T + 120_000, 60_000);
    expect(samples).toEqual([
      { at: T, value: 1 },
      { at: T + 120_000, value: 3 },
      { at: T + 180_000, value: Number.POSITIVE_INFINITY },
    ]);
    const form = server.requests[0]?.form;
    expect(server.requests[0]?.path).toBe('/api/v1/query_range');
    expect([form?.get('start'), form?.get('end'), form?.get('step')]).toEqual([
      String(T / 1000),
      String(T / 1000 + 120),
      '60',
    ]);
  });

  it.each([
    {
      name: 'an all-NaN range is no data',
      result: [{ metric: {}, values: [[T / 1000, 'NaN']] }],
      kind: NoDataError,
    },
    { name: 'an empty matrix is no data', result: [], kind: NoDataError },
    {
      name: 'several series is a query error',
      result: [
        { metric: { app: 'a' }, values: [[T / 1000, '1']] },
        { metric: { app: 'b' }, values: [[T / 1000, '1']] },
      ],
      kind: QueryError,
    },
  ])('$name', async ({ result, kind }) => {
    const { source } = await sourceAnswering(promSuccess({ resultType: 'matrix', result }));
    await expect(source.queryRange('x', T, T + 60_000, 60_000)).rejects.toBeInstanceOf(kind);
  });
});

describe('deadlines, retries and the circuit breaker', () => {
  it('a server that never answers fails with reason timeout after the configured timeout', async () => {
    const { source } = await sourceAnswering({ hang: true }, { timeout: '150ms' });
    const started = performance.now();
    const error = await errorOf(source.query('up', T));
    expect((error as SourceUnavailableError).reason).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("the caller's signal ends the query before the source timeout", async () => {
    const { source } = await sourceAnswering({ hang: true }, { timeout: '30s' });
    const started = performance.now();
    const error = await errorOf(source.query('up', T, AbortSignal.timeout(100)));
    expect((error as SourceUnavailableError).reason).toBe('aborted');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('retries transient failures with backoff, then succeeds', async () => {
    server = await startFakeServer((_req, i) =>
      i < 2 ? { status: 503, body: 'Service Unavailable' } : vector([{}, '5']),
    );
    const metrics = createMetrics({ version: 'test', defaultMetrics: false });
    const source = createPrometheusSource(sourceSchema.parse({ url: server.url }), {
      dispatcher,
      metrics,
      resilience: { retries: 2, retryInitialDelayMs: 1, retryMaxDelayMs: 5 },
    });
    await expect(source.query('up', T)).resolves.toEqual({ value: 5, at: T });
    expect(server.requests).toHaveLength(3);
    const errors = (await metrics.sourceErrors.get()).values;
    expect(errors).toEqual([
      expect.objectContaining({ labels: { source: 'prometheus', reason: 'unavailable' }, value: 2 }),
    ]);
    const durations = (await metrics.sourceQueryDuration.get()).values.find((v) =>
      v.metricName?.endsWith('_count'),
    );
    expect(durations?.value).toBe(3);
  });

  it("retries stay within the caller's deadline: a backoff longer than the deadline is cut short", async () => {
    server = await startFakeServer(() => ({ status: 503, body: 'Service Unavailable' }));
    const source = createPrometheusSource(sourceSchema.parse({ url: server.url }), {
      dispatcher,
      resilience: { retries: 2, retryInitialDelayMs: 5_000, retryMaxDelayMs: 5_000 },
    });
    const started = performance.now();
    await expect(source.query('up', T, AbortSignal.timeout(200))).rejects.toMatchObject({
      reason: 'aborted',
    });
    expect(performance.now() - started).toBeLessThan(1_500);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.requests).toHaveLength(1);
  });

  it('gives up after the bounded retries, and never retries a query error', async () => {
    server = await startFakeServer((req) =>
      req.form.get('query') === 'bad('
        ? promError('bad_data', 'parse error', 400)
        : { status: 500, body: 'x' },
    );
    const source = createPrometheusSource(sourceSchema.parse({ url: server.url }), {
      dispatcher,
      resilience: { retries: 2, retryInitialDelayMs: 1, retryMaxDelayMs: 5 },
    });
    await expect(source.query('up', T)).rejects.toMatchObject({ reason: 'http_5xx' });
    expect(server.requests).toHaveLength(3);
    await expect(source.query('bad(', T)).rejects.toBeInstanceOf(QueryError);
    expect(server.requests).toHaveLength(4);
  });

  it('opens the circuit after consecutive failures, then lets a trial through after the half-open delay', async () => {
    let healthy = false;
    server = await startFakeServer(() =>
      healthy ? vector([{}, '1']) : { status: 503, body: 'Service Unavailable' },
    );
    const metrics = createMetrics({ version: 'test', defaultMetrics: false });
    const source = createPrometheusSource(sourceSchema.parse({ url: server.url }), {
      dispatcher,
      metrics,
      resilience: { retries: 0, breakerThreshold: 3, halfOpenAfterMs: 200 },
    });
    for (let i = 0; i < 3; i++)
      await expect(source.query('up', T)).rejects.toMatchObject({ reason: 'unavailable' });
    await expect(source.query('up', T)).rejects.toMatchObject({ reason: 'circuit_open' });
    expect(server.requests).toHaveLength(3); // the open circuit did not call the server
    const open = (await metrics.sourceErrors.get()).values.find((v) => v.labels.reason === 'circuit_open');
    expect(open?.value).toBe(1);

    healthy = true;
    await new Promise((resolve) => setTimeout(resolve, 250)); // cockatiel reads Date.now for the half-open delay
    await expect(source.query('up', T)).resolves.toMatchObject({ value: 1 });
    expect(server.requests).toHaveLength(4);
  });
});

describe('isOnline', () => {
  it('is online when /-/ready answers 200 and reports the build version', async () => {
    server = await startFakeServer((req) =>
      req.path === '/-/ready'
        ? { body: 'Prometheus Server is Ready.\n', contentType: 'text/plain' }
        : promSuccess({ version: '2.42.0+ds', revision: 'x' }),
    );
    const source = createPrometheusSource(sourceSchema.parse({ url: server.url }), { dispatcher });
    await expect(source.isOnline()).resolves.toMatchObject({ online: true, version: '2.42.0+ds' });
    expect(server.requests.map((r) => r.path)).toEqual(['/-/ready', '/api/v1/status/buildinfo']);
  });

  it('is offline with the reason while /-/ready answers 503', async () => {
    const { source } = await sourceAnswering({
      status: 503,
      body: 'Service Unavailable',
      contentType: 'text/plain',
    });
    const state = await source.isOnline();
    expect(state.online).toBe(false);
    expect(state.error).toContain('HTTP 503');
  });
});
