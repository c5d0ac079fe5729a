import { describe, expect, test } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import {
  type CheckOutcome,
  createHealthReporter,
  type HealthCheck,
  leaderOutcome,
  overallStatus,
  sanitizeCheckError,
} from '../../../src/server/health.js';

const START = Date.parse('2026-11-27T10:00:00Z');

/** A check that counts its calls and answers `outcome` (or throws it when it is an Error). */
function countingCheck(outcome: CheckOutcome | Error = { status: 'ok' }) {
  const check = Object.assign(
    async (): Promise<CheckOutcome> => {
      check.calls += 1;
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
    { calls: 0 },
  );
  return check;
}

describe('caching', () => {
  test('a dependency is checked once within the cache period and again after it', async () => {
    const clock = new ManualClock(START);
    const prometheus = countingCheck();
    const health = createHealthReporter({ clock, cacheMs: 5_000, checks: () => ({ prometheus }) });
    await health.report();
    await clock.advance(4_999);
    await health.report();
    await health.report();
    expect(prometheus.calls).toBe(1);
    await clock.advance(1);
    await health.report();
    expect(prometheus.calls).toBe(2);
  });

  test('concurrent callers share one in-flight refresh', async () => {
    const clock = new ManualClock(START);
    let calls = 0;
    let release: () => void = () => {};
    const slow: HealthCheck = () => {
      calls += 1;
      return new Promise((resolve) => {
        release = () => resolve({ status: 'ok' });
      });
    };
    const health = createHealthReporter({ clock, checks: () => ({ loki: slow }) });
    const reports = [health.report(), health.report(), health.report()];
    release();
    const results = await Promise.all(reports);
    expect(calls).toBe(1);
    expect(results[0]).toBe(results[2]);
  });

  test('a cached report keeps the time its checks ran', async () => {
    const clock = new ManualClock(START);
    const health = createHealthReporter({ clock, checks: () => ({ store: countingCheck() }) });
    await health.report();
    await clock.advance(2_000);
    expect((await health.report()).checkedAt).toBe('2026-11-27T10:00:00.000Z');
  });
});

describe('outcomes', () => {
  test('a check that never answers is down at its deadline and its signal is aborted', async () => {
    const clock = new ManualClock(START);
    let seen: AbortSignal | undefined;
    const hanging: HealthCheck = (signal) => {
      seen = signal;
      return new Promise(() => {});
    };
    const health = createHealthReporter({
      clock,
      deadlineMs: 2_000,
      checks: () => ({ alertmanager: hanging }),
    });
    const pending = health.report();
    await clock.advance(2_000);
    const report = await pending;
    expect(report.checks.alertmanager).toEqual({
      status: 'down',
      latencyMs: 2_000,
      error: 'no answer within 2000 ms',
    });
    expect(seen?.aborted).toBe(true);
  });

  test('a thrown error is down with its message, credentials removed', async () => {
    const clock = new ManualClock(START);
    const failing = countingCheck(new Error('fetch http://admin:s3cret@prom:9090/-/ready?token=abc failed'));
    const health = createHealthReporter({
      clock,
      checks: () => ({ store: countingCheck(), prometheus: failing }),
    });
    const report = await health.report();
    expect(report.checks.prometheus?.status).toBe('down');
    expect(report.checks.prometheus?.error).toBe(
      'fetch http://[redacted]@prom:9090/-/ready?token=[redacted] failed',
    );
  });

  test('latency is measured on the injected clock when the check does not report it', async () => {
    const clock = new ManualClock(START);
    const timed: HealthCheck = async () => {
      await clock.sleep(150);
      return { status: 'ok' };
    };
    const health = createHealthReporter({ clock, checks: () => ({ loki: timed }) });
    const pending = health.report();
    await clock.advance(150);
    expect((await pending).checks.loki).toEqual({ status: 'ok', latencyMs: 150 });
  });

  test.each([
    { name: 'all ok is ok', checks: { store: 'ok', loki: 'ok' }, warnings: [], status: 'ok' },
    {
      name: 'disabled dependencies do not degrade',
      checks: { store: 'ok', k6: 'disabled' },
      warnings: [],
      status: 'ok',
    },
    {
      name: 'a dependency down degrades',
      checks: { store: 'ok', loki: 'down' },
      warnings: [],
      status: 'degraded',
    },
    { name: 'the store down is down', checks: { store: 'down', loki: 'ok' }, warnings: [], status: 'down' },
    {
      name: 'a warning degrades',
      checks: { store: 'ok' },
      warnings: ['no rollback target'],
      status: 'degraded',
    },
  ] as const)('$name', ({ checks, warnings, status }) => {
    const outcomes = Object.fromEntries(Object.entries(checks).map(([k, s]) => [k, { status: s }]));
    expect(overallStatus(outcomes, ['store'], warnings)).toBe(status);
  });

  test('the report lists disabled checks and warnings', async () => {
    const clock = new ManualClock(START);
    const health = createHealthReporter({
      clock,
      checks: () => ({ store: countingCheck(), k6: 'disabled' }),
      warnings: () => ['actions.rollback is empty: a failing verdict cannot roll back'],
    });
    const report = await health.report();
    expect(report).toMatchObject({
      status: 'degraded',
      checks: { store: { status: 'ok' }, k6: { status: 'disabled' } },
      warnings: ['actions.rollback is empty: a failing verdict cannot roll back'],
    });
  });

  test('long error messages are cut', () => {
    expect(sanitizeCheckError('x'.repeat(1_000)).length).toBeLessThanOrEqual(301);
  });
});

describe('the leader entry', () => {
  test("a follower's reason reaches the unauthenticated answer without the database URL's credentials", () => {
    expect(
      leaderOutcome({
        leader: false,
        instance: 'vigil-b',
        leaderInstance: '',
        reason: 'the database is unreachable: postgres://vigil:s3cret@db:5432/vigil refused the connection',
      }),
    ).toEqual({
      status: 'ok',
      leader: false,
      instance: 'vigil-b',
      leaderInstance: null,
      reason: 'the database is unreachable: postgres://[redacted]@db:5432/vigil refused the connection',
    });
  });

  test('the leader names only itself, whatever reason is left', () => {
    expect(
      leaderOutcome({ leader: true, instance: 'vigil-a', leaderInstance: 'vigil-a', reason: 'stale' }),
    ).toEqual({ status: 'ok', leader: true, instance: 'vigil-a' });
  });
});
