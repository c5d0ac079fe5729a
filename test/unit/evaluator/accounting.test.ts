import { describe, expect, it } from 'vitest';
import {
  type AccountingContext,
  accountCheck,
  accountEvaluation,
  type CheckState,
  reduceVerdict,
} from '../../../src/evaluator/accounting.js';
import type { CheckOutcome, CheckResult } from '../../../src/evaluator/types.js';

const T0 = Date.parse('2026-11-27T10:00:00Z');
const MIN = 60_000;

function check(result: CheckOutcome, extra: Partial<CheckResult> = {}): CheckResult {
  return {
    name: 'error-rate',
    kind: 'slo',
    result,
    value: result === 'fail' ? 0.034 : 0.004,
    objective: { lt: 0.01 },
    baseline: null,
    samples: 1,
    query: 'q',
    explanation: result === 'fail' ? '0.034 is not < 0.01' : '0.004 is < 0.01',
    consecutiveFailures: 0,
    evaluatedAt: new Date(T0).toISOString(),
    ...(result === 'fail' ? { violation: '0.034 ≥ objective 0.01' } : {}),
    ...extra,
  };
}

/** Replays a sequence of results, one per minute from T0 + 1m, and returns the final verdict. */
function replay(results: CheckResult[], options: Partial<AccountingContext> = {}) {
  let states: Record<string, CheckState> = {};
  let last: CheckResult[] = [];
  let at = T0;
  for (const r of results) {
    at += MIN;
    const ctx: AccountingContext = {
      at,
      deployedAt: T0,
      failureLimit: 3,
      inconclusiveLimitMs: 15 * MIN,
      ...options,
    };
    const out = accountEvaluation(states, [r], ctx);
    states = out.states;
    last = out.results;
  }
  return {
    states,
    last,
    ...reduceVerdict(last, states, { at, inconclusiveLimitMs: options.inconclusiveLimitMs ?? 15 * MIN }),
  };
}

const fail = () => check('fail');
const pass = () => check('pass');
const inconclusive = () =>
  check('inconclusive', { explanation: 'prometheus unavailable: connect ECONNREFUSED' });

describe('failure accounting', () => {
  it('three consecutive failures fail the watch with the DESIGN §6 reason', () => {
    const out = replay([fail(), fail(), fail()]);
    expect(out.verdict).toBe('fail');
    expect(out.reasons).toEqual(['error-rate 0.034 ≥ objective 0.01 for 3 consecutive evaluations']);
    expect(out.last[0]?.consecutiveFailures).toBe(3);
  });

  it('two failures are a warning, not yet a failure', () => {
    const out = replay([fail(), fail()]);
    expect(out.verdict).toBe('warn');
    expect(out.reasons[0]).toContain('(failing, 2 of 3 failing evaluations)');
  });

  it('a pass in between resets the streak', () => {
    expect(replay([fail(), fail(), pass(), fail(), fail()]).verdict).toBe('warn');
  });

  it('an inconclusive evaluation neither resets nor extends the streak', () => {
    const out = replay([fail(), fail(), inconclusive(), fail()]);
    expect(out.verdict).toBe('fail');
    expect(out.last[0]?.consecutiveFailures).toBe(3);
  });

  it('a critical check fails the watch on its first failure', () => {
    const out = replay([check('fail', { critical: true })]);
    expect(out.verdict).toBe('fail');
    expect(out.reasons[0]).toBe('error-rate 0.034 ≥ objective 0.01 for 1 consecutive evaluation');
  });

  it('a per-check failureLimit overrides the watch default', () => {
    const f = () => check('fail', { failureLimit: 5 });
    expect(replay([f(), f(), f(), f()]).verdict).toBe('warn');
    expect(replay([f(), f(), f(), f(), f()]).verdict).toBe('fail');
  });

  it('a tripped check keeps the watch failed after a later pass', () => {
    expect(replay([fail(), fail(), fail(), pass()]).verdict).toBe('fail');
  });

  it('initialDelay skips the first evaluations after the deploy', () => {
    const out = replay([fail(), fail(), fail()], { initialDelayMs: 3 * MIN });
    // Evaluations at +1m and +2m are inside the 3m delay; only the one at +3m counts.
    expect(out.verdict).toBe('warn');
    expect(out.last[0]?.consecutiveFailures).toBe(1);
  });

  it('evaluations inside initialDelay are marked not counted and the verdict stays pending', () => {
    const out = replay([fail()], { initialDelayMs: 5 * MIN });
    expect(out.verdict).toBe('pending');
    expect(out.last[0]?.counted).toBe(false);
    expect(out.last[0]?.explanation).toContain('within initialDelay 5m: not counted');
  });

  it('a per-check initialDelay overrides the watch default', () => {
    const f = () => check('fail', { initialDelayMs: 10 * MIN });
    expect(replay([f(), f(), f()]).verdict).toBe('pending');
  });

  it('a check inconclusive for 15 minutes makes the watch blind', () => {
    const out = replay(Array.from({ length: 16 }, inconclusive));
    expect(out.verdict).toBe('inconclusive');
    expect(out.reasons[0]).toBe(
      'error-rate inconclusive for 15m (limit 15m): prometheus unavailable: connect ECONNREFUSED',
    );
  });

  it('a shorter inconclusive run is only a warning', () => {
    const out = replay(Array.from({ length: 5 }, inconclusive));
    expect(out.verdict).toBe('warn');
    expect(out.reasons[0]).toContain('error-rate inconclusive for 4m');
  });

  it('a pass ends the inconclusive run', () => {
    expect(
      replay([...Array.from({ length: 14 }, inconclusive), pass(), inconclusive(), inconclusive()]).verdict,
    ).toBe('warn');
  });

  it('a shadow check never fails the watch', () => {
    let states: Record<string, CheckState> = {};
    let last: CheckResult[] = [];
    for (let i = 1; i <= 4; i++) {
      const ctx = { at: T0 + i * MIN, deployedAt: T0, failureLimit: 3, inconclusiveLimitMs: 15 * MIN };
      const out = accountEvaluation(
        states,
        [check('fail', { shadow: true }), check('pass', { name: 'p95' })],
        ctx,
      );
      states = out.states;
      last = out.results;
    }
    const verdict = reduceVerdict(last, states, { at: T0 + 4 * MIN, inconclusiveLimitMs: 15 * MIN });
    expect(verdict).toMatchObject({ verdict: 'pass', reasons: [], decision: null });
    expect(states['error-rate']?.consecutiveFailures).toBe(4);
  });

  it('counts failures per check', () => {
    let states: Record<string, CheckState> = {};
    for (let i = 1; i <= 3; i++) {
      const ctx = { at: T0 + i * MIN, deployedAt: T0, failureLimit: 3, inconclusiveLimitMs: 15 * MIN };
      const out = accountEvaluation(states, [fail(), check('pass', { name: 'p95-latency' })], ctx);
      states = out.states;
    }
    expect(states['error-rate']?.consecutiveFailures).toBe(3);
    expect(states['p95-latency']?.consecutiveFailures).toBe(0);
  });

  it('accountCheck is pure: the prior state is not modified', () => {
    const prior: CheckState = {
      consecutiveFailures: 1,
      evaluations: 1,
      lastResult: 'fail',
      inconclusiveSince: null,
      trippedReason: null,
    };
    const frozen = Object.freeze({ ...prior });
    accountCheck(frozen, fail(), {
      at: T0 + MIN,
      deployedAt: T0,
      failureLimit: 3,
      inconclusiveLimitMs: 15 * MIN,
    });
    expect(frozen.consecutiveFailures).toBe(1);
  });

  it('with no checks the verdict is pending', () => {
    expect(reduceVerdict([], {}, { at: T0, inconclusiveLimitMs: 15 * MIN }).verdict).toBe('pending');
  });
});

describe('enforcement and blindness (DESIGN §6)', () => {
  const ctxAt = (i: number) => ({
    at: T0 + i * MIN,
    deployedAt: T0,
    failureLimit: 1,
    inconclusiveLimitMs: 15 * MIN,
  });
  const trip = (extra: Partial<CheckResult>[]) => {
    const results = extra.map((e, i) => check('fail', { name: `c${i}`, ...e }));
    const out = accountEvaluation({}, results, ctxAt(1));
    return reduceVerdict(out.results, out.states, {
      at: T0 + MIN,
      inconclusiveLimitMs: 15 * MIN,
      failureLimit: 1,
    });
  };

  it.each([
    [[{ enforce: 'rollback' as const }], 'fail', 'rollback'],
    [[{ enforce: 'hold' as const }], 'fail', 'hold'],
    [[{ enforce: 'hold' as const }, { enforce: 'rollback' as const }], 'fail', 'rollback'],
    [[{ enforce: 'alert' as const }], 'warn', null],
    [[{ enforce: 'shadow' as const }], 'pending', null],
    [[{}], 'fail', 'rollback'],
  ])('a tripped check under %j makes the watch %s (decision %s)', (extra, verdict, decision) => {
    const out = trip(extra);
    expect(out.verdict).toBe(verdict);
    expect(out.decision).toBe(decision);
  });

  it('an alert-enforced trip is named as alerted, with no rollback', () => {
    const out = trip([{ enforce: 'alert' }]);
    expect(out.alerting.map((a) => a.check)).toEqual(['c0']);
    expect(out.reasons[0]).toContain('enforce: alert: alerted, no rollback');
  });

  it('the watch default enforcement applies to checks that do not say', () => {
    const out = accountEvaluation({}, [check('fail')], { ...ctxAt(1), enforce: 'hold' });
    expect(out.results[0]?.enforce).toBe('hold');
    expect(
      reduceVerdict(out.results, out.states, { at: T0 + MIN, inconclusiveLimitMs: 15 * MIN }).decision,
    ).toBe('hold');
  });

  it('warm-up (not enough post-deploy data) is never blindness; a broken source is', () => {
    let warm: Record<string, CheckState> = {};
    let broken: Record<string, CheckState> = {};
    for (let i = 1; i <= 20; i++) {
      warm = accountEvaluation(warm, [check('inconclusive', { warmingUp: true })], ctxAt(i)).states;
      broken = accountEvaluation(broken, [check('inconclusive')], ctxAt(i)).states;
    }
    const at = { at: T0 + 20 * MIN, inconclusiveLimitMs: 15 * MIN };
    expect(reduceVerdict([check('inconclusive', { warmingUp: true })], warm, at).blind).toEqual([]);
    expect(reduceVerdict([check('inconclusive')], broken, at).blind.map((b) => b.check)).toEqual([
      'error-rate',
    ]);
  });
});
