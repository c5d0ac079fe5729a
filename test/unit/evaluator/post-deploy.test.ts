import { describe, expect, it } from 'vitest';
import { type SloConfig, sloSchema } from '../../../src/config/schema.js';
import { parseDurationMs } from '../../../src/config/units.js';
import { evaluateSlo } from '../../../src/evaluator/evaluate.js';
import type { EvaluationContext } from '../../../src/evaluator/result.js';
import type { CheckResult } from '../../../src/evaluator/types.js';
import { describeWindow, judgedWindow, warmUp } from '../../../src/evaluator/window.js';
import type { Sample, SliSource } from '../../../src/sources/types.js';

/*
 * DESIGN §6 "post-deploy data only": during a watch every window that judges the new version is clamped to
 * start no earlier than the deploy; with less than minWindow of post-deploy data the check is warming up.
 * The sources here answer from a simulated history — an error ratio per second — so a window that reaches
 * before the deploy sees the old version's errors, as a real Prometheus would.
 */

const MIN = 60_000;
const DEPLOYED = Date.parse('2026-11-27T12:00:00Z');
const ISO = (ms: number) => new Date(ms).toISOString();

interface Call {
  query: string;
  at?: number;
  start?: number;
  end?: number;
  stepMs?: number;
}

/** Error ratio `before` until the deploy and `after` from it; the ratio over a window is the time-weighted mix. */
function hotfix(
  before: number,
  after: number,
  options: { kind?: SliSource['kind']; scrapeIntervalMs?: number } = {},
): SliSource & { calls: Call[] } {
  const calls: Call[] = [];
  const ratio = (query: string, at: number): number => {
    const windowMs = parseDurationMs(/\[([0-9a-z]+)\]/.exec(query)?.[1] ?? '') ?? 0;
    const from = at - windowMs;
    const post = Math.max(0, Math.min(windowMs, at - Math.max(from, DEPLOYED)));
    const mix = (post * after + (windowMs - post) * before) / windowMs;
    return query.startsWith('good') ? 1 - mix : mix;
  };
  const source: SliSource & { calls: Call[] } = {
    kind: options.kind ?? 'prometheus',
    calls,
    async query(query, at) {
      calls.push({ query, at });
      return { value: ratio(query, at), at };
    },
    async queryRange(query, start, end, stepMs) {
      calls.push({ query, start, end, stepMs });
      const samples: Sample[] = [];
      for (let at = start; at <= end; at += stepMs) samples.push({ at, value: ratio(query, at) });
      return samples;
    },
    isOnline: async () => ({ online: true, latencyMs: 0 }),
  };
  if (options.scrapeIntervalMs !== undefined)
    Object.assign(source, { scrapeIntervalMs: options.scrapeIntervalMs });
  return source;
}

function slo(raw: Record<string, unknown>): SloConfig {
  return sloSchema.parse({ source: 'prometheus', ...raw });
}

function watchCtx(
  sources: EvaluationContext['sources'],
  sinceDeployMs: number,
  extra: Partial<EvaluationContext> = {},
): EvaluationContext {
  return {
    sources,
    at: DEPLOYED + sinceDeployMs,
    deployedAt: DEPLOYED,
    windowMs: 5 * MIN,
    vars: { service: 'prep-api', version: '1.4.3', previousVersion: '1.4.2' },
    postDeployOnly: true,
    ...extra,
  };
}

async function main(definition: SloConfig, ctx: EvaluationContext): Promise<CheckResult> {
  const checks = await evaluateSlo(definition, ctx);
  const check = checks.find((c) => c.kind === 'slo');
  if (check === undefined) throw new Error('no main check');
  return check;
}

async function burn(definition: SloConfig, ctx: EvaluationContext): Promise<CheckResult> {
  const checks = await evaluateSlo(definition, ctx);
  const check = checks.find((c) => c.kind === 'burn-rate');
  if (check === undefined) throw new Error('no burn-rate check');
  return check;
}

const ERROR_RATE = slo({
  name: 'error-rate',
  query: 'sum(rate(errors[{{window}}])) / sum(rate(requests[{{window}}]))',
  objective: { lt: 0.01 },
  critical: true,
});

describe('the judged window is clamped to the deploy', () => {
  it('the hotfix: 20 % errors until the deploy, 0 after, passes 2 minutes in (over [120s], not [5m])', async () => {
    const source = hotfix(0.2, 0);
    const check = await main(ERROR_RATE, watchCtx({ prometheus: source }, 2 * MIN));
    expect(source.calls).toEqual([
      { query: 'sum(rate(errors[120s])) / sum(rate(requests[120s]))', at: DEPLOYED + 2 * MIN },
    ]);
    expect(check).toMatchObject({
      result: 'pass',
      value: 0,
      range: { from: ISO(DEPLOYED), to: ISO(DEPLOYED + 2 * MIN) },
    });
    expect(check.warmingUp).toBeFalsy();
    expect(check.explanation).toBe('0 is < 0.01 (over the 2m since the deploy)');
  });

  it('the same evaluation without clamping (continuous evaluation) fails on the old version’s errors', async () => {
    const source = hotfix(0.2, 0);
    const check = await main(
      ERROR_RATE,
      watchCtx({ prometheus: source }, 2 * MIN, { postDeployOnly: false }),
    );
    expect(source.calls[0]?.query).toBe('sum(rate(errors[5m])) / sum(rate(requests[5m]))');
    expect(check.result).toBe('fail');
    expect(check.value).toBeCloseTo(0.12, 9);
    expect(check.range).toEqual({ from: ISO(DEPLOYED - 3 * MIN), to: ISO(DEPLOYED + 2 * MIN) });
  });

  it('a clamped window renders as whole seconds', async () => {
    const source = hotfix(0, 0);
    const check = await main(ERROR_RATE, watchCtx({ prometheus: source }, 90_700));
    expect(source.calls[0]?.query).toBe('sum(rate(errors[90s])) / sum(rate(requests[90s]))');
    expect(check.range).toEqual({ from: ISO(DEPLOYED + 700), to: ISO(DEPLOYED + 90_700) });
    expect(check.explanation).toContain('over the 1m30s since the deploy');
  });

  it('once the deploy is a whole window back the configured window applies, and the explanation names the range', async () => {
    const source = hotfix(0.2, 0);
    const check = await main(ERROR_RATE, watchCtx({ prometheus: source }, 7 * MIN));
    expect(source.calls[0]?.query).toBe('sum(rate(errors[5m])) / sum(rate(requests[5m]))');
    expect(check.range).toEqual({ from: ISO(DEPLOYED + 2 * MIN), to: ISO(DEPLOYED + 7 * MIN) });
    expect(check.explanation).toBe('0 is < 0.01 (over 12:02:00–12:07:00Z)');
  });

  it('an SLO window is clamped the same way', async () => {
    const source = hotfix(0, 0);
    await main({ ...ERROR_RATE, window: 30 * MIN }, watchCtx({ prometheus: source }, 10 * MIN));
    expect(source.calls[0]?.query).toBe('sum(rate(errors[600s])) / sum(rate(requests[600s]))');
  });

  it('a pre-deploy baseline compares the same (clamped) length, ending at the deploy', async () => {
    // count_over_time, increase: a value that grows with the window is only comparable over equal lengths.
    const source = hotfix(0.01, 0.01);
    const check = await main(
      slo({
        name: 'error-logs',
        query: 'sum(count_over_time({app="{{service}}"}[{{window}}]))',
        baseline: { from: 'pre-deploy', maxIncrease: '50%' },
      }),
      watchCtx({ prometheus: source }, 3 * MIN),
    );
    expect(source.calls.map((c) => [c.query, c.at])).toEqual([
      ['sum(count_over_time({app="prep-api"}[180s]))', DEPLOYED + 3 * MIN],
      ['sum(count_over_time({app="prep-api"}[180s]))', DEPLOYED],
    ]);
    expect(check.result).toBe('pass');
  });
});

describe('warm-up: less than minWindow of post-deploy data', () => {
  it.each([
    ['the default is twice the source’s scrape interval (15s → 30s)', {}, {}, '20s of 30s'],
    ['a slower source waits longer (scrapeInterval 1m → 2m)', { scrapeIntervalMs: 60_000 }, {}, '20s of 2m'],
    ['watch.minWindow overrides the source default', {}, { minWindowMs: MIN }, '20s of 1m'],
  ])('%s', async (_, sourceOptions, extra, shown) => {
    const source = hotfix(0.2, 0.2, sourceOptions);
    const check = await main(ERROR_RATE, watchCtx({ prometheus: source }, 20_000, extra));
    expect(check).toMatchObject({
      result: 'inconclusive',
      warmingUp: true,
      explanation: `not enough post-deploy data (${shown})`,
      range: { from: ISO(DEPLOYED), to: ISO(DEPLOYED + 20_000) },
    });
    expect(source.calls).toEqual([]);
  });

  it('an SLO minWindow overrides the watch’s', async () => {
    const source = hotfix(0, 0);
    const check = await main(
      { ...ERROR_RATE, minWindow: 3 * MIN },
      watchCtx({ prometheus: source }, 2 * MIN, { minWindowMs: MIN }),
    );
    expect(check).toMatchObject({ result: 'inconclusive', warmingUp: true });
    expect(check.explanation).toBe('not enough post-deploy data (2m of 3m)');
  });

  it('the probes source rolls up per minute: 2 minutes by default', async () => {
    const probes = hotfix(0, 0, { kind: 'probes' });
    const health = slo({
      name: 'health',
      source: 'probes',
      sli: { probe: 'health', measure: 'successRatio' },
      objective: { gte: 0.99 },
    });
    const early = await main(health, watchCtx({ probes }, 90_000));
    expect(early.explanation).toBe('not enough post-deploy data (1m30s of 2m)');
    expect(probes.calls).toEqual([]);
    await main(health, watchCtx({ probes }, 150_000));
    expect(probes.calls[0]?.query).toBe('health:successRatio[150s]');
  });

  it('warm-up is never a pass, whatever onNoData says, and never a fail', async () => {
    const pass = await main(
      { ...ERROR_RATE, onNoData: 'pass' },
      watchCtx({ prometheus: hotfix(0, 0) }, 5_000),
    );
    const fail = await main(
      { ...ERROR_RATE, onNoData: 'fail' },
      watchCtx({ prometheus: hotfix(1, 1) }, 5_000),
    );
    expect([pass.result, fail.result]).toEqual(['inconclusive', 'inconclusive']);
  });

  it('continuous evaluation has no warm-up: it judges the configured window as before', async () => {
    const source = hotfix(0.2, 0);
    const check = await main(ERROR_RATE, watchCtx({ prometheus: source }, 20_000, { postDeployOnly: false }));
    expect(check.result).toBe('fail');
    expect(check.warmingUp).toBeFalsy();
  });
});

describe('statistical tests on post-deploy samples', () => {
  const LATENCY = slo({
    name: 'p95-shift',
    query: 'histogram_quantile(0.95, sum by (le) (rate(b[{{window}}])))',
    baseline: { from: 'pre-deploy', test: 'mann-whitney', step: '30s' },
  });

  it('mann-whitney samples only the time since the deploy; each sample covers its own step', async () => {
    const source = hotfix(0.2, 0.2);
    const check = await main(LATENCY, watchCtx({ prometheus: source }, 2 * MIN));
    // Samples of [30s] from deploy + 30s on: none of them reaches before the deploy.
    expect(source.calls).toEqual([
      {
        query: expect.stringContaining('[30s]'),
        start: DEPLOYED + 30_000,
        end: DEPLOYED + 2 * MIN,
        stepMs: 30_000,
      },
      // The old version: the configured 5m before the deploy, sampled the same way.
      {
        query: expect.stringContaining('[30s]'),
        start: DEPLOYED - 5 * MIN + 30_000,
        end: DEPLOYED,
        stepMs: 30_000,
      },
    ]);
    // 4 samples < minSamples 5 while the window fills: warm-up, not blindness.
    expect(check).toMatchObject({
      result: 'inconclusive',
      warmingUp: true,
      samples: 4,
      range: { from: ISO(DEPLOYED), to: ISO(DEPLOYED + 2 * MIN) },
    });
    expect(check.explanation).toContain('too few samples');
  });

  it('below minSamples with the whole window post-deploy is inconclusive, not warm-up', async () => {
    const source = hotfix(0.2, 0.2);
    const check = await main(
      {
        ...LATENCY,
        baseline: { ...(LATENCY.baseline as NonNullable<SloConfig['baseline']>), minSamples: 20 },
      },
      watchCtx({ prometheus: source }, 20 * MIN),
    );
    expect(check.result).toBe('inconclusive');
    expect(check.warmingUp).toBeFalsy();
  });

  it('the proportion test counts events since the deploy, against the configured window before it', async () => {
    const source = hotfix(0.2, 0);
    const check = await main(
      slo({
        name: 'errors',
        bad: 'bad_count[{{window}}]',
        total: 'total_count[{{window}}]',
        baseline: { from: 'pre-deploy', test: 'proportion', minTotal: 1 },
      }),
      watchCtx({ prometheus: source }, 2 * MIN),
    );
    expect(source.calls.map((c) => [c.query, c.at])).toEqual([
      ['bad_count[120s]', DEPLOYED + 2 * MIN],
      ['total_count[120s]', DEPLOYED + 2 * MIN],
      ['bad_count[5m]', DEPLOYED],
      ['total_count[5m]', DEPLOYED],
    ]);
    expect(check.range).toEqual({ from: ISO(DEPLOYED), to: ISO(DEPLOYED + 2 * MIN) });
  });

  it('the proportion test below minTotal while the window fills is warm-up', async () => {
    const counts: SliSource = {
      ...hotfix(0, 0),
      async query(query, at) {
        return { value: query.startsWith('total') ? (at === DEPLOYED ? 1000 : 10) : 0, at };
      },
    };
    const check = await main(
      slo({
        name: 'errors',
        bad: 'bad_count[{{window}}]',
        total: 'total_count[{{window}}]',
        baseline: { from: 'pre-deploy', test: 'proportion' },
      }),
      watchCtx({ prometheus: counts }, 2 * MIN),
    );
    expect(check).toMatchObject({ result: 'inconclusive', warmingUp: true });
  });
});

describe('burn rates on post-deploy windows', () => {
  const AVAILABILITY = slo({
    name: 'availability',
    bad: 'sum(rate(errors[{{window}}]))',
    total: 'sum(rate(requests[{{window}}]))',
    target: '99%',
    budgetWindow: '30d',
    critical: true,
  });

  it('each burn window is clamped to the deploy: the hotfix passes 10 minutes in', async () => {
    const source = hotfix(0.2, 0);
    const check = await burn(AVAILABILITY, watchCtx({ prometheus: source }, 10 * MIN));
    expect(source.calls.map((c) => c.query)).toEqual([
      '(sum(rate(errors[5m]))) / (sum(rate(requests[5m])))',
      '(sum(rate(errors[600s]))) / (sum(rate(requests[600s])))',
      '(sum(rate(errors[600s]))) / (sum(rate(requests[600s])))',
      '(sum(rate(errors[600s]))) / (sum(rate(requests[600s])))',
      '(sum(rate(errors[600s]))) / (sum(rate(requests[600s])))',
      '(sum(rate(errors[600s]))) / (sum(rate(requests[600s])))',
      '(sum(rate(errors[600s]))) / (sum(rate(requests[600s])))',
      // The error budget is the SLO's over its whole period, old versions included: not clamped.
      '(sum(rate(errors[30d]))) / (sum(rate(requests[30d])))',
    ]);
    expect(check).toMatchObject({
      result: 'pass',
      range: { from: ISO(DEPLOYED + 5 * MIN), to: ISO(DEPLOYED + 10 * MIN) },
    });
    expect(check.burnRates?.['1h']).toBe(0);
    expect(check.query).toBe('(sum(rate(errors[600s]))) / (sum(rate(requests[600s])))');
    expect(check.explanation).toContain('windows clamped to the 10m since the deploy');
  });

  it('without clamping the same history fails the 1h/5m pair on the old version’s errors', async () => {
    const source = hotfix(0.2, 0);
    // 30 s in: the 5m window is 90 % old version (18×), the 1h window nearly all of it (20×).
    const check = await burn(
      AVAILABILITY,
      watchCtx({ prometheus: source }, 30_000, { postDeployOnly: false }),
    );
    expect(check.result).toBe('fail');
  });

  it('a burn-rate check does not inherit critical from its SLO', async () => {
    const check = await burn(AVAILABILITY, watchCtx({ prometheus: hotfix(0, 0) }, 10 * MIN));
    expect(check.critical).toBeFalsy();
    const continuous = await burn(
      AVAILABILITY,
      watchCtx({ prometheus: hotfix(0, 0) }, 10 * MIN, { postDeployOnly: false }),
    );
    expect(continuous.critical).toBeFalsy();
  });

  it('before minWindow the burn-rate check is warming up and queries nothing', async () => {
    const source = hotfix(0.2, 0.2);
    const check = await burn(AVAILABILITY, watchCtx({ prometheus: source }, 20_000));
    expect(check).toMatchObject({
      result: 'inconclusive',
      warmingUp: true,
      explanation: 'not enough post-deploy data (20s of 30s)',
      range: { from: ISO(DEPLOYED), to: ISO(DEPLOYED + 20_000) },
    });
    expect(source.calls).toEqual([]);
  });

  it('its range is the clamped short window of the page pair', async () => {
    const check = await burn(AVAILABILITY, watchCtx({ prometheus: hotfix(0, 0) }, 3 * MIN));
    expect(check.range).toEqual({ from: ISO(DEPLOYED), to: ISO(DEPLOYED + 3 * MIN) });
    expect(check.burnRates?.['5m']).toBe(0);
  });
});

describe('window arithmetic', () => {
  it('a range across midnight UTC names its dates', () => {
    const at = Date.parse('2026-11-28T00:02:00Z');
    expect(describeWindow(judgedWindow(5 * MIN, { at, deployedAt: 0 }))).toBe(
      'over 2026-11-27T23:57:00Z–2026-11-28T00:02:00Z',
    );
  });

  it('an evaluation before the deploy (clock skew) is warm-up, never a query over a negative range', () => {
    const times = { at: DEPLOYED - 5_000, deployedAt: DEPLOYED, postDeployOnly: true };
    expect(judgedWindow(5 * MIN, times)).toMatchObject({ lengthMs: 0, from: DEPLOYED - 5_000 });
    expect(warmUp(times, 30_000)?.explanation).toBe('not enough post-deploy data (0s of 30s)');
  });

  it('minWindow: 0 still waits for one whole second of data', () => {
    const times = { at: DEPLOYED + 400, deployedAt: DEPLOYED, postDeployOnly: true };
    expect(warmUp(times, 0)?.result).toBe('inconclusive');
    expect(warmUp({ ...times, at: DEPLOYED + 1000 }, 0)).toBeUndefined();
  });
});
