import { afterEach, describe, expect, it } from 'vitest';
import {
  advance,
  check,
  createHarness,
  type Harness,
  HOUR,
  MINUTE,
  storedEvaluations,
  T0,
} from './harness.js';

let current: Harness | undefined;
afterEach(async () => {
  await current?.manager.stop();
  await current?.close();
  current = undefined;
});

async function start(options: Parameters<typeof createHarness>[0] = {}): Promise<Harness> {
  current = await createHarness(options);
  return current;
}

async function created(h: Harness, input: Parameters<Harness['manager']['create']>[0]) {
  const outcome = await h.manager.create(input);
  if (!outcome.ok) throw new Error(JSON.stringify(outcome.problems));
  return outcome.watch;
}

describe('superseding and previous versions', () => {
  it('a new watch of a service supersedes its running one, recorded in both timelines', async () => {
    const h = await start();
    const first = await created(h, { service: 'prep-api', version: '1.0.0' });
    await advance(h.clock, 10 * MINUTE, MINUTE);
    const second = await created(h, { service: 'prep-api', version: '1.1.0' });
    const old = await h.manager.get(first.id);
    expect(old).toMatchObject({ status: 'aborted', supersededBy: second.id });
    expect(old?.reasons[0]).toBe(`superseded by ${second.id} (version 1.1.0)`);
    expect(old?.timeline.some((e) => e.type === 'superseded' && e.message.includes(second.id))).toBe(true);
    expect(second.timeline.some((e) => e.type === 'superseded' && e.message.includes(first.id))).toBe(true);
    // 1.0.0 never passed (it was superseded mid-watch): it is no baseline to compare with.
    expect(second.previousVersion).toBeNull();
    expect(second.warnings?.[0]).toMatch(/no earlier watch of prep-api passed/);
    expect(h.ended).toEqual([`${first.id} aborted`]);
    const before = storedEvaluations(first.id).length;
    await advance(h.clock, HOUR, MINUTE);
    expect(storedEvaluations(first.id)).toHaveLength(before);
    expect(storedEvaluations(second.id).length).toBeGreaterThan(50);
    const text = await h.metrics.registry.metrics();
    expect(text).toContain('vigil_watches_total{service="prep-api",result="aborted"} 1');
    expect(text).not.toContain('version="1.0.0"');
  });

  it('another service keeps its running watch; an explicit previousVersion wins', async () => {
    const h = await start();
    const a = await created(h, { service: 'prep-api', version: '1' });
    await created(h, { service: 'billing', version: '9', previousVersion: '8' });
    expect((await h.manager.verdict(a.id))?.status).toBe('running');
    expect((await h.manager.list({ service: 'billing' }))[0]?.previousVersion).toBe('8');
    expect(await h.manager.list({ status: 'running' })).toHaveLength(2);
  });

  it('appendTimeline adds an event (a delivery attempt) to a watch', async () => {
    const h = await start();
    const watch = await created(h, { service: 'prep-api', version: '1' });
    expect(
      await h.manager.appendTimeline(watch.id, {
        at: T0,
        type: 'action',
        message: 'rollback → deploy-bot delivered',
      }),
    ).toBe(true);
    expect(await h.manager.appendTimeline('w_nope', { at: T0, type: 'action', message: 'x' })).toBe(false);
    expect((await h.manager.get(watch.id))?.timeline.at(-1)?.message).toBe('rollback → deploy-bot delivered');
  });

  it('lists watches newest first', async () => {
    const h = await start();
    const a = await created(h, { service: 'a', version: '1' });
    await h.clock.advance(1000);
    const b = await created(h, { service: 'b', version: '1' });
    expect((await h.manager.list()).map((w) => w.id)).toEqual([b.id, a.id]);
  });
});

describe('startedAt of a deploy registered late', () => {
  it.each([
    { name: 'in the future', startedAt: T0 + 60 * MINUTE, message: 'startedAt lies in the future' },
    { name: 'older than the duration', startedAt: T0 - 25 * HOUR, message: 'not less than the duration' },
  ])('is refused when $name', async ({ startedAt, message }) => {
    const h = await start();
    const outcome = await h.manager.create({ service: 'prep-api', version: '1', startedAt });
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.problems[0]?.message).toContain(message);
  });

  it('counts elapsed time from the given start: evaluations are numbered from the deploy', async () => {
    const h = await start({ settings: { phases: ['bake'], durationMs: 2 * HOUR } });
    const watch = await created(h, { service: 'prep-api', version: '1', startedAt: T0 - 90 * MINUTE });
    await advance(h.clock, HOUR, MINUTE);
    expect(storedEvaluations(watch.id)[0]).toBe(90);
    expect(await h.manager.verdict(watch.id)).toMatchObject({ status: 'passed' });
    expect((await h.manager.get(watch.id))?.timeline.some((e) => e.type === 'gap')).toBe(false);
  });
});

describe('operator overrides', () => {
  it.each([
    { action: 'abort' as const, status: 'aborted', verdict: 'pass' },
    { action: 'promote' as const, status: 'passed', verdict: 'pass' },
    { action: 'rollback' as const, status: 'failed', verdict: 'fail' },
  ])(
    '$action ends a running watch as $status, recorded with who and why',
    async ({ action, status, verdict }) => {
      const h = await start();
      const watch = await created(h, { service: 'prep-api', version: '1' });
      await advance(h.clock, 5 * MINUTE, MINUTE);
      const outcome = await h.manager.override(watch.id, action, {
        who: 'token holder (127.0.0.1)',
        reason: 'checked by hand',
      });
      expect(outcome.ok).toBe(true);
      const after = await h.manager.get(watch.id);
      expect(after).toMatchObject({ status, verdict });
      const entry = after?.timeline.find((e) => e.type === 'override');
      expect(entry).toMatchObject({ action, who: 'token holder (127.0.0.1)', reason: 'checked by hand' });
      expect(after?.reasons[0]).toContain('checked by hand');
      expect(h.failed).toHaveLength(0);
      expect(h.manualRollbacks).toHaveLength(action === 'rollback' ? 1 : 0);
      const evaluations = storedEvaluations(watch.id).length;
      await advance(h.clock, HOUR, MINUTE);
      expect(storedEvaluations(watch.id)).toHaveLength(evaluations);
    },
  );

  it('abort and promote refuse an ended watch; rollback of an ended watch is recorded', async () => {
    const h = await start();
    const watch = await created(h, { service: 'prep-api', version: '1' });
    await h.manager.override(watch.id, 'abort', { who: 'ci', reason: 'cancelled' });
    expect(await h.manager.override(watch.id, 'promote', { who: 'ci', reason: 'x' })).toMatchObject({
      ok: false,
      code: 'conflict',
    });
    expect(await h.manager.override('w_nope', 'abort', { who: 'ci', reason: 'x' })).toMatchObject({
      ok: false,
      code: 'not-found',
    });
    const rolled = await h.manager.override(watch.id, 'rollback', {
      who: 'oncall',
      reason: 'bookings broken',
    });
    expect(rolled.ok).toBe(true);
    expect(h.manualRollbacks).toEqual([{ who: 'oncall', reason: 'bookings broken' }]);
    expect((await h.manager.verdict(watch.id))?.status).toBe('aborted');
  });

  it('a failed watch fires its rollback once even if evaluations keep failing', async () => {
    const h = await start({ evaluate: () => [check('error-rate', 'fail', 0.2)] });
    await created(h, { service: 'prep-api', version: '1' });
    await advance(h.clock, 3 * HOUR, MINUTE);
    expect(h.failed).toHaveLength(1);
  });
});
