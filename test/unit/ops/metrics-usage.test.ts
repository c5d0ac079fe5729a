import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { PROBE_FAMILIES, PROBE_PHASES } from '../../../src/telemetry/probe-series.js';
import { REPO_ROOT } from '../../helpers/cli.js';

/*
 * The Grafana dashboard and the alert rules query the daemon's own metrics: every metric name (and every
 * label name in a selector) they use must exist in the registry createMetrics builds, or a panel stays
 * empty and an alert never fires — silently.
 */

/** Series Prometheus itself adds, not the daemon. */
const PROMETHEUS_OWN = new Set(['up']);
/** Labels Prometheus attaches at scrape time. */
const TARGET_LABELS = new Set(['job', 'instance']);

interface Known {
  labels: Set<string>;
}

async function registryMetrics(): Promise<Map<string, Known>> {
  const metrics = createMetrics({ version: 'test', defaultMetrics: true });
  const known = new Map<string, Known>();
  for (const json of await metrics.registry.getMetricsAsJSON()) {
    const metric = metrics.registry.getSingleMetric(json.name) as unknown as { labelNames?: string[] };
    const labels = new Set([...(metric?.labelNames ?? []), ...TARGET_LABELS]);
    known.set(json.name, { labels });
    const type = String(json.type);
    if (type === 'histogram') known.set(`${json.name}_bucket`, { labels: new Set([...labels, 'le']) });
    if (type === 'histogram' || type === 'summary') {
      known.set(`${json.name}_sum`, { labels });
      known.set(`${json.name}_count`, { labels });
    }
  }
  // The per-probe families are rendered beside prom-client (src/telemetry/probe-series.ts), not in it.
  for (const family of PROBE_FAMILIES)
    known.set(family.name, { labels: new Set([...family.labelNames, ...TARGET_LABELS]) });
  return known;
}

interface Selector {
  metric: string;
  labels: string[];
  /** Literal values of `=` and `=~` matchers (a regex alternation `a|b` split into its words). */
  values: Array<{ label: string; value: string }>;
}

/**
 * Bounded label values the code writes (DESIGN §6, §8; src/prober/engine.ts, src/actions/delivery-worker.ts):
 * a dashboard or rule matching `result="failed"` where the code writes `failure` would match nothing.
 */
const LABEL_VALUES: Record<string, Record<string, readonly string[]>> = {
  vigil_watch_verdict: { verdict: ['pending', 'pass', 'warn', 'fail', 'inconclusive'] },
  vigil_watch_phase: { phase: ['smoke', 'load', 'bake'] },
  vigil_slo_result: { result: ['pass', 'warn', 'fail', 'inconclusive'] },
  vigil_probe_runs_total: { result: ['success', 'failure'] },
  vigil_probe_duration_seconds: { phase: PROBE_PHASES },
  vigil_probe_phase_duration_seconds: { phase: PROBE_PHASES },
  vigil_webhook_deliveries_total: { result: ['delivered', 'retried', 'failed', 'skipped'] },
  vigil_alerts_sent_total: { result: ['sent', 'rejected', 'error'] },
};

/** Every vector selector of a PromQL expression: its metric name and the label names it matches on. */
function selectors(expr: string): Selector[] {
  // Grafana's own variables: ranges like [$__range] become a duration; "$service" in a string is a
  // string to the parser, and skipped by the value check (the regex below wants plain words).
  const promql = expr.replace(/\$__\w+/g, '5m');
  const tree = parser.parse(promql);
  const found: Selector[] = [];
  let error: string | undefined;
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) error ??= `syntax error at ${node.from} in ${promql}`;
      if (node.name !== 'VectorSelector') return;
      const ident = node.node.getChild('Identifier');
      const metric = ident ? promql.slice(ident.from, ident.to) : '';
      const labels: string[] = [];
      const values: Selector['values'] = [];
      node.node
        .getChild('LabelMatchers')
        ?.cursor()
        .iterate((inner) => {
          if (inner.name !== 'UnquotedLabelMatcher') return;
          const name = inner.node.getChild('LabelName');
          const op = inner.node.getChild('MatchOp');
          const literal = inner.node.getChild('StringLiteral');
          if (!name) return;
          const label = promql.slice(name.from, name.to);
          labels.push(label);
          const operator = op ? promql.slice(op.from, op.to) : '';
          const text = literal ? promql.slice(literal.from + 1, literal.to - 1) : '';
          if (operator === '=' || (operator === '=~' && /^[\w|]+$/.test(text)))
            for (const value of text.split('|')) values.push({ label, value });
        });
      found.push({ metric, labels, values });
    },
  });
  if (error) throw new Error(error);
  return found;
}

function dashboardExpressions(): string[] {
  const dashboard = JSON.parse(
    readFileSync(join(REPO_ROOT, 'deploy/grafana/vigil-dashboard.json'), 'utf8'),
  ) as unknown;
  const exprs: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) for (const item of node) walk(item);
    else if (typeof node === 'object' && node !== null) {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'expr' && typeof value === 'string') exprs.push(value);
        else walk(value);
      }
    }
  };
  walk(dashboard);
  return exprs;
}

/** `label_values(metric[{selector}], label)` template variable queries of the dashboard. */
function dashboardVariableQueries(): Array<{ metric: string; selector: string; label: string }> {
  const text = readFileSync(join(REPO_ROOT, 'deploy/grafana/vigil-dashboard.json'), 'utf8');
  // Each variable names its query twice (`query.query` and `definition`): one entry per distinct query.
  const queries = new Set([...text.matchAll(/label_values\([^)]*\)/g)].map((m) => m[0]));
  return [...[...queries].join(' ').matchAll(/label_values\(\s*(\w+)(\{[^}]*\})?\s*,\s*(\w+)\s*\)/g)].map(
    (m) => ({
      metric: m[1] as string,
      selector: `${m[1]}${(m[2] ?? '').replace(/\\"/g, '"')}`,
      label: m[3] as string,
    }),
  );
}

interface Target {
  refId: string;
  expr?: string;
  instant?: boolean;
  range?: boolean;
  format?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
  transformations?: Array<{ id: string }>;
}
interface Dashboard {
  panels: Panel[];
  annotations: { list: Array<{ name: string; expr?: string; datasource?: { type?: string } }> };
}

function dashboard(): Dashboard {
  return JSON.parse(
    readFileSync(join(REPO_ROOT, 'deploy/grafana/vigil-dashboard.json'), 'utf8'),
  ) as Dashboard;
}

/** The rules of both shipped files: the default one and the metrics-based VigilBlind. */
function ruleExpressions(): Array<{ alert: string; expr: string }> {
  return ['vigil-rules.yaml', 'vigil-blind-rules.yaml'].flatMap((file) => {
    const doc = parseYaml(readFileSync(join(REPO_ROOT, 'deploy/prometheus', file), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }>;
    };
    return doc.groups.flatMap((g) =>
      g.rules.map((r) => ({ alert: r.alert ?? r.record ?? '?', expr: r.expr })),
    );
  });
}

function problemsOf(exprs: string[], known: Map<string, Known>): string[] {
  const problems: string[] = [];
  for (const expr of exprs) {
    for (const { metric, labels, values } of selectors(expr)) {
      if (PROMETHEUS_OWN.has(metric)) continue;
      const entry = known.get(metric);
      if (!entry) {
        problems.push(`${metric} (in ${expr}) is not in the registry`);
        continue;
      }
      for (const label of labels)
        if (!entry.labels.has(label)) problems.push(`${metric} has no label ${label} (in ${expr})`);
      const bounded = LABEL_VALUES[metric.replace(/_(bucket|sum|count)$/, '')] ?? {};
      for (const { label, value } of values) {
        const allowed = bounded[label];
        if (allowed && !allowed.includes(value))
          problems.push(`${metric}{${label}="${value}"} never exists: the code writes ${allowed.join('|')}`);
      }
    }
  }
  return problems;
}

describe('the dashboard and alert rules query metrics that exist', () => {
  test('the selector extraction finds metrics and labels, and flags unknown ones', async () => {
    expect(
      selectors(
        'sum by (le) (rate(vigil_probe_duration_seconds_bucket{probe=~"$probe",phase="ttfb"}[$__range]))',
      ),
    ).toEqual([
      {
        metric: 'vigil_probe_duration_seconds_bucket',
        labels: ['probe', 'phase'],
        values: [{ label: 'phase', value: 'ttfb' }],
      },
    ]);
    const known = await registryMetrics();
    expect(
      problemsOf(
        [
          'vigil_no_such_metric',
          'vigil_slo_value{nope="x"}',
          'vigil_probe_runs_total{result=~"failed|success"}',
        ],
        known,
      ),
    ).toHaveLength(3);
    expect(problemsOf(['rate(vigil_probe_phase_duration_seconds_count[5m])'], known)).toEqual([]);
    // The per-probe durations are last-run gauges now: a panel still asking for their buckets is empty.
    expect(problemsOf(['vigil_probe_duration_seconds{probe="health",phase="ttfb"}'], known)).toEqual([]);
    expect(
      problemsOf(
        ['vigil_probe_duration_seconds_bucket', 'vigil_probe_phase_duration_seconds{probe="x"}'],
        known,
      ),
    ).toHaveLength(2);
  });

  test('the Grafana dashboard JSON parses and has panels with queries', () => {
    const exprs = dashboardExpressions();
    expect(exprs.length).toBeGreaterThan(10);
  });

  test('every metric and label the dashboard queries is in the daemon registry', async () => {
    const known = await registryMetrics();
    expect(problemsOf(dashboardExpressions(), known)).toEqual([]);
    const variables = dashboardVariableQueries();
    expect(variables.map((v) => v.label)).toEqual(['service', 'slo', 'probe']);
    for (const { metric, selector, label } of variables) {
      expect(known.get(metric)?.labels.has(label), `label_values(${metric}, ${label})`).toBe(true);
      expect(problemsOf([selector], known)).toEqual([]);
    }
  });

  test('every metric and label the alert rules use is in the daemon registry', async () => {
    const known = await registryMetrics();
    const rules = ruleExpressions();
    expect(rules.length).toBeGreaterThan(0);
    expect(
      problemsOf(
        rules.map((r) => r.expr),
        known,
      ),
    ).toEqual([]);
  });

  test('the dashboard covers the §8 story: verdicts, SLO values vs objective and baseline, probe phases, budget, deliveries', () => {
    const used = new Set(dashboardExpressions().flatMap((e) => selectors(e).map((s) => s.metric)));
    for (const metric of [
      'vigil_watch_verdict',
      'vigil_slo_value',
      'vigil_slo_objective',
      'vigil_slo_baseline_value',
      'vigil_probe_duration_seconds',
      'vigil_probe_phase_duration_seconds_bucket',
      'vigil_slo_error_budget_remaining_ratio',
      'vigil_slo_burn_rate',
      'vigil_webhook_deliveries_total',
    ])
      expect(used.has(metric), metric).toBe(true);
  });

  test('the alert rules cover daemon down, blind (running watches only), failing deliveries and alert posts, expiring certificates', () => {
    const rules = ruleExpressions();
    const used = (alert: string): string[] =>
      rules.filter((r) => r.alert === alert).flatMap((r) => selectors(r.expr).map((s) => s.metric));
    expect(used('VigilDaemonDown')).toContain('up');
    expect(used('VigilBlind')).toEqual(['vigil_watch_verdict', 'vigil_watch_phase']);
    expect(used('VigilAlertsFailing')).toContain('vigil_alerts_sent_total');
    expect(used('VigilWebhookDeliveriesFailing')).toContain('vigil_webhook_deliveries_total');
    expect(used('VigilCertificateExpiringSoon')).toContain('vigil_tls_cert_expiry_timestamp_seconds');
  });

  test('every panel has queries, and each parses (lezer-promql) on its own', () => {
    const panels = dashboard().panels.filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(15);
    for (const panel of panels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.expr, `${panel.title} ${target.refId}`).toBeTruthy();
        expect(() => selectors(target.expr ?? ''), `${panel.title} ${target.refId}`).not.toThrow();
      }
    }
  });

  test('table and bar panels run instant queries as tables, with the transformations that shape them', () => {
    const shaped = dashboard().panels.filter((p) => ['table', 'barchart', 'bargauge'].includes(p.type));
    expect(shaped.map((p) => p.type)).toEqual(expect.arrayContaining(['table', 'barchart']));
    for (const panel of shaped) {
      for (const target of panel.targets ?? []) {
        expect(
          { instant: target.instant, range: target.range, format: target.format },
          `${panel.title} ${target.refId}`,
        ).toEqual({ instant: true, range: false, format: 'table' });
      }
      expect(panel.transformations?.length, panel.title).toBeGreaterThan(0);
    }
    // A table of several queries is merged on its label columns; a bar chart of label pairs is a matrix.
    for (const panel of shaped.filter((p) => (p.targets?.length ?? 0) > 1))
      expect(panel.transformations?.[0]?.id, panel.title).toBe('merge');
    for (const panel of shaped.filter((p) => p.type === 'barchart'))
      expect(panel.transformations?.[0]?.id, panel.title).toBe('groupingToMatrix');
    // Time series panels stay range queries.
    for (const panel of dashboard().panels.filter((p) => p.type === 'timeseries'))
      for (const target of panel.targets ?? []) expect(target.instant ?? false, panel.title).toBe(false);
  });

  test('$service filters every panel: series with a service label match it, the daemon-wide ones join on it', async () => {
    const known = await registryMetrics();
    for (const panel of dashboard().panels.filter((p) => p.type !== 'row')) {
      for (const target of panel.targets ?? []) {
        const expr = target.expr ?? '';
        expect(expr, panel.title).toContain('service=~"$service"');
        for (const { metric, labels } of selectors(expr)) {
          if (known.get(metric)?.labels.has('service'))
            expect(labels, `${panel.title}: ${metric} in ${expr}`).toContain('service');
        }
      }
    }
    // The SLO and probe series carry `service` (not only the watch series).
    for (const metric of [
      'vigil_slo_value',
      'vigil_slo_result',
      'vigil_probe_success',
      'vigil_probe_runs_total',
      'vigil_probe_duration_seconds',
      'vigil_probe_phase_duration_seconds_bucket',
      'vigil_tls_cert_expiry_timestamp_seconds',
    ])
      expect(known.get(metric)?.labels.has('service'), metric).toBe(true);
  });

  test("deploy annotations come from Vigil's own metrics: watch start, verdict changes, watch end", async () => {
    const known = await registryMetrics();
    const list = dashboard().annotations.list.filter((a) => a.datasource?.type === 'prometheus');
    expect(list.map((a) => a.name)).toEqual(['Watch started', 'Verdict changed', 'Watch ended']);
    for (const annotation of list) {
      const expr = annotation.expr ?? '';
      expect(problemsOf([expr], known), annotation.name).toEqual([]);
      expect(expr, annotation.name).toContain('service=~"$service"');
    }
    const metricsOf = (name: string): string[] =>
      selectors(list.find((a) => a.name === name)?.expr ?? '').map((s) => s.metric);
    expect(metricsOf('Watch started')).toContain('vigil_watch_phase');
    expect(metricsOf('Verdict changed')).toContain('vigil_watch_verdict');
  });
});
