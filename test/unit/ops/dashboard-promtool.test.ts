import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../helpers/cli.js';
import { PROMTOOL_BIN } from '../../helpers/prometheus.js';

/*
 * The dashboard's queries, evaluated by Prometheus' own engine (promtool test rules, each query a
 * recording rule) on the series two Vigil daemons export: what a panel or an annotation would show, at
 * chosen instants. Parsing (metrics-usage.test.ts) cannot tell a join that drops every series from one
 * that keeps the right ones.
 */

const missing = !existsSync(PROMTOOL_BIN);
const skip = missing && process.env.VIGIL_REQUIRE_INTEGRATION !== '1';

interface Target {
  refId: string;
  expr: string;
}
interface Dashboard {
  panels: Array<{ title: string; targets?: Target[] }>;
  annotations: { list: Array<{ name: string; expr?: string }> };
}

const dashboard = JSON.parse(
  readFileSync(join(REPO_ROOT, 'deploy/grafana/vigil-dashboard.json'), 'utf8'),
) as Dashboard;

/** Grafana's variables as the panel would send them with `$service` = toy and every slo and probe. */
function render(expr: string): string {
  return expr
    .replace(/\$__(rate_interval|range)/g, '5m')
    .replaceAll('$service', 'toy')
    .replaceAll('$slo', '.*')
    .replaceAll('$probe', '.*');
}

function query(title: string, refId = 'A'): string {
  const target = dashboard.panels.find((p) => p.title === title)?.targets?.find((t) => t.refId === refId);
  if (!target) throw new Error(`no panel "${title}" ${refId}`);
  return render(target.expr);
}

function annotation(name: string): string {
  const expr = dashboard.annotations.list.find((a) => a.name === name)?.expr;
  if (!expr) throw new Error(`no annotation "${name}"`);
  return render(expr);
}

const TOY = 'job="vigil",instance="toy-vigil:9469"';
const OTHER = 'job="vigil",instance="billing-vigil:9469"';
/** Minute by minute: a watch of toy 2 starts at 0, smoke until 3m, bake until 14m, ends passed at 15m. */
const SERIES: Array<[string, string]> = [
  [`vigil_watch_phase{${TOY},service="toy",version="2",phase="smoke"}`, '1x3 0x20'],
  [`vigil_watch_phase{${TOY},service="toy",version="2",phase="bake"}`, '0x3 1x10 0x10'],
  [`vigil_watch_verdict{${TOY},service="toy",version="2",verdict="pending"}`, '1x3 0x20'],
  [`vigil_watch_verdict{${TOY},service="toy",version="2",verdict="pass"}`, '0x3 1x20'],
  [`vigil_slo_result{${TOY},service="toy",slo="availability",result="pass"}`, '1x23'],
  [`vigil_slo_value{${TOY},service="toy",slo="availability"}`, '0.995x23'],
  [`vigil_slo_objective{${TOY},service="toy",slo="availability"}`, '0.99x23'],
  [`vigil_probe_success{${TOY},service="toy",probe="health",kind="smoke"}`, '1x23'],
  // Deliveries carry the watch's service: billing's failures are not toy's.
  [`vigil_webhook_deliveries_total{${TOY},service="toy",event="rollback",result="delivered"}`, '0+1x23'],
  [`vigil_webhook_deliveries_total{${OTHER},service="billing",event="rollback",result="failed"}`, '0+1x23'],
  // Last-run gauges of two toy probes (and billing's, which no toy panel may show).
  [`vigil_probe_duration_seconds{${TOY},service="toy",probe="health",kind="smoke",phase="total"}`, '0.05x23'],
  [
    `vigil_probe_duration_seconds{${TOY},service="toy",probe="login",kind="synthetic",phase="total"}`,
    '0.2x23',
  ],
  [
    `vigil_probe_duration_seconds{${TOY},service="toy",probe="login",kind="synthetic",phase="ttfb"}`,
    '0.125x23',
  ],
  [
    `vigil_probe_duration_seconds{${OTHER},service="billing",probe="pay",kind="smoke",phase="total"}`,
    '0.9x23',
  ],
  // The aggregate phase histogram: toy's runs 6 of 10 per minute under 0.25 s, all under 0.5 s;
  // billing's all under 0.25 s (it would pull toy's p95 down if the panel mixed them).
  [
    `vigil_probe_phase_duration_seconds_bucket{${TOY},service="toy",kind="smoke",phase="total",le="0.25"}`,
    '0+6x23',
  ],
  [
    `vigil_probe_phase_duration_seconds_bucket{${TOY},service="toy",kind="smoke",phase="total",le="0.5"}`,
    '0+10x23',
  ],
  [
    `vigil_probe_phase_duration_seconds_bucket{${TOY},service="toy",kind="smoke",phase="total",le="+Inf"}`,
    '0+10x23',
  ],
  [
    `vigil_probe_phase_duration_seconds_bucket{${OTHER},service="billing",kind="smoke",phase="total",le="0.25"}`,
    '0+100x23',
  ],
  [
    `vigil_probe_phase_duration_seconds_bucket{${OTHER},service="billing",kind="smoke",phase="total",le="0.5"}`,
    '0+100x23',
  ],
  [
    `vigil_probe_phase_duration_seconds_bucket{${OTHER},service="billing",kind="smoke",phase="total",le="+Inf"}`,
    '0+100x23',
  ],
  [`vigil_build_info{${TOY},version="0.1.0"}`, '1x23'],
  [`vigil_config_last_reload_successful{${TOY}}`, '1x23'],
  // Another daemon, watching billing: no panel filtered on toy may show its series.
  [`vigil_slo_result{${OTHER},service="billing",slo="availability",result="fail"}`, '1x23'],
  [`vigil_build_info{${OTHER},version="0.0.9"}`, '1x23'],
  [`vigil_config_last_reload_successful{${OTHER}}`, '0x23'],
];

interface Case {
  what: string;
  expr: string;
  at: string;
  samples: Array<{ labels: string; value: number }>;
}

const CASES: Case[] = [
  {
    what: 'the verdict table shows the watch and its verdict',
    expr: query('Current verdict by watch'),
    at: '10m',
    samples: [{ labels: '{service="toy",version="2",verdict="pass"}', value: 1 }],
  },
  {
    what: 'the phase table shows the running watch in bake',
    expr: query('Running watches and their phase'),
    at: '10m',
    samples: [{ labels: '{service="toy",version="2",phase="bake"}', value: 1 }],
  },
  {
    what: 'the phase table is empty once the watch ended',
    expr: query('Running watches and their phase'),
    at: '20m',
    samples: [],
  },
  {
    what: 'the checks table joins result and value on service and slo, for the selected service only',
    expr: query('Checks now', 'B'),
    at: '10m',
    samples: [{ labels: '{service="toy",slo="availability"}', value: 0.995 }],
  },
  {
    what: 'a daemon-wide panel keeps the daemon of the selected service and drops the other',
    expr: query('Build'),
    at: '10m',
    samples: [
      {
        labels: '{__name__="vigil_build_info",job="vigil",instance="toy-vigil:9469",version="0.1.0"}',
        value: 1,
      },
    ],
  },
  {
    what: 'the reload stat shows only the selected daemon',
    expr: query('Config reload successful'),
    at: '10m',
    samples: [
      {
        labels: '{__name__="vigil_config_last_reload_successful",job="vigil",instance="toy-vigil:9469"}',
        value: 1,
      },
    ],
  },
  {
    what: 'the last-run panel shows the slowest selected probe of the service in each phase',
    expr: query('Probe latency by phase (last run)'),
    at: '10m',
    samples: [
      { labels: '{phase="total"}', value: 0.2 },
      { labels: '{phase="ttfb"}', value: 0.125 },
    ],
  },
  {
    what: "the p95 panel reads the service's aggregate phase histogram, not another daemon's",
    expr: query('Probe latency by phase (p95, all probes)'),
    at: '10m',
    // Rank 9.5 of 10 falls 3.5/4 of the way through the (0.25, 0.5] bucket.
    samples: [{ labels: '{phase="total"}', value: 0.46875 }],
  },
  {
    what: "the deliveries panel counts the selected service's attempts only",
    expr: query('Webhook deliveries'),
    at: '10m',
    samples: [{ labels: '{event="rollback",result="delivered"}', value: 5 }],
  },
  {
    what: 'the start annotation marks the first minute of the watch',
    expr: annotation('Watch started'),
    at: '0m',
    samples: [{ labels: '{service="toy",version="2"}', value: 1 }],
  },
  {
    what: 'and not later',
    expr: annotation('Watch started'),
    at: '5m',
    samples: [],
  },
  {
    what: 'the verdict annotation marks pending → pass',
    expr: annotation('Verdict changed'),
    at: '4m',
    samples: [{ labels: '{service="toy",version="2",verdict="pass"}', value: 1 }],
  },
  {
    what: 'and not while the verdict holds',
    expr: annotation('Verdict changed'),
    at: '10m',
    samples: [],
  },
  {
    what: 'the end annotation marks the minute the watch stopped running, with its verdict',
    expr: annotation('Watch ended'),
    at: '15m',
    samples: [{ labels: '{service="toy",version="2",verdict="pass"}', value: 1 }],
  },
  {
    what: 'and not after',
    expr: annotation('Watch ended'),
    at: '18m',
    samples: [],
  },
];

describe("the dashboard queries, evaluated by promtool on two daemons' series", () => {
  test.skipIf(skip)(
    "show the selected service's watch, checks and daemon, and annotate its start, verdict and end",
    async () => {
      if (missing) throw new Error(`${PROMTOOL_BIN} is required (VIGIL_REQUIRE_INTEGRATION=1)`);
      const dir = mkdtempSync(join(tmpdir(), 'vigil-dashboard-'));
      try {
        // promql_expr_test evaluates each query as written; promtool wants a rule file beside it.
        writeFileSync(
          join(dir, 'rules.yaml'),
          stringify({ groups: [{ name: 'dashboard', rules: [{ record: 'unused', expr: 'vector(1)' }] }] }),
        );
        writeFileSync(
          join(dir, 'tests.yaml'),
          stringify({
            rule_files: ['rules.yaml'],
            evaluation_interval: '1m',
            tests: [
              {
                interval: '1m',
                input_series: SERIES.map(([series, values]) => ({ series, values })),
                promql_expr_test: CASES.map((c) => ({
                  expr: c.expr,
                  eval_time: c.at,
                  exp_samples: c.samples,
                })),
              },
            ],
          }),
        );
        const result = await promisify(execFile)(PROMTOOL_BIN, ['test', 'rules', 'tests.yaml'], {
          cwd: dir,
          timeout: 30_000,
        }).catch((error: { stdout?: string; stderr?: string }) => ({
          stdout: `${error.stdout ?? ''}${error.stderr ?? ''}`,
          stderr: 'failed',
        }));
        const failed = CASES.filter((c) => result.stdout.includes(`expr: ${JSON.stringify(c.expr)}, time: `));
        expect(
          failed.map((c) => c.what),
          result.stdout,
        ).toEqual([]);
        expect(result.stderr, result.stdout).not.toBe('failed');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
