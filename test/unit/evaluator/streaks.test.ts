import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AccountingContext,
  accountEvaluation,
  type CheckState,
  reduceVerdict,
} from '../../../src/evaluator/accounting.js';
import type { CheckOutcome, CheckResult } from '../../../src/evaluator/types.js';

/*
 * DESIGN §6: a failing evaluation counts toward failureLimit only when its window does not overlap the
 * window of the previous counted failure of that check. One event seen through five overlapping
 * windows is one piece of evidence, not five.
 */

const T0 = Date.parse('2026-11-27T10:00:00Z');
const MIN = 60_000;

function result(outcome: CheckOutcome, at: number, windowMs: number, extra: Partial<CheckResult> = {}) {
  const from = Math.max(T0, at - windowMs);
  const check: CheckResult = {
    name: 'health-availability',
    kind: 'slo',
    result: outcome,
    value: outcome === 'fail' ? 0.95 : 1,
    objective: { gte: 0.99 },
    baseline: null,
    samples: 20,
    query: 'probe health successRatio',
    explanation: outcome === 'fail' ? '0.95 is not ≥ 0.99' : '1 is ≥ 0.99',
    consecutiveFailures: 0,
    evaluatedAt: new Date(at).toISOString(),
    range: { from: new Date(from).toISOString(), to: new Date(at).toISOString() },
    ...(outcome === 'fail' ? { violation: '0.95 < objective 0.99' } : {}),
    ...extra,
  };
  return check;
}

/** Replays one outcome per evaluation (every `intervalMs` from T0 + interval) and returns the final state. */
function replay(
  outcomes: readonly CheckOutcome[],
  options: { windowMs: number; intervalMs: number; failureLimit?: number; extra?: Partial<CheckResult> },
) {
  let states: Record<string, CheckState> = {};
  let last: CheckResult[] = [];
  let counted = 0;
  let firstTrip: number | null = null;
  let at = T0;
  for (const outcome of outcomes) {
    at += options.intervalMs;
    const ctx: AccountingContext = {
      at,
      deployedAt: T0,
      failureLimit: options.failureLimit ?? 3,
      inconclusiveLimitMs: 15 * MIN,
    };
    const before = states['health-availability']?.consecutiveFailures ?? 0;
    const out = accountEvaluation(states, [result(outcome, at, options.windowMs, options.extra)], ctx);
    states = out.states;
    last = out.results;
    const after = states['health-availability']?.consecutiveFailures ?? 0;
    if (after > before) counted++;
    if (firstTrip === null && states['health-availability']?.trippedReason) firstTrip = at;
  }
  return {
    states,
    last,
    counted,
    firstTrip,
    ...reduceVerdict(last, states, {
      at,
      inconclusiveLimitMs: 15 * MIN,
      failureLimit: options.failureLimit ?? 3,
    }),
  };
}

describe('failure streaks count independent evidence', () => {
  it('one blip seen by five overlapping 5m windows counts once and rolls nothing back', () => {
    // One failed probe among 300 makes the 5m success ratio fail on the five evaluations whose
    // window holds it; then the ratio passes again.
    const out = replay(['pass', 'fail', 'fail', 'fail', 'fail', 'fail', 'pass', 'pass'], {
      windowMs: 5 * MIN,
      intervalMs: MIN,
    });
    expect(out.counted).toBe(1);
    expect(out.firstTrip).toBeNull();
    expect(out.verdict).toBe('pass');
  });

  it('while the blip is still in the window the check is a warning with 1 of 3, not 5 of 3', () => {
    const out = replay(['pass', 'fail', 'fail', 'fail', 'fail', 'fail'], {
      windowMs: 5 * MIN,
      intervalMs: MIN,
    });
    expect(out.verdict).toBe('warn');
    expect(out.last[0]?.consecutiveFailures).toBe(1);
    expect(out.reasons[0]).toContain('1 of 3');
  });

  it('a sustained failure trips after three non-overlapping windows, with the data it saw', () => {
    const outcomes: CheckOutcome[] = [
      ...Array<CheckOutcome>(4).fill('pass'),
      ...Array<CheckOutcome>(12).fill('fail'),
    ];
    const out = replay(outcomes, { windowMs: 5 * MIN, intervalMs: MIN });
    expect(out.verdict).toBe('fail');
    // Counted at 5m (window 0–5m), 10m (5–10m) and 15m (10–15m).
    expect(out.firstTrip).toBe(T0 + 15 * MIN);
    expect(out.reasons).toEqual([
      'health-availability 0.95 < objective 0.99 over 3 independent 5m windows (15m of data)',
    ]);
  });

  it('clamped windows right after the deploy count as the data they hold', () => {
    // 2m window evaluated every minute, from the deploy: ranges 0–1m, 0–2m, 1–3m, 2–4m …
    const out = replay(Array<CheckOutcome>(6).fill('fail'), { windowMs: 2 * MIN, intervalMs: MIN });
    // Counted at 1m (0–1m), 3m (1–3m) and 5m (3–5m): a range that starts where the last counted one
    // ended does not overlap it.
    expect(out.counted).toBe(3);
    expect(out.verdict).toBe('fail');
  });

  it('a critical check fails on its first failing window', () => {
    const out = replay(['pass', 'fail'], { windowMs: 5 * MIN, intervalMs: MIN, extra: { critical: true } });
    expect(out.verdict).toBe('fail');
    // Its window is clamped to the 2 minutes since the deploy.
    expect(out.reasons[0]).toMatch(/over 1 2m window$/);
  });

  it('a pass resets the streak; a failure inside the last counted window is still the same evidence', () => {
    const window = { windowMs: 5 * MIN, intervalMs: MIN };
    // Counted at 5m and 10m (2 of 3), then a pass resets the streak.
    const base: CheckOutcome[] = [
      ...Array<CheckOutcome>(4).fill('pass'),
      ...Array<CheckOutcome>(6).fill('fail'),
      'pass',
    ];
    expect(replay(base, window).last[0]?.consecutiveFailures).toBe(0);
    // 12m: its window (7–12m) overlaps the failure counted up to 10m — not counted again.
    const overlapping = replay([...base, 'fail'], window);
    expect(overlapping.last[0]?.consecutiveFailures).toBe(0);
    expect(overlapping.last[0]?.explanation).toContain('not counted again');
    // 15m: window 10–15m is new evidence: 1 of 3, not 3 of 3.
    const fresh = replay([...base, 'fail', 'fail', 'fail', 'fail'], window);
    expect(fresh.last[0]?.consecutiveFailures).toBe(1);
    expect(fresh.verdict).toBe('warn');
  });

  it('results without a range (no window) count every evaluation, as before', () => {
    let states: Record<string, CheckState> = {};
    for (let i = 1; i <= 3; i++) {
      const { range: _none, ...noRange } = result('fail', T0 + i * MIN, 5 * MIN);
      states = accountEvaluation(states, [noRange], {
        at: T0 + i * MIN,
        deployedAt: T0,
        failureLimit: 3,
        inconclusiveLimitMs: 15 * MIN,
      }).states;
    }
    expect(states['health-availability']?.trippedReason).toMatch(/for 3 consecutive evaluations/);
  });

  it('property: counted failures never exceed bad-data time / window + 1', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<CheckOutcome>('pass', 'fail', 'inconclusive', 'warn'), { maxLength: 120 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 10 }),
        (outcomes, windowMinutes, intervalMinutes) => {
          const windowMs = windowMinutes * MIN;
          const intervalMs = intervalMinutes * MIN;
          const out = replay(outcomes, { windowMs, intervalMs, failureLimit: 1_000 });
          // Bad-data time: the union of the ranges of failing evaluations.
          const ranges = outcomes.flatMap((o, i) => {
            const at = T0 + (i + 1) * intervalMs;
            return o === 'fail' ? [[Math.max(T0, at - windowMs), at] as const] : [];
          });
          let covered = 0;
          let end = Number.NEGATIVE_INFINITY;
          for (const [from, to] of ranges) {
            const start = Math.max(from, end);
            if (to > start) covered += to - start;
            end = Math.max(end, to);
          }
          expect(out.counted).toBeLessThanOrEqual(Math.floor(covered / windowMs) + 1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: a sustained regression trips within failureLimit × window + interval', () => {
    // Windows are whole multiples of the evaluation interval (5m every 1m, 30m every 5m): evaluating less
    // often than the window, or off its grid, leaves data no evaluation sees.
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 5 }),
        (goodEvaluations, windowIntervals, intervalMinutes, failureLimit) => {
          const intervalMs = intervalMinutes * MIN;
          const windowMs = windowIntervals * intervalMs;
          const bad = Math.ceil((failureLimit * windowMs + intervalMs) / intervalMs) + 1;
          const outcomes: CheckOutcome[] = [
            ...Array<CheckOutcome>(goodEvaluations).fill('pass'),
            ...Array<CheckOutcome>(bad).fill('fail'),
          ];
          const out = replay(outcomes, { windowMs, intervalMs, failureLimit });
          const regressionAt = T0 + goodEvaluations * intervalMs;
          expect(out.firstTrip).not.toBeNull();
          expect((out.firstTrip ?? 0) - regressionAt).toBeLessThanOrEqual(
            failureLimit * windowMs + intervalMs,
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
