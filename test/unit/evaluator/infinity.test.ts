import { describe, expect, it } from 'vitest';
import { sloSchema } from '../../../src/config/schema.js';
import { evaluateSlo } from '../../../src/evaluator/evaluate.js';
import type { EvaluationContext } from '../../../src/evaluator/result.js';
import type { CheckResult } from '../../../src/evaluator/types.js';
import { NoDataError, type SliSource, SourceUnavailableError } from '../../../src/sources/types.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { toStoredResult } from '../../../src/watch/records.js';

/*
 * DESIGN §6: only an empty result or NaN is "no data"; ±Inf is a value, compared with the objective and
 * explained. histogram_quantile answers +Inf when the quantile lies above the highest finite bucket: the
 * worst latency there is, which `onNoData: pass` must never let through.
 */

const AT = Date.parse('2026-11-27T12:00:00Z');
const DEPLOYED = Date.parse('2026-11-27T11:30:00Z');

function answering(instant: number | Error, range: number[] = []): SliSource {
  return {
    kind: 'prometheus',
    async query(_q, at) {
      if (instant instanceof Error) throw instant;
      return { value: instant, at };
    },
    async queryRange(_q, start, _end, stepMs) {
      return range.map((value, i) => ({ at: start + i * stepMs, value }));
    },
    isOnline: async () => ({ online: true, latencyMs: 0 }),
  };
}

function ctx(source: SliSource): EvaluationContext {
  return {
    sources: { prometheus: source },
    at: AT,
    deployedAt: DEPLOYED,
    windowMs: 300_000,
    vars: { service: 'prep-api' },
  };
}

const P95 = {
  name: 'p95-latency',
  source: 'prometheus',
  query: 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[{{window}}])))',
  objective: { lt: 0.5 },
  onNoData: 'pass',
};

async function one(raw: Record<string, unknown>, source: SliSource): Promise<CheckResult> {
  const [check] = await evaluateSlo(sloSchema.parse(raw), ctx(source));
  if (check === undefined) throw new Error('no check');
  return check;
}

describe('±Inf is a value (DESIGN §6)', () => {
  it('+Inf from histogram_quantile fails lt: 0.5 even with onNoData: pass, and says why', async () => {
    const check = await one(P95, answering(Number.POSITIVE_INFINITY));
    expect(check.result).toBe('fail');
    expect(check.value).toBe(Number.POSITIVE_INFINITY);
    expect(check.violation).toBe('+Inf ≥ objective 0.5');
    expect(check.explanation).toContain('+Inf is not < 0.5');
    expect(check.explanation).toContain(
      '+Inf: histogram_quantile answers +Inf for a quantile above 1 (the worst value there is)',
    );
  });

  it('-Inf passes an upper bound as the number it is, explained', async () => {
    const check = await one({ ...P95, query: 'x / y' }, answering(Number.NEGATIVE_INFINITY));
    expect(check.result).toBe('pass');
    expect(check.explanation).toContain('-Inf is < 0.5');
    expect(check.explanation).toContain('-Inf: the query divided by zero');
  });

  it('+Inf passes a gte objective: it is ≥ every bound', async () => {
    const check = await one(
      { name: 'throughput', source: 'prometheus', query: 'a / b', objective: { gte: 10 } },
      answering(Number.POSITIVE_INFINITY),
    );
    expect(check.result).toBe('pass');
  });

  it('NaN is still no data, where onNoData applies', async () => {
    const check = await one(P95, answering(Number.NaN));
    expect(check.result).toBe('pass');
    expect(check.explanation).toMatch(/^no data \(onNoData: pass\)/);
  });

  it('an empty result is no data, where onNoData applies', async () => {
    const check = await one(P95, answering(new NoDataError('the query returned no series')));
    expect(check.result).toBe('pass');
  });

  it('onNoData never applies to an error', async () => {
    const check = await one(P95, answering(new SourceUnavailableError('timeout', 'timed out')));
    expect(check.result).toBe('inconclusive');
  });

  it('a +Inf value against a finite baseline fails maxIncrease', async () => {
    const source: SliSource = {
      ...answering(0),
      async query(_q, at) {
        return { value: at === DEPLOYED ? 0.2 : Number.POSITIVE_INFINITY, at };
      },
    };
    const check = await one(
      { ...P95, objective: undefined, baseline: { from: 'pre-deploy', maxIncrease: '20%' } },
      source,
    );
    expect(check.result).toBe('fail');
    expect(check.explanation).toContain('+Inf');
  });

  it('mann-whitney keeps +Inf samples as the largest values, and drops NaN ones', async () => {
    const base = [0.2, 0.21, 0.19, 0.2, 0.22, 0.18, 0.2, 0.21, 0.19, 0.2];
    const now = [0.3, Number.POSITIVE_INFINITY, 0.31, Number.POSITIVE_INFINITY, 0.29, 0.3, Number.NaN, 0.33];
    const source: SliSource = {
      ...answering(0),
      async queryRange(_q, start, _end, stepMs) {
        const values = start < DEPLOYED ? base : now;
        return values.map((value, i) => ({ at: start + i * stepMs, value }));
      },
    };
    const check = await one(
      {
        name: 'p95-shift',
        source: 'prometheus',
        query: P95.query,
        baseline: { from: 'pre-deploy', test: 'mann-whitney', effectSize: '10%' },
      },
      source,
    );
    expect(check.result).toBe('fail');
    expect(check.samples).toBe(7);
    expect(check.explanation).toContain('7 current vs 10 baseline samples');
  });
});

describe('a +Inf result survives JSON (CheckResult.value is serialized)', () => {
  it('value becomes null in JSON; the result and the "+Inf" in the explanation remain', async () => {
    const check = await one(P95, answering(Number.POSITIVE_INFINITY));
    const sent = JSON.parse(JSON.stringify(check)) as CheckResult;
    expect(sent.value).toBeNull();
    expect(sent.result).toBe('fail');
    expect(sent.explanation).toContain('+Inf');
    expect(sent.violation).toContain('+Inf');
  });

  it('stored in check_results it still reads as a fail with its explanation', async () => {
    // The SQLite adapter itself, for its connection: the row as stored is what this pins.
    const store = await openSqliteStore(':memory:');
    try {
      const check = await one(P95, answering(Number.POSITIVE_INFINITY));
      await store.watches.insert({
        id: 'w1',
        service: 's',
        version: 'v',
        previousVersion: null,
        status: 'running',
        verdict: 'pending',
        phase: 'bake',
        startedAt: 0,
        updatedAt: 0,
        endedAt: null,
        durationMs: 1,
        phases: [],
        reasons: [],
        state: {},
        supersededBy: null,
      });
      await store.watches.saveResults('w1', 1, [toStoredResult(check)]);
      const row = store.database
        .prepare('SELECT result, value, explanation, data_json FROM check_results WHERE watch_id = ?')
        .get('w1') as { result: string; value: number | null; explanation: string; data_json: string };
      expect(row).toMatchObject({ result: 'fail', value: null });
      expect(row.explanation).toContain('+Inf: histogram_quantile answers +Inf for a quantile above 1');
      expect(JSON.parse(row.data_json)).toMatchObject({ result: 'fail', value: null });
    } finally {
      await store.close();
    }
  });
});
