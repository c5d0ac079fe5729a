import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/evaluator/types.js';
import { runInProcess } from '../helpers/cli.js';
import {
  histogramQuantile,
  OpenMetricsWriter,
  type RunningPrometheus,
  skipWithoutPrometheus,
  startPrometheus,
  type TrafficShape,
  writeServiceTraffic,
} from '../helpers/prometheus.js';

/*
 * `vigil evaluate --since T0 --at T1 --json` in-process against a real Prometheus holding three
 * services: one whose deploy at T0 changed nothing, one whose deploy regressed every SLI, one with no
 * data at all. The service name (from the environment) selects the job label in the SLO queries.
 */

const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z: the deploy
const T1 = T0 + 1800; // evaluated 30 minutes later
const HEALTHY_LATENCY = { '0.1': 0.5, '0.25': 0.9, '0.5': 0.99, '1': 1 };
const SLOW_LATENCY = { '0.1': 0.1, '0.25': 0.3, '0.5': 0.8, '1': 1 };
const healthy: TrafficShape = { requestsPerSecond: 10, errorRatio: 0.002, latency: HEALTHY_LATENCY };
const regressed: TrafficShape = { requestsPerSecond: 6, errorRatio: 0.05, latency: SLOW_LATENCY };

const ROOT = `service: \${SERVICE}
target:
  baseUrl: http://127.0.0.1:9
storage:
  path: ./data/vigil.db
sources:
  prometheus:
    url: \${PROM_URL}
    timeout: 5s
slos:
  - slo/*.yaml
watch:
  window: 5m
`;

const SLOS = `- name: error-rate
  source: prometheus
  query: |
    sum(rate(http_requests_total{job="{{service}}",code=~"5.."}[{{window}}]))
    / sum(rate(http_requests_total{job="{{service}}"}[{{window}}]))
  objective: { lt: 0.01 }
  critical: true
- name: p95-latency
  source: prometheus
  query: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="{{service}}"}[{{window}}])))
  objective: { lt: 0.5 }
  baseline: { from: pre-deploy, maxIncrease: 20% }
- name: throughput
  source: prometheus
  query: sum(rate(http_requests_total{job="{{service}}"}[{{window}}]))
  baseline: { from: pre-deploy, maxDecrease: 10% }
- name: error-ratio-shift
  source: prometheus
  query: |
    sum(rate(http_requests_total{job="{{service}}",code=~"5.."}[1m]))
    / sum(rate(http_requests_total{job="{{service}}"}[1m]))
  baseline: { from: pre-deploy, test: mann-whitney, minSamples: 5 }
`;

interface EvaluateDocument {
  evaluatedAt: string;
  deployedAt: string;
  checks: CheckResult[];
}

describe.skipIf(skipWithoutPrometheus)('vigil evaluate against a real Prometheus', () => {
  let prom: RunningPrometheus;
  let dir: string;
  let configFile: string;

  beforeAll(async () => {
    const om = new OpenMetricsWriter();
    writeServiceTraffic(om, { job: 'good', from: T0 - 3600, to: T1 + 600, shape: healthy });
    writeServiceTraffic(om, {
      job: 'bad',
      from: T0 - 3600,
      to: T1 + 600,
      shape: (t) => (t < T0 ? healthy : regressed),
    });
    prom = await startPrometheus(om.toString());
    dir = await mkdtemp(join(tmpdir(), 'vigil-evaluate-'));
    await mkdir(join(dir, 'slo'));
    configFile = join(dir, 'vigil.yaml');
    await writeFile(configFile, ROOT);
    await writeFile(join(dir, 'slo', 'checks.yaml'), SLOS);
  });
  afterAll(async () => {
    await prom?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const evaluate = async (service: string, extra: string[] = []) => {
    const run = await runInProcess(
      ['evaluate', '-c', configFile, '--since', String(T0), '--at', String(T1), '--json', ...extra],
      { SERVICE: service, PROM_URL: prom.url },
    );
    const doc = run.stdout ? (JSON.parse(run.stdout) as EvaluateDocument) : undefined;
    const check = (name: string) => doc?.checks.find((c) => c.name === name && c.kind === 'slo');
    return { ...run, doc, check };
  };

  it('a good deploy passes every check (exit 0)', async () => {
    const { code, doc, check, stderr } = await evaluate('good');
    expect(code, stderr).toBe(0);
    expect(doc?.evaluatedAt).toBe(new Date(T1 * 1000).toISOString());
    expect(doc?.deployedAt).toBe(new Date(T0 * 1000).toISOString());
    expect(doc?.checks.map((c) => [c.name, c.result])).toEqual([
      ['error-rate', 'pass'],
      ['p95-latency', 'pass'],
      ['throughput', 'pass'],
      ['error-ratio-shift', 'pass'],
    ]);
    expect(check('error-rate')?.value).toBeCloseTo(0.002, 9);
    expect(check('p95-latency')?.value).toBeCloseTo(histogramQuantile(0.95, HEALTHY_LATENCY), 9);
    expect(check('throughput')?.baseline).toBeCloseTo(10, 9);
    expect(stderr).toContain('4 checks: 4 pass');
  });

  it('a regressed deploy fails (exit 1) with explanations carrying the numbers', async () => {
    const { code, check, stderr } = await evaluate('bad');
    expect(code, stderr).toBe(1);
    const errorRate = check('error-rate');
    expect(errorRate?.result).toBe('fail');
    expect(errorRate?.value).toBeCloseTo(0.05, 9);
    expect(errorRate?.explanation).toMatch(/0\.05/);
    expect(errorRate?.explanation).toMatch(/0\.01/);

    const p95 = check('p95-latency');
    expect(p95?.result).toBe('fail');
    expect(p95?.value).toBeCloseTo(histogramQuantile(0.95, SLOW_LATENCY), 9); // 0.875
    expect(p95?.baseline).toBeCloseTo(histogramQuantile(0.95, HEALTHY_LATENCY), 9);
    expect(p95?.explanation).toMatch(/0\.875/);

    const throughput = check('throughput');
    expect(throughput?.result).toBe('fail');
    expect(throughput?.value).toBeCloseTo(6, 9);
    expect(throughput?.baseline).toBeCloseTo(10, 9);
    expect(throughput?.explanation).toMatch(/\b6\b/);
    expect(throughput?.explanation).toMatch(/\b10\b/);
    expect(stderr).toMatch(/FAIL\s+error-rate/);

    // Range queries through the source: the samples of the 5m windows after and before the deploy.
    const shift = check('error-ratio-shift');
    expect(shift?.result).toBe('fail');
    expect(shift?.value).toBeCloseTo(0.05, 9);
    expect(shift?.baseline).toBeCloseTo(0.002, 9);
    expect(shift?.samples).toBeGreaterThanOrEqual(5);
  });

  it('a service with no data is inconclusive (exit 2), never pass', async () => {
    const { code, doc, stderr } = await evaluate('none');
    expect(code, stderr).toBe(2);
    expect(doc?.checks.length).toBeGreaterThan(0);
    for (const check of doc?.checks ?? []) {
      expect(check.result).toBe('inconclusive');
      expect(check.explanation).toMatch(/no data|no series/);
    }
  });

  // `vigil evaluate` judges as a watch would (DESIGN §6): only data since --since, nothing before minWindow.
  const replay = async (service: string, atSeconds: number, extra: string[] = []) => {
    const run = await runInProcess(
      ['evaluate', '-c', configFile, '--since', String(T0), '--at', String(atSeconds), '--json', ...extra],
      { SERVICE: service, PROM_URL: prom.url },
    );
    const doc = run.stdout ? (JSON.parse(run.stdout) as EvaluateDocument) : undefined;
    return { ...run, doc, check: (name: string) => doc?.checks.find((c) => c.name === name) };
  };

  it('20 s after the deploy every check is warming up (exit 2): nothing of the new version to judge yet', async () => {
    const { code, doc, stderr } = await replay('bad', T0 + 20);
    expect(code, stderr).toBe(2);
    for (const check of doc?.checks ?? []) {
      expect(check).toMatchObject({
        result: 'inconclusive',
        warmingUp: true,
        explanation: 'not enough post-deploy data (20s of 30s)',
        range: { from: new Date(T0 * 1000).toISOString(), to: new Date((T0 + 20) * 1000).toISOString() },
      });
    }
  });

  it('2 minutes after the deploy the windows start at the deploy: [120s] of the new version only', async () => {
    const { code, check, stderr } = await replay('bad', T0 + 120, ['--slo', 'error-rate']);
    expect(code, stderr).toBe(1);
    const errorRate = check('error-rate');
    expect(errorRate?.query).toContain('[120s]');
    // All of it the regressed version's 5 %: a [5m] window would have mixed in 3 minutes of 0.2 % (2.1 %).
    expect(errorRate?.value).toBeCloseTo(0.05, 6);
    expect(errorRate?.range).toEqual({
      from: new Date(T0 * 1000).toISOString(),
      to: new Date((T0 + 120) * 1000).toISOString(),
    });
    expect(errorRate?.explanation).toContain('over the 2m since the deploy');
  });

  it('--slo narrows the evaluation to the named checks', async () => {
    const { code, doc } = await evaluate('bad', ['--slo', 'throughput']);
    expect(code).toBe(1);
    expect(doc?.checks.map((c) => c.name)).toEqual(['throughput']);
  });

  it.each([
    { name: 'an unknown --slo', args: ['--slo', 'nope'], message: /no SLO check named nope/ },
    {
      name: 'a TIME that is neither RFC 3339 nor Unix seconds',
      args: ['--at', 'yesterday'],
      message: /--at "yesterday"/,
    },
  ])('$name cannot be evaluated (exit 3), distinct from inconclusive', async ({ args, message }) => {
    const { code, stdout, stderr } = await evaluate('good', args);
    expect(code).toBe(3);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
  });

  it('an invalid config prints every problem and exits 3', async () => {
    const run = await runInProcess(['evaluate', '-c', configFile, '--json'], {
      SERVICE: 'not a name!',
      PROM_URL: prom.url,
    });
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/vigil\.yaml:service: /);
  });

  it('an unreachable Prometheus is inconclusive with the reason, not a pass', async () => {
    const run = await runInProcess(
      [
        'evaluate',
        '-c',
        configFile,
        '--since',
        String(T0),
        '--at',
        String(T1),
        '--json',
        '--slo',
        'error-rate',
      ],
      { SERVICE: 'good', PROM_URL: 'http://127.0.0.1:9' },
    );
    expect(run.code).toBe(2);
    const doc = JSON.parse(run.stdout) as EvaluateDocument;
    expect(doc.checks[0]?.explanation).toMatch(/prometheus unavailable/);
  });
});
