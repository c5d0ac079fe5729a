import { Agent, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sloSchema, sourceSchema } from '../../src/config/schema.js';
import { evaluateBurnCheck } from '../../src/evaluator/burn-check.js';
import type { EvaluationContext } from '../../src/evaluator/result.js';
import type { CheckResult } from '../../src/evaluator/types.js';
import { createPrometheusSource } from '../../src/sources/prometheus.js';
import type { SliSource } from '../../src/sources/types.js';
import {
  OpenMetricsWriter,
  type RunningPrometheus,
  skipWithoutPrometheus,
  startPrometheus,
} from '../helpers/prometheus.js';

/*
 * A burn-rate check against a real Prometheus 2.42 reads all its windows (5m … 3d and the budget window) in
 * one query, one series per window: the same check result as one query per window on the same backfilled
 * data — values, no-data windows, clamping to the deploy, and query errors — in one HTTP request.
 */

const T1 = 1_767_312_000; // 2026-01-02T00:00:00Z: evaluated here
const DAY = 86_400;
const STEP = 60;

function history(): string {
  const om = new OpenMetricsWriter();
  const span = { from: T1 - 3 * DAY - 3600, to: T1 + 60, stepSeconds: STEP };
  const shapes: Record<string, { ratio: (t: number) => number; until?: number; rps?: number }> = {
    calm: { ratio: () => 0.001 },
    // 50 % errors for the last 50 minutes: the 1h/5m pair fires.
    burning: { ratio: (t) => (t >= T1 - 3000 ? 0.5 : 0.001) },
    // Stopped 10 minutes ago: the 5m window has no series, the longer ones do.
    stopped: { ratio: () => 0.02, until: T1 - 600 },
    // No traffic at all: 0/0 is NaN in every window.
    idle: { ratio: () => 0, rps: 0 },
  };
  for (const [job, shape] of Object.entries(shapes)) {
    const to = shape.until ?? span.to;
    const rps = shape.rps ?? 10;
    om.counter(
      'requests_total',
      { job, code: '200' },
      { ...span, to, ratePerSecond: (t) => rps * (1 - shape.ratio(t)) },
    );
    om.counter(
      'requests_total',
      { job, code: '500' },
      { ...span, to, ratePerSecond: (t) => rps * shape.ratio(t) },
    );
  }
  return om.toString();
}

/** An Agent that counts the query requests going through it. */
class CountingAgent extends Agent {
  queries = 0;

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (options.path.includes('/api/v1/query')) this.queries++;
    return super.dispatch(options, handler);
  }
}

const AVAILABILITY = {
  name: 'availability',
  bad: 'sum(rate(requests_total{job="{{service}}",code="500"}[{{window}}]))',
  total: 'sum(rate(requests_total{job="{{service}}"}[{{window}}]))',
  target: '99%',
  budgetWindow: '30d',
};

describe.skipIf(skipWithoutPrometheus)('burn-rate check in one Prometheus query', () => {
  let prom: RunningPrometheus;
  let agent: CountingAgent;
  let joined: SliSource;
  let perWindow: SliSource;

  beforeAll(async () => {
    prom = await startPrometheus(history());
    agent = new CountingAgent({ connections: 4 });
    joined = createPrometheusSource(sourceSchema.parse({ url: prom.url, timeout: '5s' }), {
      dispatcher: agent,
    });
    // The same source without the multi-series method: one query per window, as before.
    perWindow = {
      kind: joined.kind,
      query: joined.query,
      queryRange: joined.queryRange,
      isOnline: joined.isOnline,
    };
  }, 60_000);
  afterAll(async () => {
    await prom?.stop();
    await agent?.close();
  });

  const run = async (
    source: SliSource,
    raw: Record<string, unknown>,
    job: string,
    watch: { sinceDeployS: number } | undefined,
  ): Promise<{ check: CheckResult | undefined; queries: number }> => {
    const ctx: EvaluationContext = {
      sources: { prometheus: source },
      at: T1 * 1000,
      deployedAt: (T1 - (watch?.sinceDeployS ?? DAY)) * 1000,
      windowMs: 300_000,
      vars: { service: job },
      ...(watch === undefined ? {} : { postDeployOnly: true }),
    };
    const before = agent.queries;
    const check = await evaluateBurnCheck(sloSchema.parse({ source: 'prometheus', ...raw }), ctx);
    return { check, queries: agent.queries - before };
  };

  it.each([
    ['steady errors pass', 'calm', undefined, 'pass'],
    ['a fast burn fails', 'burning', undefined, 'fail'],
    ['a stopped series leaves 5m without data', 'stopped', undefined, 'inconclusive'],
    ['no traffic (NaN) is no data in every window', 'idle', undefined, 'inconclusive'],
    ['windows clamped to 40 minutes since the deploy', 'burning', { sinceDeployS: 2400 }, 'fail'],
    ['windows clamped to 3 hours since the deploy', 'calm', { sinceDeployS: 10_800 }, 'pass'],
  ] as const)('%s: one query, the same result as one query per window', async (_, job, watch, result) => {
    const one = await run(joined, AVAILABILITY, job, watch);
    const each = await run(perWindow, AVAILABILITY, job, watch);
    expect(one.check?.result).toBe(result);
    expect(one.check).toEqual(each.check);
    expect(one.queries).toBe(1);
    expect(each.queries).toBe(8);
  });

  it('the joined answer holds the per-window values: 0.1× everywhere for steady 0.1 % errors', async () => {
    const { check } = await run(joined, AVAILABILITY, 'calm', undefined);
    for (const window of ['5m', '30m', '1h', '2h', '6h', '1d', '3d'])
      expect(check?.burnRates?.[window]).toBeCloseTo(0.1, 2);
    expect(check?.errorBudgetRemaining).toBeCloseTo(0.9, 2);
  });

  it('the stopped series: 5m null, the rest read', async () => {
    const { check } = await run(joined, AVAILABILITY, 'stopped', undefined);
    expect(check?.burnRates?.['5m']).toBeNull();
    expect(check?.burnRates?.['1h']).toBeCloseTo(2, 1);
  });

  it('a read that returns several series (no sum) falls back to one query per window, with the same errors', async () => {
    const perJob = 'rate(requests_total{code="500"}[{{window}}])';
    const unsummed = { ...AVAILABILITY, bad: perJob, total: perJob };
    const one = await run(joined, unsummed, 'calm', undefined);
    const each = await run(perWindow, unsummed, 'calm', undefined);
    expect(one.check).toEqual(each.check);
    expect(one.check?.explanation).toContain('errors: query error');
    expect(one.queries).toBe(1 + 8);
  });
});
