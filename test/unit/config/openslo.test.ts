import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError, formatProblem } from '../../../src/errors.js';

describe('OpenSLO v1 import', () => {
  it('converts ratio and threshold SLOs into native checks, {{.window}} into {{window}}', async () => {
    const config = await loadConfig('test/fixtures/config/openslo/vigil.yaml', {});
    expect(config.slos).toEqual([
      expect.objectContaining({
        name: 'checkout-availability',
        description: 'Checkout availability',
        source: 'prometheus',
        bad: 'sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{window}}]))',
        total: 'sum(rate(http_requests_total{job="checkout"}[{{window}}]))',
        target: 0.999,
        budgetWindow: 30 * 86_400_000,
        burnRate: true,
      }),
      expect.objectContaining({
        name: 'checkout-latency',
        description: 'P95 under 500 ms',
        source: 'prometheus',
        query: 'histogram_quantile(0.95, sum by (le) (rate(h_bucket[{{window}}])))',
        objective: { lt: 0.5 },
        target: 0.99,
        budgetWindow: 7 * 86_400_000,
        // a latency is not an error ratio: no burn-rate check on it
        burnRate: false,
      }),
    ]);
  });

  it('reports every field it cannot express instead of dropping it', async () => {
    const error = await loadConfig('test/fixtures/config/invalid-openslo/vigil.yaml', {}).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    const file = 'test/fixtures/config/invalid-openslo/slo/bad.yaml';
    const spec = `${file}:[0].spec`;
    const source = (part: string) => `${spec}.indicator.spec.ratioMetric.${part}.metricSource.type`;
    expect((error as ConfigError).problems.map(formatProblem)).toEqual([
      `${file}:[0].metadata.labels: not supported by the OpenSLO import`,
      `${spec}.alertPolicies: not supported by the OpenSLO import`,
      `${source('good')}: metric source type "Datadog" is not supported (Prometheus or Loki)`,
      `${source('total')}: metric source type "Datadog" is not supported (Prometheus or Loki)`,
      `${spec}.budgetingMethod: "Timeslices" is not supported (Occurrences only)`,
      `${spec}.timeWindow[0].calendar: not supported by the OpenSLO import`,
      `${spec}.timeWindow[0].isRolling: only rolling windows are supported`,
      `${spec}.timeWindow[0].duration: use a rolling duration in m, h, d or w (e.g. 28d)`,
      `${spec}.objectives[0].timeSliceTarget: not supported by the OpenSLO import`,
      `${spec}.objectives[0].timeSliceWindow: not supported by the OpenSLO import`,
      `${file}:[1].kind: kind "AlertPolicy" is not imported (SLO, SLI and DataSource are)`,
    ]);
  });
});
