import { describe, expect, it } from 'vitest';
import type { VigilAlert } from '../../../src/actions/alertmanager.js';
import { rootConfigSchema, sloFileSchema, type VigilConfig } from '../../../src/config/schema.js';
import { raiseSloAlerts } from '../../../src/daemon/slo-alerts.js';
import type { CheckResult } from '../../../src/evaluator/types.js';

const config: VigilConfig = {
  file: 'vigil.yaml',
  root: rootConfigSchema.parse({
    service: 'prep-api',
    target: { baseUrl: 'http://127.0.0.1:8080' },
    storage: { path: ':memory:' },
    alertmanager: { url: 'http://127.0.0.1:9093', externalUrl: 'https://vigil.prep.example/' },
  }),
  probes: [],
  slos: sloFileSchema.parse([
    { name: 'error-rate', source: 'prometheus', query: 'up', objective: { lt: 0.01 }, critical: true },
    {
      name: 'p95',
      source: 'prometheus',
      query: 'up',
      objective: { lt: 0.5 },
      runbook: 'https://wiki.prep.example/p95',
    },
    { name: 'shadowed', source: 'prometheus', query: 'up', objective: { lt: 1 }, mode: 'shadow' },
  ]),
};

function check(name: string, result: CheckResult['result'], shadow = false): CheckResult {
  return {
    name,
    kind: 'slo',
    result,
    value: 0.2,
    objective: { lt: 0.01 },
    baseline: null,
    samples: 1,
    query: 'up',
    explanation: `${name} ${result}`,
    consecutiveFailures: result === 'fail' ? 1 : 0,
    evaluatedAt: '2026-11-27T10:00:00.000Z',
    ...(shadow ? { shadow } : {}),
  };
}

function recorder() {
  const calls: string[] = [];
  const fired: VigilAlert[] = [];
  return {
    calls,
    fired,
    alerts: {
      fire: (key: string, alert: VigilAlert) => {
        calls.push(`fire ${key}`);
        fired.push(alert);
      },
      resolve: (key: string) => {
        calls.push(`resolve ${key}`);
      },
    },
  };
}

describe('SLO alerts from continuous evaluation', () => {
  it('a failing critical check pages, linked back to Vigil', () => {
    const r = recorder();
    raiseSloAlerts(r.alerts, config, [check('error-rate', 'fail')]);
    expect(r.calls).toHaveLength(1);
    expect(r.fired[0]).toMatchObject({
      alertname: 'VigilSLOViolation',
      slo: 'error-rate',
      severity: 'page',
      generatorUrl: 'https://vigil.prep.example/api/v1/slos',
    });
  });

  it("a non-critical check opens a ticket with the check's own runbook", () => {
    const r = recorder();
    raiseSloAlerts(r.alerts, config, [check('p95', 'fail')]);
    expect(r.fired[0]).toMatchObject({ severity: 'ticket', runbookUrl: 'https://wiki.prep.example/p95' });
  });

  it.each([
    ['pass', 1],
    ['warn', 1],
    ['inconclusive', 0],
  ] as const)('a %s result resolves (%d) — no data is not a recovery', (result, resolves) => {
    const r = recorder();
    raiseSloAlerts(r.alerts, config, [check('error-rate', result)]);
    expect(r.calls.filter((c) => c.startsWith('resolve'))).toHaveLength(resolves);
    expect(r.fired).toHaveLength(0);
  });

  it('a failing burn-rate check alerts as its SLO, under its own key', () => {
    const r = recorder();
    raiseSloAlerts(r.alerts, config, [check('error-rate:burn-rate', 'fail')]);
    expect(r.fired[0]).toMatchObject({ slo: 'error-rate:burn-rate', severity: 'page' });
  });

  it('shadow checks and checks that are not SLOs (probes) raise nothing', () => {
    const r = recorder();
    raiseSloAlerts(r.alerts, config, [check('shadowed', 'fail', true), check('probe:journey', 'fail')]);
    expect(r.calls).toEqual([]);
  });
});
