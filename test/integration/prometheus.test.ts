import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceSchema } from '../../src/config/schema.js';
import { createPrometheusSource } from '../../src/sources/prometheus.js';
import { NoDataError, QueryError, type SliSource, SourceUnavailableError } from '../../src/sources/types.js';
import {
  histogramQuantile,
  OpenMetricsWriter,
  type RunningPrometheus,
  skipWithoutPrometheus,
  startPrometheus,
  type TrafficShape,
  writeServiceTraffic,
} from '../helpers/prometheus.js';

/*
 * The Prometheus source against the real 2.42 binary, on history backfilled with known values. Each
 * scenario has its own job label and time range in one shared Prometheus.
 */

const D = 1_767_225_600; // 2026-01-01T00:00:00Z, Unix seconds
const D2 = D + 86_400; // the throughput-drop deploy, a day later
const LATENCY = { '0.1': 0.5, '0.25': 0.9, '0.5': 0.99, '1': 1 };
const steady: TrafficShape = { requestsPerSecond: 10, errorRatio: 0.01, latency: LATENCY };

const errorRatio = (job: string) =>
  `sum(rate(http_requests_total{job="${job}",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="${job}"}[5m]))`;
const throughput = (job: string) => `sum(rate(http_requests_total{job="${job}"}[5m]))`;
const p95 = (job: string) =>
  `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="${job}"}[5m])))`;

function history(): string {
  const om = new OpenMetricsWriter();
  writeServiceTraffic(om, { job: 'steady', from: D - 3600, to: D + 3600, shape: steady });
  writeServiceTraffic(om, {
    job: 'drop',
    from: D2 - 3600,
    to: D2 + 3600,
    shape: (t) => ({ ...steady, requestsPerSecond: t < D2 ? 20 : 5 }),
  });
  writeServiceTraffic(om, { job: 'reset', from: D - 3600, to: D + 3600, shape: steady, resetsAt: [D - 60] });
  writeServiceTraffic(om, { job: 'stops', from: D - 3600, to: D, shape: steady });
  writeServiceTraffic(om, {
    job: 'idle',
    from: D - 3600,
    to: D + 3600,
    shape: { ...steady, requestsPerSecond: 0 },
  });
  return om.toString();
}

const ms = (seconds: number) => seconds * 1000;

describe.skipIf(skipWithoutPrometheus)('Prometheus source against a real Prometheus 2.42', () => {
  const dispatcher = new Agent({ keepAliveTimeout: 1_000 });
  let prom: RunningPrometheus;
  let source: SliSource;

  beforeAll(async () => {
    prom = await startPrometheus(history());
    source = createPrometheusSource(sourceSchema.parse({ url: prom.url, timeout: '5s' }), { dispatcher });
  });
  afterAll(async () => {
    await prom?.stop();
    await dispatcher.close();
  });

  it.each([
    { name: 'error ratio of a steady service', query: errorRatio('steady'), at: D, expected: 0.01 },
    { name: 'throughput of a steady service', query: throughput('steady'), at: D, expected: 10 },
    {
      name: 'P95 from a classic histogram',
      query: p95('steady'),
      at: D,
      expected: histogramQuantile(0.95, LATENCY),
    },
    { name: 'throughput before the drop', query: throughput('drop'), at: D2 - 60, expected: 20 },
    { name: 'throughput after the drop', query: throughput('drop'), at: D2 + 600, expected: 5 },
    {
      name: 'a counter reset inside the window does not spike the rate',
      query: throughput('reset'),
      at: D,
      expected: 10,
    },
  ])('instant: $name at an explicit time', async ({ query, at, expected }) => {
    const answer = await source.query(query, ms(at));
    expect(answer.at).toBe(ms(at));
    expect(answer.value).toBeCloseTo(expected, 9);
  });

  it('range: the points of the drop, aligned to the step, each with its known value', async () => {
    const samples = await source.queryRange(throughput('drop'), ms(D2 - 590), ms(D2 + 600), 60_000);
    expect(samples[0]?.at).toBe(ms(D2 - 540)); // start moved up to a multiple of 60 s
    expect(samples.map((s) => (s.at - ms(D2)) / 1000)).toEqual([
      -540, -480, -420, -360, -300, -240, -180, -120, -60, 0, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600,
    ]);
    const at = (offset: number) => samples.find((s) => s.at === ms(D2 + offset))?.value;
    expect(at(-60)).toBeCloseTo(20, 9);
    expect(at(0)).toBeCloseTo(20, 9); // the window (D2-5m, D2] is all pre-deploy
    expect(at(300)).toBeCloseTo(5, 9); // the window (D2, D2+5m] is all post-deploy
    expect(at(120)).toBeCloseTo((3 * 20 + 2 * 5) / 5, 6); // mixed window: 3 minutes at 20, 2 at 5
  });

  it('range: a long window raises the step instead of failing the 11,000-point guard', async () => {
    const samples = await source.queryRange(throughput('steady'), ms(D - 3000), ms(D + 3000), 100);
    expect(samples.length).toBeLessThanOrEqual(11_001);
    expect(samples.length).toBeGreaterThan(10_000);
    for (const sample of samples) expect(sample.value).toBeCloseTo(10, 6);
  });

  it('zero traffic gives NaN, which is no data, never 0 % errors', async () => {
    const error = await source.query(errorRatio('idle'), ms(D)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoDataError);
    expect((error as Error).message).toMatch(/NaN/);
  });

  it('a series that stopped is no data once its last sample is out of the window', async () => {
    await expect(source.query(throughput('stops'), ms(D - 60))).resolves.toMatchObject({
      value: expect.closeTo(10, 6),
    });
    await expect(source.query(throughput('stops'), ms(D + 900))).rejects.toBeInstanceOf(NoDataError);
  });

  it('bad PromQL is a query error with Prometheus’s parse message', async () => {
    const error = await source.query('sum(rate(http_requests_total[5m])', ms(D)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryError);
    expect((error as Error).message).toMatch(/parse error/);
  });

  it('several series where one is expected names them', async () => {
    const error = await source
      .query('rate(http_requests_total{job="steady"}[5m])', ms(D))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryError);
    expect((error as Error).message).toContain('{code="200",job="steady"}');
    expect((error as Error).message).toContain('{code="500",job="steady"}');
  });

  it('reports itself online with its version', async () => {
    await expect(source.isOnline()).resolves.toMatchObject({
      online: true,
      version: expect.stringMatching(/^2\./),
    });
  });
});

describe.skipIf(skipWithoutPrometheus)('a stopped Prometheus', () => {
  it('is a source error (connect), not a query error, and offline', async () => {
    const dispatcher = new Agent();
    const prom = await startPrometheus('');
    const source = createPrometheusSource(sourceSchema.parse({ url: prom.url, timeout: '2s' }), {
      dispatcher,
      resilience: { retries: 1, retryInitialDelayMs: 1 },
    });
    await expect(source.query('vector(1)', ms(D))).resolves.toMatchObject({ value: 1 });
    await prom.stop();
    const error = await source.query('vector(1)', ms(D)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceUnavailableError);
    expect((error as SourceUnavailableError).reason).toMatch(/^(connect|socket)$/);
    await expect(source.isOnline()).resolves.toMatchObject({ online: false });
    await dispatcher.close();
  });
});
