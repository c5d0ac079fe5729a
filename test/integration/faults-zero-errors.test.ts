import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { renderQuery } from '../../src/config/query.js';
import { sourceSchema } from '../../src/config/schema.js';
import { createPrometheusSource } from '../../src/sources/prometheus.js';
import { NoDataError, type SliSource } from '../../src/sources/types.js';
import {
  OpenMetricsWriter,
  prometheusMissing,
  type RunningPrometheus,
  skipWithoutPrometheus,
  startPrometheus,
} from '../helpers/prometheus.js';

/*
 * The fault here is a perfect deploy: a service that has never answered 5xx exports no 5xx series at
 * all, so `5xx / total` is an empty vector and the check stays inconclusive for as long as the deploy
 * stays perfect. The shipped error-rate query (slo/prep.yaml) must read that as 0, while no traffic at
 * all stays no data. Real Prometheus, backfilled history; skips without the binary unless
 * VIGIL_REQUIRE_INTEGRATION=1 (then it fails).
 */

const D = 1_767_225_600; // 2026-01-01T00:00:00Z: perfect traffic, 10 requests/s, no 5xx series
const IDLE = D + 86_400; // a day later: the request series exists, at rate 0
const NOTHING = D + 2 * 86_400; // two days later: no series at all

function history(): string {
  const om = new OpenMetricsWriter();
  om.counter(
    'http_requests_total',
    { job: 'prep-api', code: '200' },
    { from: D - 3600, to: D + 3600, ratePerSecond: 10 },
  );
  om.counter(
    'http_requests_total',
    { job: 'prep-api', code: '200' },
    { from: IDLE - 3600, to: IDLE + 3600, ratePerSecond: 0, start: 5_000_000 },
  );
  return om.toString();
}

describe.skipIf(skipWithoutPrometheus)('a deploy with zero errors, against a real Prometheus', () => {
  const dispatcher = new Agent({ keepAliveTimeout: 1_000 });
  let prom: RunningPrometheus;
  let source: SliSource;
  let shipped: string;

  beforeAll(async () => {
    if (prometheusMissing) throw new Error('prometheus is required (VIGIL_REQUIRE_INTEGRATION=1)');
    prom = await startPrometheus(history());
    source = createPrometheusSource(sourceSchema.parse({ url: prom.url, timeout: '5s' }), { dispatcher });
    const config = await loadConfig('vigil.yaml', {});
    const errorRate = config.slos.find((s) => s.name === 'error-rate');
    if (errorRate?.source !== 'prometheus' || errorRate.query === undefined)
      throw new Error('slo/prep.yaml lost its error-rate query');
    shipped = renderQuery(errorRate.query, { windowMs: 300_000, service: 'prep-api' });
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await dispatcher.close();
  });

  it('the shipped error-rate reads 0 while traffic flows and no 5xx series exists', async () => {
    const answer = await source.query(shipped, D * 1000);
    expect(answer.value).toBe(0);
  });

  it('the same ratio without `or vector(0)` is empty there: the fault the rewrite fixes', async () => {
    const unfixed =
      'sum(rate(http_requests_total{job="prep-api",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="prep-api"}[5m]))';
    await expect(source.query(unfixed, D * 1000)).rejects.toBeInstanceOf(NoDataError);
  });

  it.each([
    { name: 'traffic at rate 0 (0/0 = NaN)', at: IDLE },
    { name: 'no request series at all', at: NOTHING },
  ])('no traffic stays no data: $name', async ({ at }) => {
    await expect(source.query(shipped, at * 1000)).rejects.toBeInstanceOf(NoDataError);
  });
});
