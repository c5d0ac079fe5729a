import { describe, expect, it } from 'vitest';
import { type SloConfig, sloSchema } from '../../../src/config/schema.js';
import { evaluateSlo } from '../../../src/evaluator/evaluate.js';
import type { EvaluationContext } from '../../../src/evaluator/result.js';
import {
  type InstantValue,
  NoDataError,
  QueryError,
  type Sample,
  type SliSource,
  SourceUnavailableError,
} from '../../../src/sources/types.js';

// In-memory sources: the real clients have their own tests against real servers; here only the
// evaluator's sequencing, rendering and judging are under test.

const AT = Date.parse('2026-11-27T12:00:00Z');
const DEPLOYED = Date.parse('2026-11-27T11:30:00Z');
const MIN = 60_000;
const DAY = 86_400_000;

type Answer = number | Error;
interface Call {
  query: string;
  at?: number;
  start?: number;
  end?: number;
  stepMs?: number;
}

function fakeSource(
  kind: SliSource['kind'],
  instant: (query: string, at: number) => Answer,
  range: (query: string, start: number, end: number) => number[] | Error = () =>
    new NoDataError('no range data'),
): SliSource & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    kind,
    calls,
    async query(query, at): Promise<InstantValue> {
      calls.push({ query, at });
      const answer = instant(query, at);
      if (answer instanceof Error) throw answer;
      return { value: answer, at };
    },
    async queryRange(query, start, end, stepMs): Promise<Sample[]> {
      calls.push({ query, start, end, stepMs });
      const answer = range(query, start, end);
      if (answer instanceof Error) throw answer;
      return answer.map((value, i) => ({ at: start + i * stepMs, value }));
    },
    async isOnline() {
      return { online: true, latencyMs: 1 };
    },
  };
}

function slo(raw: Record<string, unknown>): SloConfig {
  return sloSchema.parse({ source: 'prometheus', ...raw });
}

function ctx(
  sources: EvaluationContext['sources'],
  extra: Partial<EvaluationContext> = {},
): EvaluationContext {
  return {
    sources,
    at: AT,
    deployedAt: DEPLOYED,
    windowMs: 5 * MIN,
    vars: { service: 'prep-api', version: '1.4.2', previousVersion: '1.4.1' },
    ...extra,
  };
}

const ERROR_RATE = slo({
  name: 'error-rate',
  query:
    'sum(rate(http_requests_total{job="{{service}}",code=~"5.."}[{{window}}])) / sum(rate(http_requests_total{job="{{service}}"}[{{window}}]))',
  objective: { lt: 0.01 },
  critical: true,
});

async function one(definition: SloConfig, context: EvaluationContext) {
  const [check] = await evaluateSlo(definition, context);
  if (check === undefined) throw new Error('no check');
  return check;
}

describe('objective checks', () => {
  it('a value above the objective fails with the numbers and the rendered query', async () => {
    const prom = fakeSource('prometheus', () => 0.034);
    const check = await one(ERROR_RATE, ctx({ prometheus: prom }));
    expect(check).toMatchObject({
      name: 'error-rate',
      kind: 'slo',
      result: 'fail',
      value: 0.034,
      objective: { lt: 0.01 },
      baseline: null,
      samples: 1,
      explanation: '0.034 is not < 0.01 (over 11:55:00–12:00:00Z)',
      violation: '0.034 ≥ objective 0.01',
      critical: true,
      shadow: false,
      evaluatedAt: '2026-11-27T12:00:00.000Z',
    });
    expect(check.query).toBe(
      'sum(rate(http_requests_total{job="prep-api",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="prep-api"}[5m]))',
    );
    expect(prom.calls).toEqual([{ query: check.query, at: AT }]);
  });

  it('a value within the objective passes', async () => {
    const check = await one(ERROR_RATE, ctx({ prometheus: fakeSource('prometheus', () => 0.002) }));
    expect(check.result).toBe('pass');
  });

  it('an SLO window overrides the evaluation window', async () => {
    const prom = fakeSource('prometheus', () => 0.002);
    await one(
      slo({ name: 'x', query: 'rate(x[{{window}}])', objective: { lt: 1 }, window: '15m' }),
      ctx({ prometheus: prom }),
    );
    expect(prom.calls[0]?.query).toBe('rate(x[15m])');
  });

  it('the probes source gets its probe:measure[window] query', async () => {
    const probes = fakeSource('probes', () => 0.95);
    const check = await one(
      slo({
        name: 'health-availability',
        source: 'probes',
        sli: { probe: 'health', measure: 'successRatio' },
        objective: { gte: 0.99 },
      }),
      ctx({ probes }),
    );
    expect(probes.calls[0]?.query).toBe('health:successRatio[5m]');
    expect(check).toMatchObject({
      result: 'fail',
      explanation: '0.95 is not ≥ 0.99 (over 11:55:00–12:00:00Z)',
      query: 'health:successRatio[5m]',
    });
  });

  it('shadow checks are marked', async () => {
    const check = await one(
      slo({ name: 'x', query: 'x', objective: { lt: 1 }, mode: 'shadow' }),
      ctx({ prometheus: fakeSource('prometheus', () => 2) }),
    );
    expect(check).toMatchObject({ result: 'fail', shadow: true });
  });
});

describe('errors and missing data (DESIGN §6)', () => {
  const withNoData = (onNoData: string) => slo({ name: 'logs', query: 'x', objective: { lt: 5 }, onNoData });
  it.each([
    [
      'a query error is inconclusive with the reason',
      new QueryError('parse error at char 5'),
      'inconclusive',
      'query error: parse error at char 5',
    ],
    [
      'an unreachable source is inconclusive',
      new SourceUnavailableError('connect', 'connect ECONNREFUSED 127.0.0.1:9090'),
      'inconclusive',
      'prometheus unavailable: connect ECONNREFUSED',
    ],
    [
      'no data is inconclusive by default',
      new NoDataError('empty result'),
      'inconclusive',
      'no data: empty result',
    ],
    ['NaN is no data', Number.NaN, 'inconclusive', 'no data: value is NaN'],
    // ±Inf is a value, judged against the objective: see infinity.test.ts.
    ['+Inf is a value, judged', Number.POSITIVE_INFINITY, 'fail', '+Inf is not < 5'],
  ])('%s', async (_, answer, result, explanation) => {
    const check = await one(
      withNoData('inconclusive'),
      ctx({ prometheus: fakeSource('prometheus', () => answer) }),
    );
    expect(check.result).toBe(result);
    expect(check.explanation).toContain(explanation);
  });

  it.each([
    ['pass', 'pass', 'no data (onNoData: pass): empty result'],
    ['fail', 'fail', 'no data (onNoData: fail): empty result'],
  ])('onNoData: %s applies to no data', async (onNoData, result, explanation) => {
    const check = await one(
      withNoData(onNoData),
      ctx({ prometheus: fakeSource('prometheus', () => new NoDataError('empty result')) }),
    );
    expect(check.result).toBe(result);
    expect(check.explanation).toBe(`${explanation} (over 11:55:00–12:00:00Z)`);
  });

  it('onNoData never applies to errors', async () => {
    const prom = fakeSource('prometheus', () => new SourceUnavailableError('timeout', 'timed out after 10s'));
    const check = await one(withNoData('pass'), ctx({ prometheus: prom }));
    expect(check.result).toBe('inconclusive');
  });

  it('a source missing from the config is inconclusive', async () => {
    const check = await one(slo({ name: 'logs', source: 'loki', query: 'x', objective: { lt: 1 } }), ctx({}));
    expect(check).toMatchObject({
      result: 'inconclusive',
      explanation: 'source loki is not configured (sources.loki is absent or its url empty)',
    });
  });

  it('{{version}} outside a watch is inconclusive, never an empty label', async () => {
    const check = await one(
      slo({ name: 'v', query: 'x{version="{{version}}"}', objective: { lt: 1 } }),
      ctx({ prometheus: fakeSource('prometheus', () => 0) }, { vars: { service: 'prep-api' } }),
    );
    expect(check.result).toBe('inconclusive');
    expect(check.explanation).toContain('{{version}}');
  });

  it('an aborted evaluation rethrows instead of judging', async () => {
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    const prom = fakeSource('prometheus', () => new SourceUnavailableError('aborted', 'aborted'));
    await expect(
      evaluateSlo(ERROR_RATE, ctx({ prometheus: prom }, { signal: controller.signal })),
    ).rejects.toThrow();
  });
});

describe('window baselines', () => {
  const THROUGHPUT = slo({
    name: 'throughput',
    query: 'sum(rate(http_requests_total{job="prep-api"}[{{window}}]))',
    baseline: { from: 'pre-deploy', maxDecrease: '10%' },
  });

  it('pre-deploy reads the same query over the window ending at the deploy', async () => {
    const prom = fakeSource('prometheus', (_, at) => (at === DEPLOYED ? 100 : 80));
    const check = await one(THROUGHPUT, ctx({ prometheus: prom }));
    expect(prom.calls.map((c) => c.at)).toEqual([AT, DEPLOYED]);
    expect(check).toMatchObject({ result: 'fail', value: 80, baseline: 100, baselineFrom: 'pre-deploy' });
    expect(check.explanation).toBe(
      '80 is -20% vs baseline 100 (pre-deploy), beyond maxDecrease -10% (over 11:55:00–12:00:00Z)',
    );
  });

  it('offset shifts the window back by the offset', async () => {
    const prom = fakeSource('prometheus', (_, at) => (at === AT - 7 * DAY ? 100 : 95));
    const check = await one(
      slo({ name: 'bookings', query: 'x', baseline: { from: 'offset', offset: '7d', maxDecrease: '10%' } }),
      ctx({ prometheus: prom }),
    );
    expect(check.result).toBe('pass');
    expect(check.explanation).toContain('(offset 7d)');
  });

  it('no data in the baseline window makes the relative check inconclusive', async () => {
    const prom = fakeSource('prometheus', (_, at) =>
      at === DEPLOYED ? new NoDataError('empty result') : 80,
    );
    const check = await one(THROUGHPUT, ctx({ prometheus: prom }));
    expect(check).toMatchObject({ result: 'inconclusive', baseline: null });
    expect(check.explanation).toBe(
      'no baseline value (pre-deploy): no data: empty result (over 11:55:00–12:00:00Z)',
    );
  });

  it('with onNoData: pass an empty baseline window reads as 0', async () => {
    const logs = slo({
      name: 'error-logs',
      source: 'loki',
      query: 'x',
      baseline: { from: 'pre-deploy', maxIncrease: 5 },
      onNoData: 'pass',
    });
    const loki = fakeSource('loki', (_, at) => (at === DEPLOYED ? new NoDataError('empty') : 12));
    const check = await one(logs, ctx({ loki }));
    expect(check).toMatchObject({ result: 'fail', baseline: 0 });
    expect(check.explanation).toContain('baseline 0 (pre-deploy, no data read as 0)');
  });

  it('a failing objective is not hidden by a missing baseline', async () => {
    const prom = fakeSource('prometheus', (_, at) => (at === DEPLOYED ? new NoDataError('empty') : 0.9));
    const check = await one(
      slo({
        name: 'p95',
        query: 'x',
        objective: { lt: 0.5 },
        baseline: { from: 'pre-deploy', maxIncrease: '20%' },
      }),
      ctx({ prometheus: prom }),
    );
    expect(check.result).toBe('fail');
  });

  it('the baseline query renders {{version}} as the previous version', async () => {
    const prom = fakeSource('prometheus', (q) => (q.includes('1.4.1') ? 100 : 100));
    await one(
      slo({
        name: 't',
        query: 'x{version="{{version}}"}',
        baseline: { from: 'pre-deploy', maxDecrease: '10%' },
      }),
      ctx({ prometheus: prom }),
    );
    expect(prom.calls.map((c) => c.query)).toEqual(['x{version="1.4.2"}', 'x{version="1.4.1"}']);
  });
});

describe('statistical baselines', () => {
  const LATENCY = slo({
    name: 'p95-latency',
    query: 'histogram_quantile(0.95, sum by (le) (rate(b[{{window}}])))',
    baseline: { from: 'pre-deploy', test: 'mann-whitney', step: '30s', effectSize: '10%' },
  });
  const base = [0.2, 0.21, 0.19, 0.2, 0.22, 0.18, 0.2, 0.21, 0.19, 0.2, 0.2];

  it('mann-whitney samples both windows with a range query and fails a doubled latency', async () => {
    const prom = fakeSource(
      'prometheus',
      () => 0,
      (_, start) => (start === DEPLOYED - 5 * MIN ? base : base.map((v) => v * 2)),
    );
    const check = await one(LATENCY, ctx({ prometheus: prom }));
    expect(prom.calls).toEqual([
      { query: expect.stringContaining('[5m]'), start: AT - 5 * MIN, end: AT, stepMs: 30_000 },
      { query: expect.stringContaining('[5m]'), start: DEPLOYED - 5 * MIN, end: DEPLOYED, stepMs: 30_000 },
    ]);
    expect(check).toMatchObject({ result: 'fail', value: 0.4, baseline: 0.2, samples: 11 });
    expect(check.explanation).toContain('11 current vs 11 baseline samples');
  });

  it('mann-whitney passes an unchanged latency', async () => {
    const prom = fakeSource(
      'prometheus',
      () => 0,
      () => base,
    );
    expect((await one(LATENCY, ctx({ prometheus: prom }))).result).toBe('pass');
  });

  it('too few samples is inconclusive', async () => {
    const prom = fakeSource(
      'prometheus',
      () => 0,
      () => [0.2, 0.3],
    );
    const check = await one(LATENCY, ctx({ prometheus: prom }));
    expect(check.result).toBe('inconclusive');
    expect(check.explanation).toContain('minSamples 5');
  });

  it('the proportion test reads events and totals now and in the baseline window', async () => {
    const payments = slo({
      name: 'payments-success',
      good: 'sum(increase(payments_total{status="ok"}[{{window}}]))',
      total: 'sum(increase(payments_total[{{window}}]))',
      baseline: { from: 'offset', offset: '7d', test: 'proportion', direction: 'decrease' },
    });
    const prom = fakeSource('prometheus', (q, at) => {
      const then = at === AT - 7 * DAY;
      if (q.includes('status="ok"')) return then ? 995 : 940;
      return 1000;
    });
    const check = await one(payments, ctx({ prometheus: prom }));
    expect(prom.calls).toHaveLength(4);
    expect(check).toMatchObject({ result: 'fail', value: 0.94, baseline: 0.995, samples: 1000 });
    expect(check.explanation).toContain('940/1000 vs 995/1000 (offset 7d)');
  });

  it('missing bad events with a total present count as zero events', async () => {
    const errors = slo({
      name: 'errors',
      bad: 'sum(increase(x{code=~"5.."}[{{window}}]))',
      total: 'sum(increase(x[{{window}}]))',
      baseline: { from: 'pre-deploy', test: 'proportion' },
    });
    const prom = fakeSource('prometheus', (q) => (q.includes('5..') ? new NoDataError('empty') : 500));
    const check = await one(errors, ctx({ prometheus: prom }));
    expect(check).toMatchObject({ result: 'pass', value: 0, baseline: 0 });
  });
});
