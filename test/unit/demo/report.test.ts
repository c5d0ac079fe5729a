import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { DEMO_WATCH, writeDemoFiles } from '../../../src/demo/files.js';
import { baselineLines, failingChecks, progressLine } from '../../../src/demo/report.js';
import { checkK6Scripts } from '../../../src/loadtest/syntax.js';
import type { Verdict } from '../../../src/watch/types.js';
import { check } from '../watch/harness.js';

const T0 = Date.parse('2026-11-29T10:00:00.000Z');
const P95_QUERY = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[10s])))';

function bad(): Verdict {
  return {
    id: 'w_bad',
    service: 'prep-api',
    version: 'bad',
    previousVersion: 'good',
    status: 'failed',
    phase: 'bake',
    verdict: 'fail',
    startedAt: new Date(T0).toISOString(),
    updatedAt: new Date(T0 + 6_000).toISOString(),
    endedAt: new Date(T0 + 6_000).toISOString(),
    durationMs: 20_000,
    // The critical error-rate tripped the watch; p95 and the journey were failing, below their limit.
    reasons: ['error-rate 0.33 ≥ objective 0.01 over 1 4s window'],
    checks: [
      check('smoke:health', 'pass', 12, { kind: 'probe', objective: null, query: null }),
      check('error-rate', 'fail', 0.33, { critical: true, consecutiveFailures: 1 }),
      check('p95-latency', 'fail', 0.69, {
        consecutiveFailures: 1,
        objective: { lt: 0.5 },
        query: P95_QUERY,
        baseline: 0.0095,
        baselineFrom: 'pre-deploy',
      }),
      check('journey-availability', 'fail', 0.6, {
        consecutiveFailures: 1,
        objective: { gte: 0.99 },
        query: 'booking-journey:successRatio[1m]',
      }),
    ],
    blindSpans: [],
  };
}

describe('the demo report', () => {
  test('every failing check at the end, with its numbers and units, not only the one that tripped', () => {
    expect(failingChecks(bad(), { failureLimit: DEMO_WATCH.failureLimit })).toEqual([
      'error-rate fail 33 % (objective < 1 %; limit reached)',
      'p95-latency fail 690 ms (objective < 500 ms; failing, 1 of 2)',
      'journey-availability fail 60 % (objective ≥ 99 %; failing, 1 of 2)',
    ]);
  });

  test('what each check was judged against: objective and baseline with where it came from', () => {
    expect(baselineLines(bad())).toEqual([
      'error-rate: fail 33 %, objective < 1 %, no baseline (objective only)',
      'p95-latency: fail 690 ms, objective < 500 ms, baseline 9.5 ms (pre-deploy)',
      'journey-availability: fail 60 %, objective ≥ 99 %, no baseline (objective only)',
    ]);
  });

  test('a progress line while a watch bakes: phase, elapsed, counts and each judged check', () => {
    const running = { ...bad(), status: 'running' as const, verdict: 'pending' as const, endedAt: null };
    running.checks = [
      check('error-rate', 'pass', 0, {}),
      check('p95-latency', 'inconclusive', null, { objective: { lt: 0.5 }, query: P95_QUERY }),
    ];
    expect(progressLine(running, T0 + 8_400)).toBe(
      'bake 8s of 20s · 1 inconclusive, 1 pass · error-rate pass 0 %, p95-latency inconclusive',
    );
  });
});

describe('the demo config', () => {
  test.each([
    { k6Path: '/opt/k6/bin/k6', load: true },
    { k6Path: undefined, load: false },
  ])(
    'with k6 at $k6Path: a load profile for the good deploy ($load), and it loads',
    async ({ k6Path, load }) => {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-demo-files-'));
      try {
        const file = writeDemoFiles({
          dir,
          targetUrl: 'http://127.0.0.1:8080',
          sinkUrl: 'http://127.0.0.1:8081/hooks/rollback',
          secret: 'a-demo-secret-of-32-characters!!',
          apiToken: 'demo-token-0123456789',
          ...(k6Path ? { k6Path } : {}),
        });
        const config = await loadConfig(file, {});
        expect(config.root.watch.phases).toEqual(['smoke', 'bake']);
        if (load) {
          expect(config.root.loadtests?.k6).toBe(k6Path);
          expect(config.root.watch.loadProfile).toBe('demo');
          expect(config.root.loadtests?.profiles.demo).toMatchObject({ vus: 2, duration: 5_000 });
          // ES2017 like every shipped k6 script: k6 before v0.52 parses nothing newer.
          expect(await checkK6Scripts([join(dir, 'loadtests', 'demo.js')])).toEqual([]);
        } else {
          expect(config.root.loadtests).toBeUndefined();
          expect(config.root.watch.loadProfile).toBeUndefined();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
