import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SloConfig, sloSchema, sourceSchema } from '../../src/config/schema.js';
import { evaluateSlo } from '../../src/evaluator/evaluate.js';
import type { EvaluationContext } from '../../src/evaluator/result.js';
import type { CheckResult } from '../../src/evaluator/types.js';
import { createPrometheusSource } from '../../src/sources/prometheus.js';
import {
  OpenMetricsWriter,
  type RunningPrometheus,
  skipWithoutPrometheus,
  startPrometheus,
  type TrafficShape,
  writeServiceTraffic,
} from '../helpers/prometheus.js';

/*
 * The evaluator library against a real Prometheus 2.42 with backfilled history: the baseline modes the
 * CLI test does not cover (offset, proportion, mann-whitney on a fixed rate range), burn rates over
 * 5m…3d windows, and the no-data rules (zero traffic gives NaN, a series that stopped gives nothing).
 */

const T0 = 1_767_312_000; // 2026-01-02T00:00:00Z: the deploy
const T1 = T0 + 1800; // evaluated 30 minutes later
const DAY = 86_400;
const STEP = 60; // one sample a minute keeps a 3-day backfill small

const FAST = { '0.1': 0.5, '0.25': 0.9, '0.5': 0.99, '1': 1 };
const SLOW = { '0.1': 0.1, '0.25': 0.3, '0.5': 0.8, '1': 1 };
const healthy: TrafficShape = { requestsPerSecond: 10, errorRatio: 0.002, latency: FAST };
const regressed: TrafficShape = { requestsPerSecond: 6, errorRatio: 0.05, latency: SLOW };

function history(): string {
  const om = new OpenMetricsWriter();
  const span = { from: T0 - DAY - 3600, to: T1 + 600, stepSeconds: STEP };
  writeServiceTraffic(om, { ...span, job: 'good', shape: healthy });
  writeServiceTraffic(om, { ...span, job: 'bad', shape: (t) => (t < T0 ? healthy : regressed) });
  writeServiceTraffic(om, { ...span, job: 'idle', shape: { ...healthy, requestsPerSecond: 0 } });
  writeServiceTraffic(om, {
    from: T0 - 3600,
    to: T0 + 60,
    stepSeconds: STEP,
    job: 'stopped',
    shape: healthy,
  });
  // Burn-rate history: 3 days at 0.1 % errors; `burning` turns to 50 % errors 50 minutes before T1.
  const burn = { from: T1 - 3 * DAY - 3600, to: T1 + 60, stepSeconds: STEP };
  for (const job of ['calm', 'burning']) {
    const errorRatio = (t: number) => (job === 'burning' && t >= T1 - 3000 ? 0.5 : 0.001);
    om.counter(
      'requests_total',
      { job, code: '200' },
      { ...burn, ratePerSecond: (t) => 10 * (1 - errorRatio(t)) },
    );
    om.counter('requests_total', { job, code: '500' }, { ...burn, ratePerSecond: (t) => 10 * errorRatio(t) });
  }
  return om.toString();
}

describe.skipIf(skipWithoutPrometheus)('evaluator against a real Prometheus', () => {
  let prom: RunningPrometheus;
  let dispatcher: Agent;
  let ctx: (job: string) => EvaluationContext;

  beforeAll(async () => {
    prom = await startPrometheus(history());
    dispatcher = new Agent({ connections: 4 });
    const source = createPrometheusSource(sourceSchema.parse({ url: prom.url, timeout: '5s' }), {
      dispatcher,
    });
    ctx = (job) => ({
      sources: { prometheus: source },
      at: T1 * 1000,
      deployedAt: T0 * 1000,
      windowMs: 300_000,
      vars: { service: job },
    });
  }, 60_000);
  afterAll(async () => {
    await prom?.stop();
    await dispatcher?.close();
  });

  const check = async (raw: Record<string, unknown>, job: string): Promise<CheckResult> => {
    const slo: SloConfig = sloSchema.parse({ source: 'prometheus', ...raw });
    const [first] = await evaluateSlo(slo, ctx(job));
    if (!first) throw new Error('no check result');
    return first;
  };

  const THROUGHPUT_OFFSET = {
    name: 'throughput',
    query: 'sum(rate(http_requests_total{job="{{service}}"}[{{window}}]))',
    baseline: { from: 'offset', offset: '1d', maxDecrease: '10%' },
  };

  it.each([
    ['good', 'pass'],
    ['bad', 'fail'],
  ])('offset 1d: %s deploy → %s', async (job, result) => {
    const c = await check(THROUGHPUT_OFFSET, job);
    expect(c.result).toBe(result);
    expect(c.baseline).toBeCloseTo(10, 1);
    expect(c.explanation).toContain('(offset 1d)');
  });

  const SUCCESS_PROPORTION = {
    name: 'success',
    good: 'sum(increase(http_requests_total{job="{{service}}",code="200"}[{{window}}]))',
    total: 'sum(increase(http_requests_total{job="{{service}}"}[{{window}}]))',
    baseline: { from: 'pre-deploy', test: 'proportion', direction: 'decrease', effectSize: '1%' },
  };

  it.each([
    ['good', 'pass'],
    ['bad', 'fail'],
  ])('proportion test on good/total: %s deploy → %s', async (job, result) => {
    const c = await check(SUCCESS_PROPORTION, job);
    expect(c.result).toBe(result);
    expect(c.explanation).toMatch(/ratio 0\.9\d+ vs 0\.998/);
  });

  const LATENCY_MW = {
    name: 'p95-latency',
    query:
      'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="{{service}}"}[2m])))',
    window: '30m',
    baseline: { from: 'pre-deploy', test: 'mann-whitney', step: '2m', effectSize: '10%' },
  };

  it.each([
    ['good', 'pass'],
    ['bad', 'fail'],
  ])('mann-whitney on p95 samples: %s deploy → %s', async (job, result) => {
    const c = await check(LATENCY_MW, job);
    expect(c.result).toBe(result);
    expect(c.samples).toBeGreaterThanOrEqual(14);
  });

  const ERROR_RATE = {
    name: 'error-rate',
    query:
      'sum(rate(http_requests_total{job="{{service}}",code="500"}[{{window}}])) / sum(rate(http_requests_total{job="{{service}}"}[{{window}}]))',
    objective: { lt: 0.01 },
  };

  it('zero traffic (0/0 = NaN) is inconclusive, never pass', async () => {
    const c = await check(ERROR_RATE, 'idle');
    expect(c.result).toBe('inconclusive');
    expect(c.explanation).toMatch(/^no data/);
  });

  it('a series that stopped is no data, and onNoData decides', async () => {
    expect((await check(ERROR_RATE, 'stopped')).result).toBe('inconclusive');
    expect((await check({ ...ERROR_RATE, onNoData: 'fail' }, 'stopped')).result).toBe('fail');
  });

  const AVAILABILITY = {
    name: 'availability',
    bad: 'sum(rate(requests_total{job="{{service}}",code="500"}[{{window}}]))',
    total: 'sum(rate(requests_total{job="{{service}}"}[{{window}}]))',
    target: '99%',
    budgetWindow: '30d',
  };

  it('burn rates: steady 0.1 % errors against a 99 % target pass at 0.1×', async () => {
    const c = await check(AVAILABILITY, 'calm');
    expect(c).toMatchObject({ name: 'availability:burn-rate', kind: 'burn-rate', result: 'pass' });
    for (const window of ['5m', '30m', '1h', '2h', '6h', '1d', '3d'])
      expect(c.burnRates?.[window]).toBeCloseTo(0.1, 2);
    expect(c.errorBudgetRemaining).toBeCloseTo(0.9, 2);
  });

  it('burn rates: 50 % errors for 50 minutes fire the 1h/5m page pair', async () => {
    const c = await check(AVAILABILITY, 'burning');
    expect(c.result).toBe('fail');
    expect(c.burnRates?.['5m']).toBeCloseTo(50, 0);
    // 1h: 50 minutes at 50×, 10 at 0.1× ≈ 41.7×
    expect(c.burnRates?.['1h']).toBeGreaterThan(38);
    expect(c.burnRates?.['1h']).toBeLessThan(45);
    expect(c.explanation).toContain('error budget burning fast');
  });
});
