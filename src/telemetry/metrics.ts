import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { VigilAlertName } from '../actions/alertmanager.js';
import type { ActionEvent } from '../actions/types.js';
import { createProbeSeries, type ProbeSeries } from './probe-series.js';

/** Buckets (seconds) for the aggregate probe phase histogram: loopback microseconds up to slow remote seconds. */
const PROBE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5];
const QUERY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/*
 * Counters the alert rules compare ("attempts failed and none delivered") start at 0 for every known
 * label set: a series born at 1 by its first increment shows no increase() over its first window, so a
 * first success would go unseen and an absent `delivered` series would make `… unless delivered` rules
 * guess. Prometheus' instrumentation guide: initialise the label sets you know ahead of time.
 */
const WEBHOOK_EVENTS = Object.keys({
  rollback: true,
  'watch.started': true,
  'watch.phase': true,
  'watch.passed': true,
  'watch.failed': true,
  'watch.inconclusive': true,
} satisfies Record<ActionEvent, true>);
const WEBHOOK_RESULTS = ['delivered', 'retried', 'failed', 'skipped'] as const;
const ALERT_NAMES = Object.keys({
  VigilWatchFailed: true,
  VigilSLOViolation: true,
  VigilBlind: true,
  VigilActionFailed: true,
  VigilWatchHeld: true,
} satisfies Record<VigilAlertName, true>);
const ALERT_RESULTS = ['sent', 'rejected', 'error'] as const;

/**
 * A prom-client registry whose exposition ends with the per-probe series (probe-series.ts), so
 * `registry.metrics()` — what `/metrics` sends — carries every §8 series while prom-client renders
 * only the families that do not grow with the probe count. Prometheus text format only: the daemon
 * never switches the registry to OpenMetrics.
 */
class VigilRegistry extends Registry {
  constructor(private readonly probes: ProbeSeries) {
    super();
  }

  override async metrics(): Promise<string> {
    return this.probes.render(await super.metrics());
  }
}

/**
 * Every metric of DESIGN §8 on one registry. The probe and SLO series carry `service` (the config's
 * `service`), like the watch series, so one dashboard `$service` variable filters every panel. Created once in the composition root and passed to the
 * parts that update it; tests create their own. The per-probe series (`probes`) are kept as ready text
 * (last-run gauges and run counters, blackbox-style); their distributions are aggregated across probes
 * in `probePhaseDuration`.
 *
 * @example
 *   const metrics = createMetrics({ version: '0.1.0' });
 *   metrics.probes.record({ service: 'prep-api', probe: 'health', kind: 'smoke', success: true, failureClass: 'none', phaseSeconds });
 *   const text = await metrics.registry.metrics();
 */
export function createMetrics(options: { version: string; defaultMetrics?: boolean }) {
  const probes = createProbeSeries();
  const registry = new VigilRegistry(probes);
  const registers = [registry];
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  const metrics = {
    registry,
    /** vigil_probe_success, vigil_probe_duration_seconds, vigil_probe_runs_total, vigil_tls_cert_expiry_timestamp_seconds. */
    probes,
    probePhaseDuration: new Histogram({
      name: 'vigil_probe_phase_duration_seconds',
      help: 'Probe run durations by phase (dns, connect, tls, ttfb, transfer, total), all probes of a kind together.',
      labelNames: ['service', 'kind', 'phase'] as const,
      buckets: PROBE_BUCKETS,
      registers,
    }),
    probeScheduleLag: new Histogram({
      name: 'vigil_probe_schedule_lag_seconds',
      help: 'How late a probe run started against its schedule.',
      buckets: LAG_BUCKETS,
      registers,
    }),
    sloValue: new Gauge({
      name: 'vigil_slo_value',
      help: 'Last evaluated SLI value.',
      labelNames: ['service', 'slo'] as const,
      registers,
    }),
    sloObjective: new Gauge({
      name: 'vigil_slo_objective',
      help: 'The objective threshold of the SLO check.',
      labelNames: ['service', 'slo'] as const,
      registers,
    }),
    sloBaselineValue: new Gauge({
      name: 'vigil_slo_baseline_value',
      help: 'The baseline value the SLI was compared with.',
      labelNames: ['service', 'slo'] as const,
      registers,
    }),
    sloResult: new Gauge({
      name: 'vigil_slo_result',
      help: '1 on the current result of the SLO check (pass, warn, fail, inconclusive).',
      labelNames: ['service', 'slo', 'result'] as const,
      registers,
    }),
    sloErrorBudgetRemaining: new Gauge({
      name: 'vigil_slo_error_budget_remaining_ratio',
      help: 'Share of the error budget left over the budget window (1 = untouched, <0 = overspent).',
      labelNames: ['service', 'slo'] as const,
      registers,
    }),
    sloBurnRate: new Gauge({
      name: 'vigil_slo_burn_rate',
      help: 'Error budget burn rate over a window.',
      labelNames: ['service', 'slo', 'window'] as const,
      registers,
    }),
    watchVerdict: new Gauge({
      name: 'vigil_watch_verdict',
      help: '1 on the current verdict of the watch of a service version.',
      labelNames: ['service', 'version', 'verdict'] as const,
      registers,
    }),
    watchPhase: new Gauge({
      name: 'vigil_watch_phase',
      help: '1 on the current phase of the watch of a service version.',
      labelNames: ['service', 'version', 'phase'] as const,
      registers,
    }),
    watchesTotal: new Counter({
      name: 'vigil_watches_total',
      help: 'Watches ended, by result.',
      labelNames: ['service', 'result'] as const,
      registers,
    }),
    webhookDeliveries: new Counter({
      name: 'vigil_webhook_deliveries_total',
      help: 'Webhook delivery attempts by event and result.',
      labelNames: ['service', 'event', 'result'] as const,
      registers,
    }),
    alertsSent: new Counter({
      name: 'vigil_alerts_sent_total',
      help: 'Alerts posted to Alertmanager by alert name and result.',
      labelNames: ['service', 'alertname', 'result'] as const,
      registers,
    }),
    sourceQueryDuration: new Histogram({
      name: 'vigil_source_query_duration_seconds',
      help: 'Duration of queries to SLI sources.',
      labelNames: ['source'] as const,
      buckets: QUERY_BUCKETS,
      registers,
    }),
    sourceErrors: new Counter({
      name: 'vigil_source_errors_total',
      help: 'Failed queries to SLI sources, by reason.',
      labelNames: ['source', 'reason'] as const,
      registers,
    }),
    loadtestRuns: new Counter({
      name: 'vigil_loadtest_runs_total',
      help: 'k6 load profile runs by result.',
      labelNames: ['service', 'profile', 'result'] as const,
      registers,
    }),
    loadtestProgress: new Gauge({
      name: 'vigil_loadtest_progress',
      help: 'Live figures of the running k6 profile (vus, requests, failed_ratio, p95_seconds, elapsed_seconds); removed when the run ends.',
      labelNames: ['profile', 'measure'] as const,
      registers,
    }),
    configLastReloadSuccessful: new Gauge({
      name: 'vigil_config_last_reload_successful',
      help: 'Whether the last configuration reload succeeded.',
      registers,
    }),
    leader: new Gauge({
      name: 'vigil_leader',
      help: '1 while this instance leads the replicas (runs watches, probes, k6 and deliveries), 0 while it follows.',
      labelNames: ['instance'] as const,
      registers,
    }),
    buildInfo: new Gauge({
      name: 'vigil_build_info',
      help: 'Build information; always 1.',
      labelNames: ['version'] as const,
      registers,
    }),
  };
  metrics.buildInfo.set({ version: options.version }, 1);
  metrics.configLastReloadSuccessful.set(1);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Starts a service's delivery and alert counters at 0 for every event, alert name and result, so
 * `rate()` and `increase()` see the first one; `remove` drops them again (the service left the config).
 *
 * @example seedServiceCounters(metrics, 'prep-worker')
 */
export function seedServiceCounters(
  metrics: Pick<Metrics, 'webhookDeliveries' | 'alertsSent'>,
  service: string,
  remove = false,
): void {
  for (const event of WEBHOOK_EVENTS)
    for (const result of WEBHOOK_RESULTS) {
      if (remove) metrics.webhookDeliveries.remove({ service, event, result });
      else metrics.webhookDeliveries.inc({ service, event, result }, 0);
    }
  for (const alertname of ALERT_NAMES)
    for (const result of ALERT_RESULTS) {
      if (remove) metrics.alertsSent.remove({ service, alertname, result });
      else metrics.alertsSent.inc({ service, alertname, result }, 0);
    }
}

/**
 * Sets a one-hot gauge: 1 on `current`, 0 on every other value of the `key` label.
 *
 * @example setOneHot(metrics.sloResult, { slo: 'p95' }, 'result', ['pass','warn','fail','inconclusive'], 'fail')
 */
export function setOneHot<L extends string>(
  gauge: Gauge<L>,
  labels: Partial<Record<L, string>>,
  key: L,
  values: readonly string[],
  current: string,
): void {
  for (const value of values)
    gauge.set({ ...labels, [key]: value } as Partial<Record<L, string>>, value === current ? 1 : 0);
}
