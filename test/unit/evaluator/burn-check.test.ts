import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { sloSchema } from '../../../src/config/schema.js';
import { parseDurationMs } from '../../../src/config/units.js';
import { evaluateChecks, evaluateSlo } from '../../../src/evaluator/evaluate.js';
import type { EvaluationContext } from '../../../src/evaluator/result.js';
import { NoDataError, type SliSource } from '../../../src/sources/types.js';

const MIN = 60_000;
const START = Date.parse('2026-11-27T00:00:00Z');

/**
 * A source that answers error-ratio queries from a simulated history: constant traffic with an error
 * ratio of `incidentRatio` from `incidentAt` on (and `baseRatio` before). The window comes from the
 * query's `[…]` range, so each burn-rate window sees its own mix of calm and incident.
 */
function simulated(
  incidentAt: number,
  incidentRatio: number,
  baseRatio = 0,
): SliSource & { queries: string[] } {
  const queries: string[] = [];
  return {
    kind: 'prometheus',
    queries,
    async query(query, at) {
      queries.push(query);
      const match = /\[([0-9a-z]+)\]/.exec(query);
      const windowMs = parseDurationMs(match?.[1] ?? '') ?? 0;
      const from = at - windowMs;
      const inIncident = Math.max(0, at - Math.max(from, incidentAt));
      const ratio = (inIncident * incidentRatio + (windowMs - inIncident) * baseRatio) / windowMs;
      return { value: query.startsWith('good:') ? 1 - ratio : ratio, at };
    },
    queryRange: async () => [],
    isOnline: async () => ({ online: true, latencyMs: 0 }),
  };
}

const AVAILABILITY = sloSchema.parse({
  name: 'availability',
  source: 'prometheus',
  bad: 'sum(rate(http_requests_total{code=~"5.."}[{{window}}]))',
  total: 'sum(rate(http_requests_total[{{window}}]))',
  target: '99.9%',
  budgetWindow: '30d',
});

function ctx(source: SliSource, at: number): EvaluationContext {
  return {
    sources: { prometheus: source },
    at,
    deployedAt: at,
    windowMs: 5 * MIN,
    vars: { service: 'prep-api' },
  };
}

describe('burn-rate check under a virtual clock', () => {
  it('a 2% error ratio (20× burn) fails once the 1h window passes 14.4×, about 43 minutes in', async () => {
    const clock = new ManualClock(START + 3 * 86_400_000);
    const incidentAt = clock.now();
    const source = simulated(incidentAt, 0.02);
    const results: { minute: number; result: string }[] = [];
    for (let minute = 0; minute <= 50; minute += 1) {
      const [check] = await evaluateSlo(AVAILABILITY, ctx(source, clock.now()));
      results.push({ minute, result: check?.result ?? 'none' });
      await clock.advance(MIN);
    }
    const firstFail = results.find((r) => r.result === 'fail')?.minute;
    // 1h window: 20 × t/60 > 14.4 ⇔ t > 43.2 min.
    expect(firstFail).toBe(44);
    // The slow page pair (6h/30m at 6×) fires first and warns: 20 × t/360 > 6 ⇔ t > 108 min — not yet;
    // so before minute 44 everything passes.
    expect(results.slice(0, 44).every((r) => r.result === 'pass')).toBe(true);
  });

  it('reports burn rates per window, the remaining budget and the 1h query', async () => {
    const at = START + 40 * 86_400_000;
    // Incident 2h old at 0.5 %: burn 5× in every window up to 2h.
    const source = simulated(at - 2 * 3_600_000, 0.005, 0.0005);
    const [check] = await evaluateSlo(AVAILABILITY, ctx(source, at));
    expect(check).toMatchObject({
      name: 'availability:burn-rate',
      kind: 'burn-rate',
      objective: { lte: 14.4 },
    });
    expect(check?.burnRates?.['5m']).toBeCloseTo(5, 6);
    expect(check?.burnRates?.['2h']).toBeCloseTo(5, 6);
    expect(check?.burnRates?.['1d']).toBeCloseTo((2 * 5 + 22 * 0.5) / 24, 6);
    // 30d error ratio ≈ 0.0005 + 2h of extra 0.0045 → budget left ≈ 0.4875.
    expect(check?.errorBudgetRemaining).toBeCloseTo(1 - (0.0005 + (0.0045 * 2) / 720) / 0.001, 6);
    expect(check?.value).toBeCloseTo(5, 6);
    expect(check?.query).toBe(
      '(sum(rate(http_requests_total{code=~"5.."}[1h]))) / (sum(rate(http_requests_total[1h])))',
    );
    expect(source.queries).toHaveLength(8);
    expect(check?.explanation).toContain('error budget left');
  });

  it('with a 7d budget window the factors scale down (fast pair at 3.36×)', async () => {
    const at = START + 40 * 86_400_000;
    const weekly = sloSchema.parse({ ...AVAILABILITY, name: 'weekly', target: '99.9%', budgetWindow: '7d' });
    const [check] = await evaluateSlo(
      { ...weekly, target: 0.999 },
      ctx(simulated(at - 3_600_000, 0.004), at),
    );
    expect(check?.objective).toEqual({ lte: 3.36 });
    expect(check?.result).toBe('fail');
  });

  it('a success-ratio query with a gte objective is read as 1 − value', async () => {
    const at = START + 40 * 86_400_000;
    const slo = sloSchema.parse({
      name: 'success',
      source: 'prometheus',
      query: 'good: ratio[{{window}}]',
      objective: { gte: 0.97 },
      target: '99.9%',
      budgetWindow: '30d',
    });
    const checks = await evaluateSlo(slo, ctx(simulated(at - 3 * 3_600_000, 0.02), at));
    expect(checks.map((c) => [c.name, c.result])).toEqual([
      ['success', 'pass'],
      ['success:burn-rate', 'fail'],
    ]);
  });

  it('no data in the fast windows makes the burn-rate check inconclusive', async () => {
    const source: SliSource = {
      kind: 'prometheus',
      query: async () => {
        throw new NoDataError('empty result');
      },
      queryRange: async () => [],
      isOnline: async () => ({ online: true, latencyMs: 0 }),
    };
    const [check] = await evaluateSlo(AVAILABILITY, ctx(source, START));
    expect(check).toMatchObject({ result: 'inconclusive', errorBudgetRemaining: null });
  });

  it('burnRates: false in the context skips burn-rate checks', async () => {
    const checks = await evaluateChecks([AVAILABILITY], { ...ctx(simulated(0, 0), START), burnRates: false });
    expect(checks).toEqual([]);
  });

  it('evaluateChecks keeps definition order', async () => {
    const a = sloSchema.parse({
      name: 'a',
      source: 'prometheus',
      query: 'x[{{window}}]',
      objective: { lt: 1 },
    });
    const b = sloSchema.parse({ name: 'b', source: 'loki', query: 'x', objective: { lt: 1 } });
    const checks = await evaluateChecks([a, b, AVAILABILITY], {
      ...ctx(simulated(0, 0), START),
      concurrency: 2,
    });
    expect(checks.map((c) => c.name)).toEqual(['a', 'b', 'availability:burn-rate']);
  });
});
