import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { sloSchema } from '../../../src/config/schema.js';
import { createContinuousEvaluator } from '../../../src/evaluator/continuous.js';
import { NoDataError, type SliSource } from '../../../src/sources/types.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';

const START = Date.parse('2026-11-27T10:00:00Z');

const SLOS = [
  sloSchema.parse({
    name: 'error-rate',
    source: 'prometheus',
    query: 'errors[{{window}}]',
    objective: { lt: 0.01 },
    target: '99.9%',
    budgetWindow: '30d',
  }),
  sloSchema.parse({
    name: 'throughput',
    source: 'prometheus',
    query: 'rps[{{window}}]',
    baseline: { from: 'pre-deploy', maxDecrease: '10%' },
  }),
];

function source(values: {
  errors: () => number;
  rps: (at: number) => number | Error;
}): SliSource & { times: number[] } {
  const times: number[] = [];
  return {
    kind: 'prometheus',
    times,
    async query(query, at) {
      times.push(at);
      if (query.startsWith('errors')) return { value: values.errors(), at };
      const v = values.rps(at);
      if (v instanceof Error) throw v;
      return { value: v, at };
    },
    queryRange: async () => [],
    isOnline: async () => ({ online: true, latencyMs: 0 }),
  };
}

function setup(
  errors: () => number,
  rps: (at: number) => number | Error = () => 100,
  service: () => string = () => 'prep-api',
  phaseMs?: number,
) {
  const clock = new ManualClock(START);
  const metrics = createMetrics({ version: 'test', defaultMetrics: false });
  const src = source({ errors, rps });
  const continuous = createContinuousEvaluator({
    slos: () => SLOS,
    sources: { prometheus: src },
    clock,
    metrics,
    logger: silentLogger(),
    intervalMs: 60_000,
    windowMs: 300_000,
    vars: () => ({ service: service() }),
    ...(phaseMs === undefined ? {} : { phaseMs }),
  });
  return { clock, metrics, src, continuous };
}

describe('continuous evaluation', () => {
  it('evaluates every interval on the virtual clock and stops on abort', async () => {
    const { clock, src, continuous } = setup(() => 0.0005);
    const controller = new AbortController();
    const done = continuous.run(controller.signal);
    await clock.advance(3 * 60_000);
    controller.abort();
    await done;
    const ticks = [...new Set(src.times.filter((t) => t >= START))].sort();
    expect(ticks).toEqual([START, START + 60_000, START + 120_000, START + 180_000]);
  });

  it("a fleet service's phase delays its first evaluation, then it keeps the interval from there", async () => {
    const { clock, src, continuous } = setup(() => 0.0005, undefined, undefined, 25_000);
    const controller = new AbortController();
    const done = continuous.run(controller.signal);
    await clock.advance(2 * 60_000);
    controller.abort();
    await done;
    const ticks = [...new Set(src.times.filter((t) => t >= START))].sort();
    expect(ticks).toEqual([START + 25_000, START + 85_000]);
  });

  it('keeps the latest state per SLO for GET /api/v1/slos', async () => {
    const { continuous } = setup(
      () => 0.0005,
      (at) => (at === START - 300_000 ? 100 : 80),
    );
    await continuous.evaluateOnce();
    const states = continuous.getStates();
    expect(states.map((s) => [s.slo, s.result])).toEqual([
      ['error-rate', 'pass'],
      ['throughput', 'fail'],
    ]);
    expect(states[0]).toMatchObject({ value: 0.0005, objective: { lt: 0.01 }, burnRateResult: 'pass' });
    expect(states[0]?.burnRates['1h']).toBeCloseTo(0.5, 6);
    expect(states[0]?.errorBudgetRemaining).toBeCloseTo(0.5, 6);
    expect(states[1]).toMatchObject({ value: 80, baseline: 100, errorBudgetRemaining: null });
  });

  it('exports the §8 SLO metrics', async () => {
    const { metrics, continuous } = setup(() => 0.02);
    await continuous.evaluateOnce();
    const text = await metrics.registry.metrics();
    expect(text).toContain('vigil_slo_value{service="prep-api",slo="error-rate"} 0.02');
    expect(text).toContain('vigil_slo_objective{service="prep-api",slo="error-rate"} 0.01');
    expect(text).toContain('vigil_slo_result{service="prep-api",slo="error-rate",result="fail"} 1');
    expect(text).toContain('vigil_slo_result{service="prep-api",slo="error-rate",result="pass"} 0');
    // 0.02 / (1 − 99.9 %) = 20×, up to the float rounding of 99.9 % itself.
    expect(text).toMatch(
      /vigil_slo_burn_rate\{service="prep-api",slo="error-rate",window="1h"\} (20|19\.9999\d*)\n/,
    );
    expect(text).toMatch(
      /vigil_slo_error_budget_remaining_ratio\{service="prep-api",slo="error-rate"\} -(19|18\.9999\d*)\n/,
    );
    expect(text).toContain('vigil_slo_baseline_value{service="prep-api",slo="throughput"} 100');
  });

  it('a reload that renames the service moves the SLO series to the new service label', async () => {
    let service = 'prep-api';
    const { metrics, continuous } = setup(
      () => 0.02,
      () => 100,
      () => service,
    );
    await continuous.evaluateOnce();
    service = 'prep-web';
    await continuous.evaluateOnce();
    const text = await metrics.registry.metrics();
    expect(text).not.toMatch(/^vigil_slo_\w+\{service="prep-api"/m);
    expect(text).toContain('vigil_slo_value{service="prep-web",slo="error-rate"} 0.02');
    expect(text).toContain('vigil_slo_result{service="prep-web",slo="throughput",result="pass"} 1');
  });

  it('an SLI without data drops its value instead of keeping a stale one', async () => {
    let fail = false;
    const { metrics, continuous } = setup(
      () => 0.001,
      () => (fail ? new NoDataError('empty') : 100),
    );
    await continuous.evaluateOnce();
    expect(await metrics.registry.metrics()).toContain(
      'vigil_slo_value{service="prep-api",slo="throughput"} 100',
    );
    fail = true;
    await continuous.evaluateOnce();
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('vigil_slo_value{service="prep-api",slo="throughput"}');
    expect(text).toContain('vigil_slo_result{service="prep-api",slo="throughput",result="inconclusive"} 1');
  });

  it('a burn-rate query that is not a ratio is inconclusive, not a huge burn', async () => {
    const { continuous } = setup(() => 250);
    await continuous.evaluateOnce();
    expect(continuous.getStates()[0]).toMatchObject({
      burnRateResult: 'inconclusive',
      errorBudgetRemaining: null,
    });
  });
});
