import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { selectService, UsageError } from '../../../src/cli/args.js';
import { loadConfig } from '../../../src/config/load.js';
import { runInProcess } from '../../helpers/cli.js';

/*
 * The commands that act on one service (probe, evaluate, logs diff, validate --online) on a fleet: the
 * service comes from --service, required when the config has several and refused, with the known names,
 * when it names none of them. Two services on one loopback server: prep-api's health answers 503,
 * prep-worker's 200, so the exit code says whose probes ran.
 */

let dir: string;
let server: Server;
let file: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    res.statusCode = req.url === '/worker/health' ? 200 : 503;
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'vigil-cli-fleet-'));
  mkdirSync(join(dir, 'probes'));
  mkdirSync(join(dir, 'slo'));
  const probe = (path: string) =>
    `- name: health\n  kind: smoke\n  request: { path: ${path} }\n  expect: [ { status: 200 } ]\n`;
  writeFileSync(join(dir, 'probes', 'api.yaml'), probe('/api/health'));
  writeFileSync(join(dir, 'probes', 'worker.yaml'), probe('/worker/health'));
  writeFileSync(
    join(dir, 'slo', 'worker.yaml'),
    '- name: job-failure-ratio\n  source: prometheus\n  query: sum(rate(jobs_failed_total{job="{{service}}"}[{{window}}]))\n  objective: { lt: 1 }\n',
  );
  file = join(dir, 'vigil.yaml');
  writeFileSync(
    file,
    `storage: { path: ":memory:" }
sources: { prometheus: { url: "" } }
services:
  prep-api:
    target: { baseUrl: "${base}" }
    probes: [probes/api.yaml]
  prep-worker:
    target: { baseUrl: "${base}" }
    probes: [probes/worker.yaml]
    slos: [slo/worker.yaml]
`,
  );
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await new Promise((resolve) => server.close(resolve));
});

const KNOWN = '(prep-api, prep-worker)';

describe('--service on a fleet', () => {
  test.each([
    {
      args: ['probe'],
      code: 2,
      says: 'vigil probe: the config watches 2 services: choose one with --service',
    },
    {
      args: ['evaluate'],
      code: 3,
      says: 'vigil evaluate: the config watches 2 services: choose one with --service',
    },
    { args: ['logs', 'diff'], code: 3, says: 'vigil logs diff: the config watches 2 services' },
    { args: ['validate', '--online'], code: 2, says: 'vigil validate: the config watches 2 services' },
  ])('$args without --service: exit $code listing the services', async ({ args, code, says }) => {
    const run = await runInProcess([...args, '-c', file]);
    expect(run.code).toBe(code);
    expect(run.stderr).toContain(says);
    expect(run.stderr).toContain(KNOWN);
    expect(run.stdout).toBe('');
  });

  test.each([
    { args: ['probe'], code: 2, command: 'probe' },
    { args: ['evaluate'], code: 3, command: 'evaluate' },
    { args: ['logs', 'diff'], code: 3, command: 'logs diff' },
    { args: ['validate', '--online'], code: 2, command: 'validate' },
  ])('$args --service prep-wroker: refused, naming the known ones', async ({ args, code, command }) => {
    const run = await runInProcess([...args, '-c', file, '--service', 'prep-wroker']);
    expect(run.code).toBe(code);
    expect(run.stderr).toContain(
      `vigil ${command}: no service named "prep-wroker" (services: prep-api, prep-worker)`,
    );
  });

  test("vigil probe --service runs that service's probes against its target", async () => {
    const worker = await runInProcess(['probe', '-c', file, '--service', 'prep-worker', '--json']);
    expect(worker.code).toBe(0);
    const results = (JSON.parse(worker.stdout) as { results: { probe: string; success: boolean }[] }).results;
    expect(results.map((r) => [r.probe, r.success])).toEqual([['health', true]]);
    const api = await runInProcess(['probe', '-c', file, '--service', 'prep-api', '--json']);
    expect(api.code).toBe(1);
  });

  test("vigil evaluate --service judges that service's checks only", async () => {
    const api = await runInProcess([
      'evaluate',
      '-c',
      file,
      '--service',
      'prep-api',
      '--slo',
      'job-failure-ratio',
    ]);
    expect(api.code).toBe(3);
    expect(api.stderr).toContain('vigil evaluate: no SLO check named job-failure-ratio (known: none)');
    const worker = await runInProcess(['evaluate', '-c', file, '--service', 'prep-worker', '--json']);
    // Prometheus is switched off (url ""): the worker's one check is evaluated, and inconclusive.
    expect(worker.code).toBe(2);
    const checks = (JSON.parse(worker.stdout) as { checks: { name: string }[] }).checks;
    expect(checks.map((c) => c.name)).toEqual(['job-failure-ratio']);
  });

  test('vigil validate checks every service and sums each up; --service goes with --online only', async () => {
    const run = await runInProcess(['validate', '-c', file]);
    expect(run.code).toBe(0);
    expect(run.stderr.trimEnd().split('\n').slice(-3)).toEqual([
      `${file}: valid — 2 services`,
      '  prep-api: 1 probe, 0 SLO checks, 0 load profiles',
      '  prep-worker: 1 probe, 1 SLO check, 0 load profiles',
    ]);
    const alone = await runInProcess(['validate', '-c', file, '--service', 'prep-api']);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain('--service goes with --online');
  });
});

describe('selectService', () => {
  test('a single-service config needs no --service, and refuses another name', async () => {
    const config = await loadConfig('test/fixtures/config/valid/vigil.yaml', { VIGIL_API_TOKEN: 'x' });
    expect(selectService(config, undefined).root.service).toBe('prep-api');
    expect(selectService(config, 'prep-api')).toBe(config.services?.[0]);
    expect(() => selectService(config, 'prep-worker')).toThrow(
      new UsageError('no service named "prep-worker" (services: prep-api)'),
    );
  });

  test('a fleet needs one named', async () => {
    const config = await loadConfig(file, {});
    expect(selectService(config, 'prep-worker').root.target.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:/);
    expect(selectService(config, 'prep-worker').slos.map((s) => s.name)).toEqual(['job-failure-ratio']);
    expect(() => selectService(config, undefined)).toThrow(
      `the config watches 2 services: choose one with --service ${KNOWN}`,
    );
  });
});
