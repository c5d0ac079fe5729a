import { afterEach, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../../src/evaluator/types.js';
import { WAIT_EXIT, waitOutcome } from '../../../src/watch/outcome.js';
import { advance, check, createHarness, type Harness, HOUR, MINUTE, SETTINGS, T0 } from './harness.js';

/*
 * Verdicts an on-call engineer can trust (DESIGN §6): no clean pass that was not earned, one rollback
 * per decision, and enforcement levels that let a team hold a deploy for a human instead of rolling back.
 */

let current: Harness | undefined;
afterEach(async () => {
  await current?.manager.stop();
  await current?.close();
  current = undefined;
});

async function start(options: Parameters<typeof createHarness>[0] = {}): Promise<Harness> {
  current = await createHarness({ ...options, settings: { phases: ['bake'], ...options.settings } });
  return current;
}

async function created(h: Harness, input: { version: string; previousVersion?: string } = { version: '2' }) {
  const out = await h.manager.create({ service: 'prep-api', ...input });
  if (!out.ok) throw new Error(JSON.stringify(out.problems));
  return out.watch.id;
}

const blindFrom4hTo14h = (minute: number): CheckResult[] => [
  minute >= 4 * 60 && minute < 14 * 60
    ? check('error-rate', 'inconclusive', null, {
        explanation: 'prometheus unavailable: connect ECONNREFUSED',
      })
    : check('error-rate', 'pass', 0.002),
];

describe('blindness is part of the verdict', () => {
  it('a watch blind for 10 of its 24 hours ends inconclusive with the span, not passed', async () => {
    const h = await start({ evaluate: blindFrom4hTo14h });
    const id = await created(h);
    await advance(h.clock, 24 * HOUR);
    const watch = await h.manager.get(id);
    expect(watch).toMatchObject({ status: 'inconclusive', verdict: 'inconclusive' });
    expect(watch?.blindSpans).toEqual([
      {
        from: new Date(T0 + 4 * HOUR).toISOString(),
        to: new Date(T0 + 14 * HOUR).toISOString(),
        checks: ['error-rate'],
        reason: 'error-rate: prometheus unavailable: connect ECONNREFUSED',
      },
    ]);
    expect(watch?.reasons[0]).toContain('blind for 10h');
    expect(waitOutcome((await h.manager.verdict(id)) ?? fail(), 'complete').code).toBe(
      WAIT_EXIT.inconclusive,
    );
    const blindEvents = watch?.timeline.filter((e) => e.type === 'blind') ?? [];
    expect(blindEvents.map((e) => e.at)).toEqual([
      new Date(T0 + 4 * HOUR + 15 * MINUTE).toISOString(),
      new Date(T0 + 14 * HOUR).toISOString(),
    ]);
  });

  it('the evaluation that ends a blind span already warns about it, never a pass in between', async () => {
    const h = await start({ evaluate: blindFrom4hTo14h });
    const id = await created(h);
    await advance(h.clock, 14 * HOUR, MINUTE);
    // 14 h in (00:00Z) is the first evaluation with data again: it closes the span and its verdict names it.
    expect(await h.manager.verdict(id)).toMatchObject({ status: 'running', verdict: 'warn' });
    expect((await h.manager.verdict(id))?.reasons[0]).toMatch(/^was blind for 10h \(14:00–00:00Z\)/);
  });

  it('onBlind: warn ends the watch warn with the spans as reasons', async () => {
    const h = await start({ evaluate: blindFrom4hTo14h, settings: { onBlind: 'warn' } });
    const id = await created(h);
    await advance(h.clock, 24 * HOUR);
    const verdict = await h.manager.verdict(id);
    expect(verdict).toMatchObject({ status: 'passed', verdict: 'warn' });
    expect(verdict?.reasons.join('\n')).toMatch(/blind for 10h .*error-rate/);
  });

  it('inconclusive only while warming up after the deploy is not blindness', async () => {
    const h = await start({
      evaluate: (minute) => [
        minute < 30
          ? check('error-rate', 'inconclusive', null, {
              explanation: 'not enough post-deploy data (20s of 1m)',
              warmingUp: true,
            })
          : check('error-rate', 'pass', 0.002),
      ],
      settings: { durationMs: 2 * HOUR },
    });
    const id = await created(h);
    await advance(h.clock, 2 * HOUR);
    expect(await h.manager.get(id)).toMatchObject({ status: 'passed', verdict: 'pass', blindSpans: [] });
  });
});

describe('an evaluation that throws', () => {
  it('makes every check of the evaluation inconclusive with the error, counts toward blindness, and is in the timeline', async () => {
    const h = await start({ settings: { durationMs: HOUR } });
    h.deps.bakeChecks = () => ['error-rate', 'p95-latency'];
    h.deps.evaluate = async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'value')");
    };
    const id = await created(h);
    await advance(h.clock, HOUR);
    const watch = await h.manager.get(id);
    expect(watch).toMatchObject({ status: 'inconclusive', verdict: 'inconclusive' });
    expect(watch?.checks.map((c) => [c.name, c.result])).toEqual([
      ['error-rate', 'inconclusive'],
      ['p95-latency', 'inconclusive'],
    ]);
    expect(watch?.checks[0]?.explanation).toBe(
      "evaluation failed: Cannot read properties of undefined (reading 'value')",
    );
    expect(JSON.stringify(watch)).not.toContain('    at ');
    expect(
      watch?.timeline.some((e) => e.type === 'evaluation' && /evaluation \d+ failed/.test(e.message)),
    ).toBe(true);
  });

  it('a bake with no checks at all is refused at watch start', async () => {
    const h = await start();
    h.deps.bakeChecks = () => [];
    const out = await h.manager.create({ service: 'prep-api', version: '2' });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.problems[0]?.message).toMatch(/bake would judge nothing/);
  });
});

describe('an inconclusive load phase', () => {
  const k6Missing = async () =>
    ({
      ...check('load:smoke', 'inconclusive', null),
      kind: 'load',
      explanation: 'k6 exited 107: SyntaxError: Unexpected token (24:39)',
    }) as CheckResult;

  it('ends the watch inconclusive with what happened', async () => {
    const h = await start({
      runLoad: k6Missing,
      settings: { phases: ['load', 'bake'], loadProfile: 'smoke', durationMs: HOUR },
    });
    const id = await created(h);
    await advance(h.clock, HOUR);
    const verdict = await h.manager.verdict(id);
    expect(verdict).toMatchObject({ status: 'inconclusive', verdict: 'inconclusive' });
    expect(verdict?.reasons).toContain(
      'load:smoke inconclusive: k6 exited 107: SyntaxError: Unexpected token (24:39)',
    );
    expect(waitOutcome(verdict ?? fail(), 'complete').code).toBe(WAIT_EXIT.inconclusive);
  });

  it('loadtests.onInconclusive: warn softens it to warn', async () => {
    const h = await start({
      runLoad: k6Missing,
      settings: {
        phases: ['load', 'bake'],
        loadProfile: 'smoke',
        durationMs: HOUR,
        onLoadInconclusive: 'warn',
      },
    });
    const id = await created(h);
    await advance(h.clock, HOUR);
    expect(await h.manager.verdict(id)).toMatchObject({ status: 'passed', verdict: 'warn' });
  });
});

describe('enforcement levels', () => {
  const failingFrom = (minute0: number, extra: Partial<CheckResult>) => (minute: number) => [
    minute >= minute0
      ? check('error-rate', 'fail', 0.05, { critical: true, ...extra })
      : check('error-rate', 'pass', 0.001, extra),
  ];

  it('alert: the watch warns and pages, and never rolls back', async () => {
    const h = await start({
      evaluate: failingFrom(10, { enforce: 'alert' }),
      settings: { durationMs: HOUR },
    });
    const id = await created(h);
    await advance(h.clock, HOUR);
    expect(await h.manager.verdict(id)).toMatchObject({ status: 'passed', verdict: 'warn' });
    expect(h.failed).toHaveLength(0);
    expect(h.alerts.filter((a) => a.action === 'fire').map((a) => a.alert.alertname)).toEqual([
      'VigilSLOViolation',
    ]);
  });

  it('hold: the watch stops in held, wait exits 5, and a hold timeout rolls back exactly once', async () => {
    const h = await start({
      evaluate: failingFrom(10, { enforce: 'hold' }),
      settings: { holdTimeoutMs: 30 * MINUTE, onHoldTimeout: 'rollback' },
    });
    const id = await created(h);
    await advance(h.clock, 20 * MINUTE, MINUTE);
    const held = await h.manager.verdict(id);
    expect(held).toMatchObject({ status: 'held', verdict: 'fail' });
    expect(waitOutcome(held ?? fail(), 'complete').code).toBe(WAIT_EXIT.held);
    expect(h.failed).toHaveLength(0);
    expect(h.alerts.map((a) => `${a.action} ${a.alert.alertname}`)).toContain('fire VigilWatchHeld');
    const evaluationsWhileHeld = h.evaluations.length;
    await advance(h.clock, 2 * HOUR, MINUTE);
    expect(h.evaluations.length).toBe(evaluationsWhileHeld);
    const ended = await h.manager.get(id);
    expect(ended).toMatchObject({ status: 'failed', verdict: 'fail' });
    expect(ended?.reasons[0]).toMatch(/held 30m with no decision: onHoldTimeout rollback/);
    expect(h.failed).toHaveLength(1);
    expect(h.manualRollbacks).toHaveLength(0);
  });

  it('hold → promote: the watch passes with a warn and nothing rolls back', async () => {
    const h = await start({ evaluate: failingFrom(10, { enforce: 'hold' }) });
    const id = await created(h);
    await advance(h.clock, 20 * MINUTE, MINUTE);
    const out = await h.manager.override(id, 'promote', { who: 'alice', reason: 'known noisy dependency' });
    expect(out.ok).toBe(true);
    await advance(h.clock, 2 * HOUR, MINUTE);
    expect(await h.manager.verdict(id)).toMatchObject({ status: 'passed', verdict: 'warn' });
    expect(h.failed).toHaveLength(0);
    expect(h.manualRollbacks).toHaveLength(0);
  });

  it('hold → operator rollback: one rollback, and a second request is refused naming the first', async () => {
    const h = await start({ evaluate: failingFrom(10, { enforce: 'hold' }) });
    const id = await created(h);
    await advance(h.clock, 20 * MINUTE, MINUTE);
    expect((await h.manager.override(id, 'rollback', { who: 'alice', reason: 'bad' })).ok).toBe(true);
    await advance(h.clock, 2 * HOUR, MINUTE);
    const second = await h.manager.override(id, 'rollback', { who: 'bob', reason: 'again' });
    expect(second).toMatchObject({ ok: false, code: 'conflict' });
    if (second.ok) return;
    expect(second.message).toMatch(/already rolled back .* by alice/);
    expect(h.manualRollbacks).toHaveLength(1);
    expect(h.failed).toHaveLength(0);
  });

  it('an automatic rollback followed by an operator rollback is one rollback (409 for the second)', async () => {
    const h = await start({ evaluate: failingFrom(10, {}) });
    const id = await created(h);
    await advance(h.clock, HOUR, MINUTE);
    expect(h.failed).toHaveLength(1);
    const second = await h.manager.override(id, 'rollback', { who: 'alice', reason: 'make sure' });
    expect(second).toMatchObject({ ok: false, code: 'conflict' });
    expect(h.manualRollbacks).toHaveLength(0);
  });
  it('a rollback the actions layer already holds (from an older store) is refused too, writing nothing', async () => {
    const h = await start({ settings: { durationMs: HOUR } });
    const earlier = {
      at: T0 - HOUR,
      trigger: 'automatic' as const,
      who: null,
      reason: 'error-rate over 1 5m window',
    };
    h.deps.manualRollback = async () => ({ existing: earlier });
    const id = await created(h);
    await advance(h.clock, HOUR);
    const out = await h.manager.override(id, 'rollback', { who: 'alice', reason: 'again' });
    expect(out).toMatchObject({ ok: false, code: 'conflict' });
    if (out.ok) return;
    expect(out.message).toContain(`already rolled back at ${new Date(T0 - HOUR).toISOString()} (automatic`);
    expect((await h.manager.get(id))?.timeline.some((e) => e.type === 'override')).toBe(false);
  });
});

describe('the default previous version', () => {
  it('is the version of the last watch that passed, not of a failed one', async () => {
    const h = await start({ settings: { durationMs: HOUR } });
    await created(h, { version: '1.4.1' });
    await advance(h.clock, HOUR);
    h.deps.evaluate = async (ctx) => [
      {
        ...check('error-rate', 'fail', 0.2, { critical: true }),
        evaluatedAt: new Date(ctx.at).toISOString(),
      },
    ];
    const bad = await created(h, { version: '1.4.2' });
    await advance(h.clock, HOUR);
    expect((await h.manager.verdict(bad))?.status).toBe('failed');
    const next = await h.manager.create({ service: 'prep-api', version: '1.4.3' });
    expect(next.ok && next.watch.previousVersion).toBe('1.4.1');
  });

  it('with no watch that passed there is none, and the start answer says so', async () => {
    const h = await start();
    const out = await h.manager.create({ service: 'prep-api', version: '1.0.0' });
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.watch.previousVersion).toBeNull();
    expect(out.watch.warnings?.[0]).toMatch(/no earlier watch of prep-api passed/);
  });
});

function fail(): never {
  throw new Error('no verdict');
}

describe('a reload during a watch', () => {
  it('applies new settings from the next evaluation, keeps the running watch on its interval, and says so', async () => {
    const h = await start({
      evaluate: (minute) => [
        check('error-rate', minute >= 20 ? 'fail' : 'pass', minute >= 20 ? 0.05 : 0.001),
      ],
      settings: { durationMs: 2 * HOUR, failureLimit: 10 },
    });
    const id = await created(h);
    await advance(h.clock, 10 * MINUTE, MINUTE);
    const before = { ...SETTINGS, phases: ['bake' as const], durationMs: 2 * HOUR, failureLimit: 10 };
    await h.manager.reconfigure({ ...before, failureLimit: 2, evaluationIntervalMs: 30_000 });
    await advance(h.clock, HOUR, MINUTE);
    const watch = await h.manager.get(id);
    // failureLimit 2 (not 10) applied: failed at minute 21, the second failing evaluation.
    expect(watch).toMatchObject({ status: 'failed' });
    expect(watch?.endedAt).toBe(new Date(T0 + 21 * MINUTE).toISOString());
    expect(watch?.timeline.some((e) => e.type === 'gap')).toBe(false);
    const config = watch?.timeline.find((e) => e.type === 'config');
    expect(config?.message).toContain('evaluationIntervalMs 60000 → 30000');
    expect(config?.message).toContain('failureLimit 10 → 2');
    expect(config?.message).toMatch(/only to watches started after it\)$/);
  });
});
