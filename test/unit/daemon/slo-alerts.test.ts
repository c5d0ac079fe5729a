import { describe, expect, it } from 'vitest';
import type { VigilAlert } from '../../../src/actions/alertmanager.js';
import { ManualClock } from '../../../src/clock.js';
import { rootConfigSchema, sloFileSchema, type VigilConfig } from '../../../src/config/schema.js';
import { raiseSloAlerts, resolveStaleSloAlerts } from '../../../src/daemon/slo-alerts.js';
import { createContinuousEvaluator } from '../../../src/evaluator/continuous.js';
import type { CheckResult } from '../../../src/evaluator/types.js';
import { NoDataError, type SliSource } from '../../../src/sources/types.js';
import type { HeldAlert } from '../../../src/store/port.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { onlyService } from '../../helpers/service.js';

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

function check(
  name: string,
  result: CheckResult['result'],
  shadow = false,
  consecutiveFailures = result === 'fail' ? 3 : 0,
): CheckResult {
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
    consecutiveFailures,
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
  it('a check failing fewer than alertAfter (default 3) evaluations in a row raises nothing yet', () => {
    const r = recorder();
    raiseSloAlerts(r.alerts, onlyService(config), [
      check('error-rate', 'fail', false, 1),
      check('p95', 'fail', false, 2),
    ]);
    expect(r.calls).toEqual([]);
    raiseSloAlerts(r.alerts, onlyService(config), [check('error-rate', 'fail', false, 3)]);
    expect(r.calls).toEqual(['fire slo:prep-api/error-rate']);
  });

  it('a failing critical check pages, linked back to Vigil', () => {
    const r = recorder();
    raiseSloAlerts(r.alerts, onlyService(config), [check('error-rate', 'fail')]);
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
    raiseSloAlerts(r.alerts, onlyService(config), [check('p95', 'fail')]);
    expect(r.fired[0]).toMatchObject({ severity: 'ticket', runbookUrl: 'https://wiki.prep.example/p95' });
  });

  it.each([
    ['pass', 1],
    ['warn', 1],
    ['inconclusive', 0],
  ] as const)('a %s result resolves (%d) — no data is not a recovery', (result, resolves) => {
    const r = recorder();
    raiseSloAlerts(r.alerts, onlyService(config), [check('error-rate', result)]);
    expect(r.calls.filter((c) => c.startsWith('resolve'))).toHaveLength(resolves);
    expect(r.fired).toHaveLength(0);
  });

  it('a failing burn-rate check alerts as its SLO, under its own key', () => {
    const r = recorder();
    raiseSloAlerts(r.alerts, onlyService(config), [check('error-rate:burn-rate', 'fail')]);
    expect(r.fired[0]).toMatchObject({ slo: 'error-rate:burn-rate', severity: 'page' });
  });

  it('shadow checks and checks that are not SLOs (probes) raise nothing', () => {
    const r = recorder();
    raiseSloAlerts(r.alerts, onlyService(config), [
      check('shadowed', 'fail', true),
      check('probe:journey', 'fail'),
    ]);
    expect(r.calls).toEqual([]);
  });
});

describe('alertAfter: VigilSLOViolation like a rule with `for:`, over real continuous evaluations', () => {
  const START = Date.parse('2026-11-27T10:00:00Z');
  const slos = sloFileSchema.parse([
    { name: 'error-rate', source: 'prometheus', query: 'errors', objective: { lt: 0.01 } },
    { name: 'p95', source: 'prometheus', query: 'p95', objective: { lt: 0.5 }, alertAfter: 1 },
  ]);
  const withSlos: VigilConfig = { ...config, slos };

  /** Each evaluation answers the next value of each query; null is no data (inconclusive). */
  function run(values: { errors: (number | null)[]; p95?: (number | null)[] }) {
    const clock = new ManualClock(START);
    let evaluation = -1;
    const source: SliSource = {
      kind: 'prometheus',
      async query(query, at) {
        const series = query === 'errors' ? values.errors : (values.p95 ?? []);
        const value = evaluation < series.length ? series[evaluation] : 0;
        if (value === null || value === undefined) throw new NoDataError('empty result');
        return { value, at };
      },
      queryRange: async () => [],
      isOnline: async () => ({ online: true, latencyMs: 0 }),
    };
    const r = recorder();
    const continuous = createContinuousEvaluator({
      slos: () => slos,
      sources: { prometheus: source },
      clock,
      metrics: createMetrics({ version: 't', defaultMetrics: false }),
      logger: silentLogger(),
      intervalMs: 60_000,
      windowMs: 300_000,
      vars: () => ({ service: 'prep-api' }),
      onEvaluation: (_states, checks) => raiseSloAlerts(r.alerts, onlyService(withSlos), checks),
    });
    return {
      r,
      continuous,
      /** Runs the next evaluation and returns the alert calls it made (error-rate's, unless `all`). */
      async next(all = false): Promise<string[]> {
        evaluation++;
        const before = r.calls.length;
        await continuous.evaluateOnce();
        await clock.advance(60_000);
        return r.calls.slice(before).filter((c) => all || c.endsWith('error-rate'));
      },
    };
  }

  it('fires on the third failure in a row, not before; resolves when the check passes again', async () => {
    const { next, continuous } = run({ errors: [0.05, 0.05, 0.05, 0.05, 0.001] });
    expect(await next()).toEqual([]);
    expect(await next()).toEqual([]);
    expect(await next()).toEqual(['fire slo:prep-api/error-rate']);
    expect(continuous.getStates()[0]).toMatchObject({ slo: 'error-rate', consecutiveFailures: 3 });
    expect(await next()).toEqual(['fire slo:prep-api/error-rate']); // still firing: re-held, same key
    expect(await next()).toEqual(['resolve slo:prep-api/error-rate']);
  });

  it('a pass in between resets the count', async () => {
    const { next } = run({ errors: [0.05, 0.05, 0.001, 0.05, 0.05, 0.05] });
    const calls = [];
    for (let i = 0; i < 6; i++) calls.push(await next());
    expect(calls.map((c) => c.filter((x) => x.startsWith('fire')).length)).toEqual([0, 0, 0, 0, 0, 1]);
  });

  it('an inconclusive evaluation neither counts nor resets', async () => {
    const { next } = run({ errors: [0.05, null, 0.05, null, null, 0.05] });
    const fired = [];
    for (let i = 0; i < 6; i++) fired.push((await next()).includes('fire slo:prep-api/error-rate'));
    expect(fired).toEqual([false, false, false, false, false, true]);
  });

  it('alertAfter: 1 fires on the first failure', async () => {
    const { next } = run({ errors: [0.001], p95: [0.9] });
    expect(await next(true)).toEqual(['resolve slo:prep-api/error-rate', 'fire slo:prep-api/p95']);
  });
});

describe('resolveStaleSloAlerts', () => {
  function held(key: string, slo: string, state: HeldAlert['state'] = 'firing'): HeldAlert {
    return {
      key,
      labels: { alertname: 'VigilSLOViolation', service: 'prep-api', slo },
      annotations: {},
      generatorUrl: null,
      startsAt: 0,
      endsAt: null,
      lastSentAt: 0,
      state,
    };
  }

  it('resolves the alerts of removed, renamed and now-shadow checks, and only those', async () => {
    const resolved: string[] = [];
    const alerts = {
      held: async (): Promise<HeldAlert[]> => [
        held('slo:prep-api/error-rate', 'error-rate'),
        held('slo:prep-api/p95', 'p95'),
        held('slo:prep-api/removed', 'removed'),
        held('slo:prep-api/shadowed', 'shadowed'),
        held('slo:prep-api/gone-already', 'gone-already', 'resolved'),
        // Held under its key from before fleets: the next evaluation raises it under the service's key.
        held('slo:p95', 'p95'),
        { ...held('blind:w_1', 'x'), labels: { alertname: 'VigilBlind', slo: 'x' } },
      ],
      resolve: (key: string) => {
        resolved.push(key);
      },
    };
    expect(await resolveStaleSloAlerts(alerts, config)).toEqual(['removed', 'shadowed', 'p95']);
    expect(resolved).toEqual(['slo:prep-api/removed', 'slo:prep-api/shadowed', 'slo:p95']);
  });

  it("a watch's alert goes only when the reload removed its SLO; a probe check's stays until the watch ends", async () => {
    const resolved: string[] = [];
    const inWatch = (slo: string): HeldAlert => {
      const alert = held(`slo:${slo}:w_1`, slo);
      return { ...alert, labels: { ...alert.labels, watch_id: 'w_1' } };
    };
    const alerts = {
      held: async (): Promise<HeldAlert[]> => [
        inWatch('p95'),
        inWatch('error-rate'),
        inWatch('probe:edge-readiness'),
      ],
      resolve: (key: string) => {
        resolved.push(key);
      },
    };
    const after: VigilConfig = { ...config, slos: config.slos.filter((s) => s.name !== 'p95') };
    expect(await resolveStaleSloAlerts(alerts, after, config)).toEqual(['p95']);
    expect(await resolveStaleSloAlerts(alerts, after)).toEqual([]); // at startup, without the previous config
  });
});
