import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { DemoOutcome } from '../../src/demo/run.js';
import { runInProcess } from '../helpers/cli.js';
import { prometheusMissing, skipWithoutPrometheus } from '../helpers/prometheus.js';

/*
 * `vigil demo` end to end (DESIGN §10), in-process: the Prep-like service, the webhook sink, the daemon
 * on a temporary store, once with the real Prometheus and once judged from Vigil's own probes. Each run
 * takes about 30 s of real time (a 20 s good watch, then the bad one failing).
 */

const RUN_TIMEOUT_MS = 120_000;
const FAKE_K6 = join(import.meta.dirname, '../helpers/fake-k6.mjs');

/** A reason names a check and carries the number that broke it: `error-rate 0.041 ≥ objective 0.01 …`. */
function reasonNamesACheck(reason: string, checks: readonly string[]): boolean {
  return checks.some((name) => reason.startsWith(`${name} `)) && /\d/.test(reason);
}

async function runDemo(
  args: string[],
  path = process.env.PATH,
): Promise<{ code: number; outcome: DemoOutcome; timeline: string }> {
  const run = await runInProcess(['demo', '--json', ...args], { PATH: path });
  const lines = run.stdout.trim().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  return { code: run.code, outcome: JSON.parse(lines[0] as string) as DemoOutcome, timeline: run.stderr };
}

function assertStory(outcome: DemoOutcome, timeline: string, withK6 = false): void {
  expect(outcome.problems, timeline).toEqual([]);
  expect(outcome.ok).toBe(true);

  // One assertion with the reasons, so a failure says why the good deploy was not a clean pass.
  expect({
    status: outcome.good?.status,
    verdict: outcome.good?.verdict,
    reasons: outcome.good?.reasons,
  }).toEqual({
    status: 'passed',
    verdict: 'pass',
    reasons: [],
  });

  const bad = outcome.bad;
  expect(bad?.status).toBe('failed');
  expect(bad?.verdict).toBe('fail');
  const checkNames = bad?.checks.map((c) => c.name) ?? [];
  expect(bad?.reasons.length).toBeGreaterThan(0);
  for (const reason of bad?.reasons ?? []) expect(reasonNamesACheck(reason, checkNames), reason).toBe(true);
  expect(bad?.checks.some((c) => c.result === 'fail')).toBe(true);
  expect(outcome.rollbackSignatureValid).toBe(true);

  const inOrder = [
    /prep-api demo service listening on http:\/\/127\.0\.0\.1:\d+/,
    /rollback webhook sink listening on http:\/\/127\.0\.0\.1:\d+/,
    /vigil daemon serving on http:\/\/127\.0\.0\.1:\d+/,
    /deploy 1: version "good"/,
    /watch w_\S+ started for prep-api good/,
    /watch w_\S+: status passed, verdict pass/,
    /deploy 2: version "bad"/,
    /watch w_\S+: status failed, verdict fail/,
    /reasons:\n.*• \S+ .*\d/,
    /rollback webhook arrived: delivery \S+, Idempotency-Key w_\S+:rollback, signature valid/,
    /demo finished in \d+\.\ds: good deploy passed, bad deploy failed, signed rollback delivered once/,
  ];
  let from = 0;
  for (const pattern of inOrder) {
    const match = pattern.exec(timeline.slice(from));
    expect(match, `timeline line ${pattern} (after offset ${from}):\n${timeline}`).not.toBeNull();
    from += (match?.index ?? 0) + (match?.[0].length ?? 0);
  }
  // Every timeline line carries its elapsed time, so a reader can follow the story.
  for (const line of timeline.trimEnd().split('\n')) expect(line).toMatch(/^\[\s*\d+\.\ds\] /);

  // No bake is silent: while a watch runs, a progress line (elapsed, checks) at least every few seconds.
  const lines = timeline.trimEnd().split('\n');
  const seconds = (line: string) => Number(/^\[\s*(\d+\.\d)s\]/.exec(line)?.[1]);
  for (const [start, end] of [
    [/watch w_\S+ started for prep-api good/, /status passed/],
    [/watch w_\S+ started for prep-api bad/, /status failed/],
  ] as const) {
    const from = lines.findIndex((l) => start.test(l));
    const to = lines.findIndex((l, i) => i > from && end.test(l));
    const during = lines.slice(from, to + 1);
    expect(
      during.some((l) => /progress {3}(smoke|load|bake) \d+s of \d+s · /.test(l)),
      during.join('\n'),
    ).toBe(true);
    for (let i = 1; i < during.length; i++) {
      expect(seconds(during[i] ?? '') - seconds(during[i - 1] ?? ''), during.join('\n')).toBeLessThan(6);
    }
  }

  // The reasons list every check failing at the end with its numbers, not only the one that tripped.
  const reasons = timeline.slice(timeline.indexOf('reasons:'), timeline.indexOf('judged against:'));
  for (const failed of bad?.checks.filter((c) => c.result === 'fail') ?? []) {
    expect(reasons, timeline).toMatch(new RegExp(`• ${failed.name} \\S*.*\\d`));
  }
  // And what each SLO check was judged against, value and objective with units.
  const judged = timeline.slice(timeline.indexOf('judged against:'));
  for (const slo of bad?.checks.filter((c) => c.kind === 'slo') ?? []) {
    expect(judged, timeline).toMatch(
      new RegExp(`\\] {3}${slo.name}: \\S+.*objective .*(baseline|no baseline)`),
    );
  }

  if (withK6) return;
  // k6 is not installed here: the load phase is skipped, and the demo says so.
  expect(outcome.ranLoad).toBe(false);
  expect(timeline).toContain('k6 not on PATH: load phase skipped');
}

describe('vigil demo', () => {
  test.skipIf(skipWithoutPrometheus)(
    'with the real Prometheus: good passes, bad fails on Prometheus SLOs, signed rollback arrives',
    async () => {
      if (prometheusMissing) throw new Error('prometheus is required (VIGIL_REQUIRE_INTEGRATION=1)');
      const { code, outcome, timeline } = await runDemo([]);
      expect(code, timeline).toBe(0);
      expect(outcome.usedPrometheus).toBe(true);
      expect(timeline).toMatch(
        /Prometheus \(\S+\) scraping the service every 1s at http:\/\/127\.0\.0\.1:\d+/,
      );
      assertStory(outcome, timeline);
      // The Prometheus-sourced checks are what caught the bad version.
      const failed = outcome.bad?.checks.filter((c) => c.result === 'fail').map((c) => c.name) ?? [];
      expect(
        failed.some((name) => name === 'error-rate' || name === 'p95-latency'),
        failed.join(', '),
      ).toBe(true);
    },
    RUN_TIMEOUT_MS,
  );

  test(
    '--without-prometheus: the probes source judges the deploys on its own',
    async () => {
      const { code, outcome, timeline } = await runDemo(['--without-prometheus']);
      expect(code, timeline).toBe(0);
      expect(outcome.usedPrometheus).toBe(false);
      expect(timeline).toContain("--without-prometheus: judging SLOs from Vigil's own probe results");
      expect(timeline).not.toMatch(/Prometheus \(/);
      assertStory(outcome, timeline);
      const queried = outcome.bad?.checks.filter((c) => c.kind === 'slo').map((c) => c.query) ?? [];
      expect(queried.every((q) => q === null || !q.includes('http_requests_total'))).toBe(true);
    },
    RUN_TIMEOUT_MS,
  );

  test(
    'with k6 on PATH (a stand-in replaying a passing k6 v0.49 run): the good deploy runs its load phase',
    async () => {
      const bin = mkdtempSync(join(tmpdir(), 'vigil-demo-k6-'));
      const k6 = join(bin, 'k6');
      writeFileSync(k6, `#!/bin/sh\nFAKE_K6_SCENARIO=pass exec "${process.execPath}" "${FAKE_K6}" "$@"\n`);
      chmodSync(k6, 0o755);
      try {
        const { code, outcome, timeline } = await runDemo(
          ['--without-prometheus'],
          `${bin}${delimiter}${process.env.PATH}`,
        );
        expect(code, timeline).toBe(0);
        expect(outcome.ranLoad).toBe(true);
        expect(timeline).toContain(`k6 (${k6}) on PATH: the good deploy runs a 5s load phase with 2 users`);
        expect(timeline).not.toContain('load phase skipped');
        expect(outcome.good?.phases.find((p) => p.name === 'load')?.state, timeline).toBe('passed');
        expect(outcome.good?.checks.some((c) => c.kind === 'load' && c.result === 'pass')).toBe(true);
        // The bad deploy is judged by its bake, as before.
        expect(outcome.bad?.phases.map((p) => p.name)).toEqual(['smoke', 'bake']);
        assertStory(outcome, timeline, true);
      } finally {
        rmSync(bin, { recursive: true, force: true });
      }
    },
    RUN_TIMEOUT_MS,
  );

  test('an unknown flag is a usage error (exit 2) and starts nothing', async () => {
    const run = await runInProcess(['demo', '--fast'], { PATH: process.env.PATH });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('usage: vigil demo');
    expect(run.stdout).toBe('');
  });
});
