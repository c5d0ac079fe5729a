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
  writeServiceTraffic,
} from '../helpers/prometheus.js';

/*
 * DESIGN §6 against a real Prometheus 2.42 with backfilled history (15 s points):
 * - post-deploy data only: a hotfix deployed into 20 % errors (0 after) is warming up before minWindow and
 *   passes after it, where the old, unclamped windows failed it on the errors it fixed;
 * - ±Inf is a value: a drain time that divides by a stalled rate is +Inf and fails, whatever onNoData says.
 */

const T0 = 1_767_398_400; // 2026-01-03T00:00:00Z: the deploy
const HOUR = 3600;

const LATENCY = { '0.1': 0.5, '0.25': 0.9, '0.5': 0.99, '1': 1 };
/** Every request slower than the highest finite bucket (1 s). */
const OFF_THE_SCALE = { '0.1': 0, '0.25': 0, '0.5': 0, '1': 0 };

function history(): string {
  const om = new OpenMetricsWriter();
  const span = { from: T0 - 2 * HOUR, to: T0 + HOUR };
  writeServiceTraffic(om, {
    ...span,
    job: 'hotfix',
    shape: (t) => ({ requestsPerSecond: 10, errorRatio: t < T0 ? 0.2 : 0, latency: LATENCY }),
  });
  writeServiceTraffic(om, {
    ...span,
    job: 'slow',
    shape: (t) => ({ requestsPerSecond: 10, errorRatio: 0, latency: t < T0 ? LATENCY : OFF_THE_SCALE }),
  });
  // A worker whose deploy stalled it: 50 jobs queued, none processed since the deploy.
  om.gauge('queue_depth', { job: 'worker' }, { ...span, value: 50 });
  om.counter('jobs_processed_total', { job: 'worker' }, { ...span, ratePerSecond: (t) => (t < T0 ? 5 : 0) });
  return om.toString();
}

describe.skipIf(skipWithoutPrometheus)('post-deploy windows and ±Inf against a real Prometheus', () => {
  let prom: RunningPrometheus;
  let dispatcher: Agent;
  let evaluate: (
    raw: Record<string, unknown>,
    sinceDeploySeconds: number,
    postDeployOnly?: boolean,
  ) => Promise<CheckResult[]>;

  beforeAll(async () => {
    prom = await startPrometheus(history());
    dispatcher = new Agent({ connections: 4 });
    const source = createPrometheusSource(sourceSchema.parse({ url: prom.url, timeout: '5s' }), {
      dispatcher,
    });
    evaluate = (raw, sinceDeploySeconds, postDeployOnly = true) => {
      const slo: SloConfig = sloSchema.parse({ source: 'prometheus', ...raw });
      const ctx: EvaluationContext = {
        sources: { prometheus: source },
        at: (T0 + sinceDeploySeconds) * 1000,
        deployedAt: T0 * 1000,
        windowMs: 300_000,
        vars: { service: 'hotfix' },
        postDeployOnly,
      };
      return evaluateSlo(slo, ctx);
    };
  }, 60_000);
  afterAll(async () => {
    await prom?.stop();
    await dispatcher?.close();
  });

  const ERROR_RATE = {
    name: 'error-rate',
    query:
      'sum(rate(http_requests_total{job="{{service}}",code="500"}[{{window}}])) / sum(rate(http_requests_total{job="{{service}}"}[{{window}}]))',
    objective: { lt: 0.01 },
    critical: true,
  };

  it('the hotfix 20 s in: warming up (minWindow 30 s = 2 × scrapeInterval), never pass, never fail', async () => {
    const [check] = await evaluate(ERROR_RATE, 20);
    expect(check).toMatchObject({
      result: 'inconclusive',
      warmingUp: true,
      explanation: 'not enough post-deploy data (20s of 30s)',
    });
  });

  it('the hotfix 2 minutes in passes on [120s] of the new version alone', async () => {
    const [check] = await evaluate(ERROR_RATE, 120);
    expect(check?.result).toBe('pass');
    expect(check?.value).toBe(0);
    expect(check?.query).toContain('[120s]');
    expect(check?.range).toEqual({
      from: new Date(T0 * 1000).toISOString(),
      to: new Date((T0 + 120) * 1000).toISOString(),
    });
    expect(check?.warmingUp).toBeUndefined();
  });

  it('the same evaluation unclamped (the old behaviour) fails it on the errors it fixed', async () => {
    const [check] = await evaluate(ERROR_RATE, 120, false);
    expect(check?.result).toBe('fail');
    expect(check?.query).toContain('[5m]');
    // 3 of the 5 minutes are the old version's 20 %.
    expect(check?.value).toBeCloseTo(0.12, 2);
  });

  const AVAILABILITY = {
    name: 'availability',
    bad: 'sum(rate(http_requests_total{job="{{service}}",code="500"}[{{window}}]))',
    total: 'sum(rate(http_requests_total{job="{{service}}"}[{{window}}]))',
    target: '99%',
    budgetWindow: '30d',
    critical: true,
  };

  it('burn rates of the hotfix a minute in: clamped they pass; unclamped the 1h/5m pair fires on the old errors', async () => {
    const [clamped] = await evaluate(AVAILABILITY, 60);
    expect(clamped).toMatchObject({ kind: 'burn-rate', result: 'pass' });
    expect(clamped?.burnRates?.['1h']).toBe(0);
    expect(clamped?.critical).toBeFalsy();
    const [unclamped] = await evaluate(AVAILABILITY, 60, false);
    expect(unclamped?.result).toBe('fail');
    expect(unclamped?.burnRates?.['1h']).toBeGreaterThan(14.4);
  });

  const DRAIN_TIME = {
    name: 'queue-drain-seconds',
    query: 'sum(queue_depth{job="worker"}) / sum(rate(jobs_processed_total{job="worker"}[{{window}}]))',
    objective: { lt: 600 },
    onNoData: 'pass',
  };

  it('+Inf (a queue that no longer drains) is a value: it fails lt even with onNoData: pass', async () => {
    const [check] = await evaluate(DRAIN_TIME, 5 * 60);
    expect(check?.result).toBe('fail');
    expect(check?.value).toBe(Number.POSITIVE_INFINITY);
    expect(check?.violation).toBe('+Inf ≥ objective 600');
    expect(check?.explanation).toContain('+Inf is not < 600');
    expect(check?.explanation).toContain('+Inf: the query divided by zero');
    // JSON (the API, the store) carries no Infinity: the explanation does.
    const sent = JSON.parse(JSON.stringify(check)) as CheckResult;
    expect(sent).toMatchObject({ result: 'fail', value: null });
    expect(sent.explanation).toContain('+Inf');
  });

  it('a P95 above the highest finite bucket: Prometheus 2.42 answers that bucket’s bound, which fails lt: 0.5', async () => {
    const [check] = await evaluate(
      {
        name: 'p95-latency',
        query:
          'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="slow"}[{{window}}])))',
        objective: { lt: 0.5 },
        onNoData: 'pass',
      },
      5 * 60,
    );
    expect(check?.result).toBe('fail');
    expect(check?.value).toBe(1);
  });

  // Prometheus 2.42 answers +Inf from histogram_quantile only for φ > 1 (above, it saturates instead); a
  // real +Inf answer from a histogram_quantile query must still be judged as the worst latency there is.
  it('+Inf from a histogram_quantile query is judged and explained, and fails lt: 0.5 despite onNoData: pass', async () => {
    const [check] = await evaluate(
      {
        name: 'p-beyond',
        query:
          'histogram_quantile(1.5, sum by (le) (rate(http_request_duration_seconds_bucket{job="slow"}[{{window}}])))',
        objective: { lt: 0.5 },
        onNoData: 'pass',
      },
      5 * 60,
    );
    expect(check?.result).toBe('fail');
    expect(check?.value).toBe(Number.POSITIVE_INFINITY);
    expect(check?.explanation).toContain('+Inf: histogram_quantile answers +Inf for a quantile above 1');
  });
});
