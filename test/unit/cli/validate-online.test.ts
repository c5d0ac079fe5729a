import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ValidateReport } from '../../../src/cli/validate.js';
import { createProbeRollups } from '../../../src/prober/rollups.js';
import { openStore } from '../../../src/store/open.js';
import { runInProcess } from '../../helpers/cli.js';
import {
  OpenMetricsWriter,
  type RunningPrometheus,
  skipWithoutPrometheus,
  startPrometheus,
} from '../../helpers/prometheus.js';

/*
 * `vigil validate --online` against a REAL Prometheus holding the last 30 minutes of a service's traffic:
 * a good query returns data; a misspelt metric name (with onNoData: pass, which would pass forever) is an
 * error and exit 1; a label value matching nothing is "no series now", a warning; a check on a source left
 * out is skipped with the reason. `--json` prints { valid, problems, checks }.
 */

const GOOD = {
  name: 'throughput',
  query: 'sum(rate(http_requests_total{job="prep-api"}[{{window}}]))',
};
const METRIC_TYPO = {
  name: 'error-rate',
  query: 'sum(rate(http_requsts_total{job="prep-api",code=~"5.."}[{{window}}]))',
};
const LABEL_TYPO = {
  name: 'api-traffic',
  query: 'sum(rate(http_requests_total{job="prep-apj"}[{{window}}]))',
};

function writeConfig(dir: string, promUrl: string, checks: { name: string; query: string }[]): string {
  mkdirSync(join(dir, 'slo'), { recursive: true });
  const file = join(dir, 'vigil.yaml');
  writeFileSync(
    file,
    [
      'service: prep-api',
      'target: { baseUrl: "http://127.0.0.1:8080" }',
      'storage: { path: ":memory:" }',
      `sources: { prometheus: { url: "${promUrl}" } }`,
      'slos: [slo/*.yaml]',
      '',
    ].join('\n'),
  );
  const items = checks.map((c) =>
    [
      `- name: ${c.name}`,
      '  source: prometheus',
      `  query: '${c.query}'`,
      '  objective: { gte: 0 }',
      '  onNoData: pass',
    ].join('\n'),
  );
  items.push(
    [
      '- name: error-logs',
      '  source: loki',
      '  query: sum(count_over_time({app="prep-api"} |= "error" [{{window}}]))',
      '  objective: { lt: 1 }',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'slo', 'checks.yaml'), `${items.join('\n')}\n`);
  return file;
}

describe.skipIf(skipWithoutPrometheus)('vigil validate --online against a real Prometheus', () => {
  let prom: RunningPrometheus;
  let dir: string;
  beforeAll(async () => {
    const now = Math.floor(Date.now() / 1000);
    const metrics = new OpenMetricsWriter().counter(
      'http_requests_total',
      { job: 'prep-api', code: '200' },
      { from: now - 1800, to: now, ratePerSecond: 10 },
    );
    prom = await startPrometheus(metrics.toString());
    dir = mkdtempSync(join(tmpdir(), 'vigil-validate-online-'));
  });
  afterAll(async () => {
    await prom?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports per check returns data / no series now / error, and exits 1 on the misspelt metric', async () => {
    const file = writeConfig(dir, prom.url, [GOOD, METRIC_TYPO, LABEL_TYPO]);
    const run = await runInProcess(['validate', '-c', file, '--online', '--json']);
    const report = JSON.parse(run.stdout) as ValidateReport;
    expect(report.valid).toBe(true);
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ['throughput', 'returns data'],
      ['error-rate', 'error'],
      ['api-traffic', 'no series now'],
      ['error-logs', 'skipped'],
    ]);
    expect(report.checks[0]?.queries[0]?.value).toBeCloseTo(10, 0);
    expect(report.checks[1]?.detail).toBe(
      'metric http_requsts_total has no series in the last 1h (a misspelt metric name?)',
    );
    expect(report.checks[3]?.detail).toBe(
      'source loki is not configured (sources.loki is absent or its url empty)',
    );
    expect(run.stderr).toContain(
      'online: error: error-rate (prometheus): error: metric http_requsts_total has no series in the last 1h',
    );
    expect(run.stderr).toContain('online: warning: api-traffic (prometheus): no series now');
    expect(run.code).toBe(1);
  });

  it('exits 0 when every query answers, the empty one said as a warning', async () => {
    const file = writeConfig(dir, prom.url, [GOOD, LABEL_TYPO]);
    const run = await runInProcess(['validate', '-c', file, '--online']);
    expect(run.stderr).toContain('online: throughput (prometheus): returns data');
    expect(run.stderr).toContain('online: 0 errors, 1 with no series now');
    expect(run.stdout).toBe('');
    expect(run.code).toBe(0);
  });
});

describe('vigil validate --json', () => {
  it('prints every problem with its severity, and valid: false', async () => {
    const run = await runInProcess([
      'validate',
      '-c',
      'test/fixtures/config/invalid-unknown-key-suggested/vigil.yaml',
      '--json',
    ]);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({
      valid: false,
      problems: [
        {
          file: 'test/fixtures/config/invalid-unknown-key-suggested/slo/prep.yaml',
          path: 'error-rate.objectve',
          message: 'unknown key; did you mean `objective`?',
          severity: 'error',
        },
      ],
      checks: [],
    });
  });

  it('lists warnings of a valid config with severity warning', async () => {
    const run = await runInProcess(
      ['validate', '-c', 'test/fixtures/config/absent-source/vigil.yaml', '--json'],
      { VIGIL_LOKI_URL: '' },
    );
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as ValidateReport;
    expect(report.valid).toBe(true);
    expect(report.problems).toContainEqual(
      expect.objectContaining({ path: 'error-logs.source', severity: 'warning' }),
    );
  });
});

describe('vigil validate --online: probes checks read the daemon store', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-validate-probes-'));
    mkdirSync(join(dir, 'probes'));
    mkdirSync(join(dir, 'slo'));
    writeFileSync(
      join(dir, 'vigil.yaml'),
      'service: prep-api\ntarget: { baseUrl: "http://127.0.0.1:8080" }\nstorage: { path: data.db }\n' +
        'probes: [probes/*.yaml]\nslos: [slo/*.yaml]\n',
    );
    writeFileSync(
      join(dir, 'probes', 'p.yaml'),
      '- { name: health, kind: smoke, request: { path: /health }, expect: [ { status: 200 } ] }\n' +
        '- { name: quiet, kind: smoke, request: { path: /quiet } }\n',
    );
    writeFileSync(
      join(dir, 'slo', 'checks.yaml'),
      '- { name: availability, source: probes, sli: { probe: health, measure: successRatio }, objective: { gte: 0.99 } }\n' +
        '- { name: quiet-availability, source: probes, sli: { probe: quiet, measure: successRatio }, objective: { gte: 0.99 } }\n',
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('without a store, probes checks are skipped with the reason', async () => {
    const run = await runInProcess(['validate', '-c', join(dir, 'vigil.yaml'), '--online', '--json']);
    const report = JSON.parse(run.stdout) as ValidateReport;
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ['availability', 'skipped'],
      ['quiet-availability', 'skipped'],
    ]);
    expect(report.checks[0]?.detail).toContain("probe results are kept by the daemon's store");
    expect(run.code).toBe(0);
  });

  it("with the daemon's store, a probe with recent runs returns data and one without has no series now", async () => {
    const store = await openStore({ path: join(dir, 'data.db') });
    // As the daemon writes them: under the service's name.
    const rollups = createProbeRollups(store, 'prep-api');
    const now = Date.now();
    for (let minute = 1; minute <= 4; minute++)
      await rollups.record('health', now - minute * 60_000, true, 12);
    await store.close();
    const run = await runInProcess(['validate', '-c', join(dir, 'vigil.yaml'), '--online', '--json']);
    const report = JSON.parse(run.stdout) as ValidateReport;
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ['availability', 'returns data'],
      ['quiet-availability', 'no series now'],
    ]);
    expect(report.checks[0]?.queries[0]?.value).toBe(1);
    expect(run.code).toBe(0);
  });
});
