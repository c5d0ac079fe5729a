import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { openStore } from '../../../src/store/open.js';
import type { Store } from '../../../src/store/port.js';
import { type RunningPostgres, skipWithoutPostgres, startPostgres } from '../../helpers/postgres.js';
import { check, createHarness, type Harness, MINUTE, storedEvaluations, T0 } from './harness.js';

/*
 * The watch engine on PostgreSQL with two replicas, each with its own connection to one database, told
 * of each other's changes by the store's change feed (LISTEN/NOTIFY), as the daemon wires it. The
 * store answers over a socket, so each step of the virtual clock waits (in real time) for the loop to
 * catch up.
 */

/** Waits, in real time, until `done()` holds (at most `ms`). */
async function until(
  done: () => boolean | Promise<boolean>,
  state: () => unknown = () => '',
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for the watch: ${JSON.stringify(state())}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.skipIf(skipWithoutPostgres)('watches on PostgreSQL replicas', () => {
  let server: RunningPostgres;
  let url: string;
  const stores: Store[] = [];
  const harnesses: Harness[] = [];
  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase();
  });
  afterAll(() => server?.destroy());
  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.manager.stop();
    for (const store of stores.splice(0)) await store.close();
  });

  /** A leader and a follower, each on its own connection, each told of the other's changes. */
  async function replicas(options: Parameters<typeof createHarness>[0] = {}) {
    const clock = new ManualClock(T0);
    const [one, two] = [
      await openStore({ url, instance: 'vigil-0' }),
      await openStore({ url, instance: 'vigil-1' }),
    ];
    stores.push(one as Store, two as Store);
    const base = { ...options, clock, settings: { phases: ['bake' as const], durationMs: 10 * MINUTE } };
    const leader = await createHarness({ ...base, store: one });
    const follower = await createHarness({ ...base, store: two, manager: { leading: false } });
    harnesses.push(leader, follower);
    const heard = { one: false, two: false };
    one.subscribe((change) => {
      if (change.kind === 'watch') void leader.manager.remoteChange(change.id);
      else heard.one = true;
    });
    two.subscribe((change) => {
      if (change.kind === 'watch') void follower.manager.remoteChange(change.id);
      else heard.two = true;
    });
    // Each LISTEN connects on its first subscriber: both replicas hear each other before the test starts.
    await until(async () => {
      await one.publish({ kind: 'alerts', id: '' });
      await two.publish({ kind: 'alerts', id: '' });
      return heard.one && heard.two;
    });
    return { clock, leader, follower };
  }

  it('two replicas creating the first watch of a service at once take turns: one runs, the other is superseded', async () => {
    const { leader, follower } = await replicas();
    const service = `first-${Date.now()}`;
    const outcomes = await Promise.all([
      leader.manager.create({ service, version: '1' }),
      follower.manager.create({ service, version: '2' }),
    ]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
    const stored = await (stores[0] as Store).watches.list({ service });
    expect(stored).toHaveLength(2);
    expect(stored.filter((w) => w.status === 'running' || w.status === 'held')).toHaveLength(1);
    const [superseded] = stored.filter((w) => w.status === 'aborted');
    expect(superseded?.supersededBy).toBe(stored.find((w) => w.status !== 'aborted')?.id);
  });

  it("a follower's create runs on the leader to its verdict, and the follower's long poll hears the end", async () => {
    const { clock, leader, follower } = await replicas();
    const out = await follower.manager.create({ service: 'prep-api', version: '2' });
    if (!out.ok) throw new Error(JSON.stringify(out.problems));
    const id = out.watch.id;
    await until(
      () => storedEvaluations(id).length === 1 && clock.pending === 1,
      () => [storedEvaluations(id), clock.pending, leader.evaluations.length],
    );
    const poll = follower.manager.waitForChange(id, { timeoutMs: 60 * MINUTE, until: 'complete' });
    for (let minute = 1; minute < 10; minute++) {
      // The loop and the long poll wait on the clock before it moves.
      await until(() => clock.pending === 2);
      await clock.advance(MINUTE);
      await until(() => storedEvaluations(id).length === minute + 1);
    }
    await until(() => clock.pending === 2);
    await clock.advance(MINUTE);
    await until(async () => (await leader.manager.verdict(id))?.status === 'passed');
    expect(await poll).toMatchObject({ status: 'passed', verdict: 'pass' });
    expect(follower.evaluations).toHaveLength(0);
    const watch = await follower.manager.get(id);
    expect(watch?.timeline.some((e) => e.type === 'resumed' || e.type === 'gap')).toBe(false);
    expect(storedEvaluations(id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a held watch reads as held on both replicas; a promote on the follower ends it and stops the leader', async () => {
    const { clock, leader, follower } = await replicas({
      evaluate: (minute) => [
        check('error-rate', minute >= 2 ? 'fail' : 'pass', minute >= 2 ? 0.05 : 0.001, {
          critical: true,
          enforce: 'hold',
        }),
      ],
    });
    const out = await leader.manager.create({ service: 'billing', version: '2' });
    if (!out.ok) throw new Error(JSON.stringify(out.problems));
    const id = out.watch.id;
    for (let minute = 1; minute <= 2; minute++) {
      await until(() => clock.pending === 1);
      await clock.advance(MINUTE);
      await until(() => storedEvaluations(id).length === minute + 1);
    }
    await until(async () => (await follower.manager.verdict(id))?.status === 'held');
    expect(await leader.manager.verdict(id)).toMatchObject({ status: 'held', verdict: 'fail' });
    expect((await follower.manager.override(id, 'promote', { who: 'alice', reason: 'known noise' })).ok).toBe(
      true,
    );
    await until(
      () => leader.ended.length === 0 && follower.ended.length === 1,
      () => [leader.ended, follower.ended],
    );
    await until(async () => JSON.parse((await leader.manager.verdictJson(id)) ?? '{}').status === 'passed');
    const evaluations = leader.evaluations.length;
    for (let minute = 3; minute <= 12; minute++) await clock.advance(MINUTE);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(leader.evaluations).toHaveLength(evaluations);
    expect(leader.failed).toHaveLength(0);
    expect(await leader.manager.verdict(id)).toMatchObject({ status: 'passed', verdict: 'warn' });
  });
});
