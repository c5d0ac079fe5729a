import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../src/store/port.js';
import type { EvaluationContext } from '../../../src/watch/types.js';
import {
  advance,
  check,
  createHarness,
  type Harness,
  type HarnessOptions,
  HOUR,
  MINUTE,
  storedEvaluations,
  T0,
} from './harness.js';

/*
 * Replicas on one store (DESIGN §13): only the leader drives watches; a follower serves reads, creates
 * and overrides from the store; a change committed by one is told to the other (`remoteChange`, fed by
 * the store's change feed in the daemon, called by hand here since SQLite has no feed).
 */

let open: Harness[] = [];
afterEach(async () => {
  for (const h of open) await h.manager.stop();
  for (const h of open) await h.close();
  open = [];
});

async function start(options: HarnessOptions = {}): Promise<Harness> {
  const h = await createHarness({ ...options, settings: { phases: ['bake'], ...options.settings } });
  open.push(h);
  return h;
}

/** A second replica on the same store and clock, following unless told otherwise. */
async function replicaOf(leader: Harness, options: HarnessOptions = {}): Promise<Harness> {
  return start({ manager: { leading: false }, ...options, store: leader.store, clock: leader.clock });
}

async function created(h: Harness, service = 'prep-api', version = '2'): Promise<string> {
  const out = await h.manager.create({ service, version });
  if (!out.ok) throw new Error(JSON.stringify(out.problems));
  return out.watch.id;
}

/** What a watch's stored state shows of the loops' work: the timeline, the last write, the evaluations. */
async function footprint(h: Harness, id: string) {
  const watch = await h.manager.get(id);
  return {
    status: watch?.status,
    updatedAt: watch?.updatedAt,
    timeline: watch?.timeline.length,
    evaluations: storedEvaluations(id).length,
  };
}

describe('standing down', () => {
  it('stops every loop at once and writes nothing further; reads, creates and overrides still work', async () => {
    const h = await start();
    const signals: AbortSignal[] = [];
    const evaluate = h.deps.evaluate;
    // billing's evaluation never answers: standing down must not wait for it.
    h.deps.evaluate = (context: EvaluationContext, signal: AbortSignal) => {
      if (context.vars.service !== 'billing') return evaluate(context, signal);
      signals.push(signal);
      return new Promise(() => {});
    };
    const api = await created(h, 'prep-api');
    const billing = await created(h, 'billing');
    await advance(h.clock, 10 * MINUTE, MINUTE);
    expect(signals).toHaveLength(1);
    const before = { api: await footprint(h, api), billing: await footprint(h, billing) };
    const evaluations = h.evaluations.length;

    const standingDown = h.manager.standDown();
    // At once: the stuck evaluation is told to stop in the call itself.
    expect(signals[0]?.aborted).toBe(true);
    await standingDown;
    expect(h.manager.leading).toBe(false);
    await advance(h.clock, 2 * HOUR, MINUTE);
    expect({ api: await footprint(h, api), billing: await footprint(h, billing) }).toEqual(before);
    expect(h.evaluations).toHaveLength(evaluations);
    expect(before.api.status).toBe('running');

    // The API still answers from the store: a create is stored (not run), an override applies.
    const checkout = await created(h, 'checkout');
    expect((await h.manager.override(billing, 'abort', { who: 'ci', reason: 'cancelled' })).ok).toBe(true);
    expect(await h.manager.verdict(billing)).toMatchObject({ status: 'aborted' });
    await advance(h.clock, 10 * MINUTE, MINUTE);
    expect(h.evaluations).toHaveLength(evaluations);
    expect(storedEvaluations(checkout)).toEqual([]);

    // Leading again resumes what is running: the old watch with its gap, the new one fresh.
    expect(await h.manager.lead()).toBe(2);
    await advance(h.clock, 5 * MINUTE, MINUTE);
    const resumed = await h.manager.get(api);
    expect(resumed?.timeline.filter((e) => e.type === 'resumed').map((e) => e.message)).toEqual([
      'daemon restarted: continuing bake at 2h20m of 1d',
    ]);
    expect(resumed?.timeline.filter((e) => e.type === 'gap')).toHaveLength(1);
    const fresh = await h.manager.get(checkout);
    expect(fresh?.timeline.some((e) => e.type === 'resumed' || e.type === 'gap')).toBe(false);
    expect(storedEvaluations(checkout).length).toBeGreaterThan(0);
  });

  it('leading again right after standing down, before the loops wound down, resumes every watch', async () => {
    const h = await start();
    const id = await created(h);
    await advance(h.clock, 10 * MINUTE, MINUTE);
    const standingDown = h.manager.standDown();
    expect(await h.manager.lead()).toBe(1);
    await standingDown;
    const before = storedEvaluations(id).length;
    await advance(h.clock, 10 * MINUTE, MINUTE);
    expect(storedEvaluations(id).length).toBe(before + 10);
  });

  it('a follower runs nothing: start() resumes no watch and its creates wait for a leader', async () => {
    const h = await start({ manager: { leading: false } });
    const id = await created(h);
    expect(await h.manager.start()).toBe(0);
    await advance(h.clock, HOUR, MINUTE);
    expect(h.evaluations).toHaveLength(0);
    expect(await h.manager.verdict(id)).toMatchObject({ status: 'running', verdict: 'pending' });
  });
});

describe('remote changes', () => {
  it('the leader runs a watch a follower created, fresh, to its verdict; the follower sees it when told', async () => {
    const leader = await start({ settings: { durationMs: 2 * HOUR } });
    const follower = await replicaOf(leader, { settings: { durationMs: 2 * HOUR } });
    const id = await created(follower);
    expect(JSON.parse((await follower.manager.verdictJson(id)) ?? '')).toMatchObject({ status: 'running' });
    await advance(leader.clock, 5 * MINUTE, MINUTE);
    expect(leader.evaluations).toHaveLength(0);
    expect(follower.evaluations).toHaveLength(0);
    expect(follower.published).toContainEqual({ kind: 'watch', id });

    await leader.manager.remoteChange(id);
    const poll = follower.manager.waitForChange(id, { timeoutMs: 3 * HOUR });
    await advance(leader.clock, 2 * HOUR, MINUTE);
    expect(await leader.manager.verdict(id)).toMatchObject({ status: 'passed', verdict: 'pass' });
    expect(follower.evaluations).toHaveLength(0);
    // Started fresh, not resumed: no restart said, no gap (its bake numbered from the deploy).
    const watch = await leader.manager.get(id);
    expect(watch?.timeline.some((e) => e.type === 'resumed' || e.type === 'gap')).toBe(false);
    expect(storedEvaluations(id)).toEqual(Array.from({ length: 115 }, (_, i) => i + 5));

    // The follower's cached verdict and long poll follow once the change is told.
    await follower.manager.remoteChange(id);
    expect(await poll).toMatchObject({ status: 'passed' });
    expect(JSON.parse((await follower.manager.verdictJson(id)) ?? '')).toMatchObject({ status: 'passed' });
  });

  it('the leader stops the loop of a watch a follower aborted, at once', async () => {
    const signals: AbortSignal[] = [];
    const leader = await start({
      settings: { phases: ['load', 'bake'], loadProfile: 'smoke' },
      runLoad: async (_id, signal) => {
        signals.push(signal);
        await leader.clock.sleep(HOUR, signal);
        return check('load:smoke', 'pass', 0.03, { kind: 'load' });
      },
    });
    const follower = await replicaOf(leader);
    const id = await created(leader);
    await advance(leader.clock, MINUTE, 5_000);
    expect(signals).toHaveLength(1);
    expect((await follower.manager.override(id, 'abort', { who: 'ci', reason: 'cancelled' })).ok).toBe(true);
    expect(signals[0]?.aborted).toBe(false);
    await leader.manager.remoteChange(id);
    expect(signals[0]?.aborted).toBe(true);
    const after = await footprint(leader, id);
    await advance(leader.clock, 2 * HOUR, MINUTE);
    expect(await footprint(leader, id)).toEqual(after);
    expect(after.status).toBe('aborted');
    expect(leader.ended).toEqual([]);
    expect(follower.ended).toEqual([`${id} aborted`]);
  });

  it('a new leader resumes a watch the old one ran, with one gap event saying no replica was leading', async () => {
    const old = await start();
    const id = await created(old);
    await advance(old.clock, 30 * MINUTE + 30_000, MINUTE);
    await old.manager.standDown();
    await advance(old.clock, 10 * MINUTE, MINUTE);
    // On PostgreSQL the words say leadership moved (on SQLite only a restart leads again).
    const postgres = new Proxy(old.store, {
      get: (target, property) => (property === 'engine' ? 'postgres' : Reflect.get(target, property)),
    }) as Store;
    const next = await start({ store: postgres, clock: old.clock, manager: { leading: false } });
    expect(await next.manager.lead()).toBe(1);
    await advance(next.clock, 5 * MINUTE, MINUTE);
    const watch = await next.manager.get(id);
    expect(watch?.timeline.filter((e) => e.type === 'resumed').map((e) => e.message)).toEqual([
      'this replica took over as leader: continuing bake at 40m30s of 1d',
    ]);
    const gaps = watch?.timeline.filter((e) => e.type === 'gap') ?? [];
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ missed: 9 });
    expect(gaps[0]?.message).toContain('while no replica was leading');
    expect(storedEvaluations(id).slice(28, 33)).toEqual([28, 29, 30, 40, 41]);
  });

  it('publishes every committed change of a watch, superseded ones included', async () => {
    const h = await start();
    const first = await created(h, 'prep-api', '1');
    const second = await created(h, 'prep-api', '2');
    await h.manager.override(second, 'abort', { who: 'ci', reason: 'cancelled' });
    expect(h.published.filter((c) => c.id === first)).not.toHaveLength(0);
    expect(h.published.at(-1)).toEqual({ kind: 'watch', id: second });
    expect(h.published.every((c) => c.kind === 'watch')).toBe(true);
  });
});

describe('changes to one watch take turns', () => {
  it('an operator rollback racing an evaluation: both applied in order, none lost', async () => {
    let gate: Promise<void> | undefined;
    let open: () => void = () => {};
    const h = await start({
      evaluate: (minute) => [check('error-rate', minute >= 6 ? 'warn' : 'pass', minute >= 6 ? 0.008 : 0.001)],
    });
    h.deps.saveSnapshots = async () => {
      await gate;
    };
    const id = await created(h);
    await advance(h.clock, 5 * MINUTE, MINUTE);
    gate = new Promise((resolve) => {
      open = resolve;
    });
    // Evaluation 6 runs and stops inside its transaction, in the snapshot hook.
    await advance(h.clock, MINUTE, MINUTE);
    const rollback = h.manager.override(id, 'rollback', { who: 'alice', reason: 'bookings broken' });
    await h.clock.advance(0);
    expect(h.manualRollbacks).toHaveLength(0);
    open();
    expect((await rollback).ok).toBe(true);
    const watch = await h.manager.get(id);
    expect(storedEvaluations(id)).toContain(6);
    expect(watch?.checks.find((c) => c.name === 'error-rate')).toMatchObject({
      result: 'warn',
      evaluatedAt: new Date(T0 + 6 * MINUTE).toISOString(),
    });
    expect(watch).toMatchObject({ status: 'failed', verdict: 'fail' });
    const types = watch?.timeline.map((e) => e.type) ?? [];
    expect(types.lastIndexOf('evaluation')).toBeLessThan(types.indexOf('override'));
    expect(h.manualRollbacks).toEqual([{ who: 'alice', reason: 'bookings broken' }]);
  });

  it('two overrides at once: the first applies, the second is refused, the watch ends once', async () => {
    const h = await start();
    const id = await created(h);
    await advance(h.clock, 2 * MINUTE, MINUTE);
    const [abort, promote] = await Promise.all([
      h.manager.override(id, 'abort', { who: 'ci', reason: 'cancelled' }),
      h.manager.override(id, 'promote', { who: 'alice', reason: 'looks fine' }),
    ]);
    expect(abort.ok).toBe(true);
    expect(promote).toMatchObject({ ok: false, code: 'conflict' });
    expect(h.ended).toEqual([`${id} aborted`]);
    expect((await h.manager.get(id))?.timeline.filter((e) => e.type === 'override')).toHaveLength(1);
  });
});
