import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Actions, createActions } from '../../../src/actions/index.js';
import type { VerdictObject } from '../../../src/actions/types.js';
import { ManualClock } from '../../../src/clock.js';
import { openStore } from '../../../src/store/open.js';
import type { Store } from '../../../src/store/port.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import {
  queryOnce,
  type RunningPostgres,
  skipWithoutPostgres,
  startPostgres,
} from '../../helpers/postgres.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver.js';
import { actionsConfig, failedVerdict, SECRET, testDispatcher } from './support.js';

/*
 * The actions of two replicas on one PostgreSQL database (DESIGN §13): each its own store (its own
 * pool and change feed), as two processes would have. Whatever both workers do at once, a row is sent
 * once; a replica that dies holding a lease leaves the row to the other once the lease runs out; an
 * enqueue on one replica reaches the other's worker through the change feed.
 */

const T0 = Date.parse('2026-11-27T10:15:00Z');
const dispatcher = testDispatcher();

describe.skipIf(skipWithoutPostgres)('actions of two replicas on one PostgreSQL store', () => {
  let server: RunningPostgres;
  let stores: Store[];
  let opened: Actions[];
  let clock: ManualClock;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(() => server?.destroy());

  beforeEach(async () => {
    stores = [];
    opened = [];
    clock = new ManualClock(T0);
    receiver = await startWebhookReceiver();
  });

  afterEach(async () => {
    for (const actions of opened) await actions.stop(1_000);
    for (const store of stores) await store.close();
    await receiver.close();
  });

  /** Two replicas' stores on a fresh database. */
  async function twoStores(): Promise<[Store, Store]> {
    const url = await server.createDatabase();
    const a = await openStore({ url, instance: 'vigil-a' });
    const b = await openStore({ url, instance: 'vigil-b' });
    stores.push(a, b);
    return [a, b];
  }

  function build(store: Store, actions: unknown): Actions {
    const built = createActions({
      store,
      service: 'prep-api',
      actions: actionsConfig(actions),
      clock,
      dispatcher,
      logger: silentLogger(),
      metrics: createMetrics({ version: 'test', defaultMetrics: false }),
      userAgent: 'vigil/test',
    });
    opened.push(built);
    return built;
  }

  const failWatch = (store: Store, actions: Actions, watch: VerdictObject) =>
    store.transaction((tx) => actions.onWatchFailed(tx, watch, watch));

  it('workers of both replicas scanning at once never send one row twice', async () => {
    const [a, b] = await twoStores();
    const config = {
      rollback: [
        { name: 'a', url: `${receiver.url}/a`, secret: SECRET },
        { name: 'b', url: `${receiver.url}/b`, secret: SECRET },
      ],
      notify: [{ name: 'cd', url: `${receiver.url}/cd`, secret: SECRET }],
    };
    const one = build(a, config);
    const two = build(b, config);
    // 12 watches × 3 targets = 36 rows: more than one batch (16), so the scans interleave.
    const watches = Array.from({ length: 12 }, (_, i) => failedVerdict(`w_${String(i).padStart(2, '0')}`));
    await Promise.all(
      watches.map((watch, i) => (i % 2 ? failWatch(a, one, watch) : failWatch(b, two, watch))),
    );
    for (let round = 0; round < 3; round++) {
      await Promise.all([one.flush(), two.flush(), one.flush(), two.flush()]);
    }
    await clock.advance(60_000); // every lease has run out: nothing is due again
    await Promise.all([one.flush(), two.flush()]);
    expect(receiver.requests).toHaveLength(36);
    expect(new Set(receiver.requests.map((r) => r.headers['x-vigil-delivery'])).size).toBe(36);
    const stored = (await Promise.all(watches.map((w) => one.listDeliveries(w.id)))).flat();
    expect(stored.map((d) => [d.status, d.attempts])).toEqual(stored.map(() => ['delivered', 1]));
  });

  it('a row leased by a replica that died is sent by the other after the lease, with the same Idempotency-Key', async () => {
    const [a, b] = await twoStores();
    receiver.script({ status: 200, delayMs: 3_000 });
    const config = { rollback: [{ name: 'deployer', url: receiver.url, secret: SECRET, timeout: '10s' }] };
    const dying = build(a, config);
    const survivor = build(b, config);
    const verdict = failedVerdict();
    const [enqueued] = await failWatch(a, dying, verdict);
    dying.start();
    const [first] = await receiver.waitFor(1); // its attempt reached the receiver…
    await dying.stop(50); // …and it died before recording it
    await survivor.flush();
    await clock.advance(14_999); // the lease: the 10 s timeout and a 5 s margin
    await survivor.flush();
    expect(receiver.requests).toHaveLength(1);
    await clock.advance(1);
    await survivor.flush();
    const [, second] = await receiver.waitFor(2);
    expect(second!.headers['idempotency-key']).toBe(`${verdict.id}:rollback`);
    expect(second!.headers['x-vigil-delivery']).toBe(enqueued!.deliveryId);
    expect(second!.body).toBe(first!.body);
    expect((await survivor.listDeliveries(verdict.id))[0]).toMatchObject({
      status: 'delivered',
      attempts: 1,
    });
  });

  it("a follower's enqueue wakes the leader's worker through the change feed; a rolled-back one tells nobody", async () => {
    const [leaderStore, followerStore] = await twoStores();
    const config = { rollback: [{ name: 'deployer', url: receiver.url, secret: SECRET }] };
    const leader = build(leaderStore, config);
    const follower = build(followerStore, config);
    const heard: string[] = [];
    // What the daemon does on an outbox change from another replica.
    leaderStore.subscribe((change) => {
      heard.push(change.kind);
      if (change.kind === 'outbox') leader.wake();
    });
    await vi.waitFor(
      async () => {
        const listening = await queryOnce<{ n: string }>(
          server.url,
          `SELECT count(*) AS n FROM pg_stat_activity WHERE query = 'LISTEN vigil_changes'`,
        );
        expect(Number(listening[0]!.n)).toBeGreaterThan(0);
      },
      { timeout: 10_000, interval: 50 },
    );
    leader.start();
    await vi.waitFor(() => expect(clock.pending).toBe(1)); // parked until its next poll (clock stopped)
    const verdict = failedVerdict();
    await expect(
      followerStore.transaction(async (tx) => {
        await follower.rollback(tx, verdict, verdict, { trigger: 'operator', who: 'alice', reason: 'r' });
        throw new Error('the override could not be recorded');
      }),
    ).rejects.toThrow(/could not be recorded/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(heard).toEqual([]);
    expect(await leader.rollbackOf(verdict.id)).toBeUndefined();
    await followerStore.transaction((tx) =>
      follower.rollback(tx, verdict, verdict, { trigger: 'operator', who: 'alice', reason: 'r' }),
    );
    const [request] = await receiver.waitFor(1, 10_000);
    expect(heard).toEqual(['outbox']);
    expect(request!.headers['idempotency-key']).toBe(`${verdict.id}:rollback`);
    expect(JSON.parse(request!.body).manual).toEqual({ who: 'alice', reason: 'r' });
  });
});
