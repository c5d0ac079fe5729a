import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { RUNBOOK_ANCHORS } from '../../../src/actions/alertmanager.js';
import { REPO_ROOT } from '../../helpers/cli.js';
import { PROMTOOL_BIN } from '../../helpers/prometheus.js';

const DIR = join(REPO_ROOT, 'deploy/prometheus');
const RULE_FILES = ['vigil-rules.yaml', 'vigil-blind-rules.yaml'];
const TEST_FILES = ['vigil-rules.test.yaml', 'vigil-blind-rules.test.yaml'];
const missing = !existsSync(PROMTOOL_BIN);
const skip = missing && process.env.VIGIL_REQUIRE_INTEGRATION !== '1';
const run = promisify(execFile);

function requirePromtool(): void {
  if (missing) throw new Error(`${PROMTOOL_BIN} is required (VIGIL_REQUIRE_INTEGRATION=1)`);
}

/** promtool's exit and output, without throwing on a failing test file. */
async function promtool(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(PROMTOOL_BIN, args, { cwd, timeout: 30_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

function alertsOf(file: string): string[] {
  const doc = parseYaml(readFileSync(join(DIR, file), 'utf8')) as {
    groups: Array<{ rules: Array<{ alert?: string }> }>;
  };
  return doc.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
}

describe('deploy/prometheus rule files', () => {
  test.skipIf(skip)('promtool check rules accepts them', async () => {
    requirePromtool();
    const { code, output } = await promtool(['check', 'rules', ...RULE_FILES], DIR);
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
    expect(code).toBe(0);
  });

  test.skipIf(skip)('promtool rejects a broken rule file (the check can fail)', async () => {
    requirePromtool();
    const dir = mkdtempSync(join(tmpdir(), 'vigil-rules-'));
    try {
      writeFileSync(
        join(dir, 'broken.yaml'),
        'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[5m]\n',
      );
      expect((await promtool(['check', 'rules', 'broken.yaml'], dir)).code).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.skipIf(skip)(
    'promtool test rules: every alert fires where it should and stays quiet where not',
    async () => {
      requirePromtool();
      const { code, output } = await promtool(['test', 'rules', ...TEST_FILES], DIR);
      expect(output, output).not.toContain('FAILED');
      expect(code, output).toBe(0);
    },
  );

  test('every alert of the rule files has a firing and a quiet case in the unit tests', () => {
    for (const [rules, tests] of RULE_FILES.map((f, i) => [f, TEST_FILES[i] as string] as const)) {
      const doc = parseYaml(readFileSync(join(DIR, tests), 'utf8')) as {
        rule_files: string[];
        tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
      };
      expect(doc.rule_files).toEqual([rules]);
      const cases = doc.tests.flatMap((t) => t.alert_rule_test ?? []);
      for (const alert of alertsOf(rules)) {
        const mine = cases.filter((c) => c.alertname === alert);
        expect(
          mine.some((c) => (c.exp_alerts ?? []).length > 0),
          `${alert} fires somewhere`,
        ).toBe(true);
        expect(
          mine.some((c) => (c.exp_alerts ?? []).length === 0),
          `${alert} stays quiet somewhere`,
        ).toBe(true);
      }
    }
  });

  test.skipIf(skip)(
    'the regression cases catch the old rules: VigilBlind after the watch ended, deliveries never delivered or summed across services',
    async () => {
      requirePromtool();
      const dir = mkdtempSync(join(tmpdir(), 'vigil-rules-'));
      try {
        cpSync(DIR, dir, { recursive: true });
        const rules = readFileSync(join(dir, 'vigil-rules.yaml'), 'utf8');
        const oldWebhook = rules.replace(
          /unless on \(service, event\)\n(\s+)sum by \(service, event\) \(increase\(vigil_webhook_deliveries_total\{result="delivered"\}\[15m\]\)\) > 0/,
          'and sum by (service, event) (increase(vigil_webhook_deliveries_total{result="delivered"}[15m])) == 0',
        );
        expect(oldWebhook).not.toBe(rules);
        // Before fleets: one service's deliveries hid another's failures.
        const acrossServices = rules.replaceAll('(service, event)', '(event)');
        expect(acrossServices).not.toBe(rules);
        writeFileSync(join(dir, 'vigil-rules.yaml'), acrossServices);
        const fleet = await promtool(['test', 'rules', 'vigil-rules.test.yaml'], dir);
        expect(fleet.code).not.toBe(0);
        expect(fleet.output).toMatch(/service="prep-api"/);
        writeFileSync(join(dir, 'vigil-rules.yaml'), oldWebhook);
        const blind = readFileSync(join(dir, 'vigil-blind-rules.yaml'), 'utf8');
        const oldBlind = blind.replace(
          /\s+and on \(service, version\)\n\s+max by \(service, version\) \(vigil_watch_phase\) == 1/,
          '',
        );
        expect(oldBlind).not.toBe(blind);
        writeFileSync(join(dir, 'vigil-blind-rules.yaml'), oldBlind);

        const webhook = await promtool(['test', 'rules', 'vigil-rules.test.yaml'], dir);
        expect(webhook.code).not.toBe(0);
        expect(webhook.output).toMatch(/alertname: VigilWebhookDeliveriesFailing, time: 30m/);
        const ended = await promtool(['test', 'rules', 'vigil-blind-rules.test.yaml'], dir);
        expect(ended.code).not.toBe(0);
        expect(ended.output).toMatch(/alertname: VigilBlind, time: 2h/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test('the default rules define none of the alerts the daemon pushes itself (nobody is paged twice)', () => {
    const pushed = new Set(Object.keys(RUNBOOK_ANCHORS));
    expect(alertsOf('vigil-rules.yaml').filter((a) => pushed.has(a))).toEqual([]);
    // The metrics-based VigilBlind lives apart, for daemons without an Alertmanager of their own.
    expect(alertsOf('vigil-blind-rules.yaml')).toEqual(['VigilBlind']);
  });
});
