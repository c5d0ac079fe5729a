import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../../../src/store/sqlite/index.js';
import { makeWatch } from '../../store/contract.js';

/*
 * What the SQLite adapter does beyond the contract: how it stores a held watch (readable by and from
 * older builds), and how one connection is shared — a mutex around transactions, savepoints inside them,
 * and no timer anywhere (tests on a virtual clock see only microtasks).
 */

let store: SqliteStore;
beforeEach(async () => {
  store = await openSqliteStore(':memory:');
});
afterEach(async () => {
  vi.useRealTimers();
  await store.close();
});

const rawStatus = (id: string): unknown =>
  store.database.prepare('SELECT status, state_json FROM watches WHERE id = ?').get(id);

describe('held watches in SQLite', () => {
  it("are stored as running with state.held (the v1 CHECK predates 'held'), and read back held", async () => {
    await store.watches.insert(makeWatch({ status: 'held' }));
    expect(rawStatus('w_1')).toEqual({
      status: 'running',
      state_json: JSON.stringify({
        held: { at: Date.parse('2026-11-30T10:00:00Z'), by: 'alice' },
        blindSpans: [],
      }),
    });
    // A row written so by an older build reads as held too.
    store.database
      .prepare(
        `INSERT INTO watches (id, service, version, status, verdict, phase, started_at, updated_at, duration_ms,
           phases_json, state_json) VALUES ('w_old', 'prep-api', '1.0.0', 'running', 'pending', 'bake', 1, 1, 1, '[]', ?)`,
      )
      .run(JSON.stringify({ held: { at: 1 } }));
    expect((await store.watches.get('w_old'))?.status).toBe('held');
    // The store keeps the state as written: defaults (blindSpans…) are the watch engine's business.
    expect((await store.watches.get('w_old'))?.state).toEqual({ held: { at: 1 } });
  });
});

describe('transactions on one connection', () => {
  it('a write through the store waits for the open transaction, then commits on its own', async () => {
    await store.watches.insert(makeWatch());
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tx = store.transaction(async (t) => {
      await t.watches.appendEvent('w_1', { at: 1, type: 'a', message: 'in the transaction' });
      await gate;
      order.push('commit');
      throw new Error('rolled back');
    });
    const outside = store.watches
      .appendEvent('w_1', { at: 2, type: 'b', message: 'outside' })
      .then(() => order.push('outside'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual([]);
    release();
    await expect(tx).rejects.toThrow('rolled back');
    await outside;
    expect(order).toEqual(['commit', 'outside']);
    // The outside write was not part of the rolled-back transaction.
    expect((await store.watches.events('w_1')).map((e) => e.message)).toEqual(['outside']);
  });

  it('a method that fails inside a transaction leaves none of its writes, and the transaction goes on', async () => {
    const observation = (signature: string) => ({
      check: 'errors',
      signature,
      status: 'new' as const,
      level: 'error',
      logger: 'db',
      template: signature,
      count: 1,
      baselineCount: null,
      firstSeen: 1,
      lastSeen: 1,
      examples: [],
      updatedAt: 1,
    });
    await store.patterns.replaceObservations('w_1', 'errors', 'prep-api', 1, [observation('before')]);
    store.database.exec(`CREATE TRIGGER refuse BEFORE INSERT ON pattern_observations WHEN NEW.signature = 'bad'
      BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    await store.transaction(async (tx) => {
      await expect(
        tx.patterns.replaceObservations('w_1', 'errors', 'prep-api', 2, [
          observation('good'),
          observation('bad'),
        ]),
      ).rejects.toThrow('refused');
      await tx.patterns.addFeedback({
        service: 'prep-api',
        signature: 'before',
        verdict: 'ignore',
        level: 'error',
        logger: 'db',
        template: 'before',
        reason: 'noise',
        who: 'alice',
        at: 3,
      });
    });
    expect((await store.patterns.observations('w_1')).map((o) => o.signature)).toEqual(['before']);
    expect(await store.patterns.feedback('prep-api')).toHaveLength(1);
  });

  it('an autocommit write that fails writes nothing of itself', async () => {
    store.database.exec(`CREATE TRIGGER refuse BEFORE INSERT ON probe_rollups WHEN NEW.probe = 'p49'
      BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    const minutes = Array.from({ length: 50 }, (_, i) => ({
      service: 'prep-api',
      probe: `p${i}`,
      minute: 0,
      successes: 1,
      total: 1,
      latencySumMs: 1,
      histogram: [1],
    }));
    // One put, one transaction: with a transaction per row, 49 rows would have been written.
    await expect(store.rollups.put(minutes)).rejects.toThrow('refused');
    expect(store.database.prepare('SELECT count(*) AS n FROM probe_rollups').get()).toEqual({ n: 0 });
  });

  it('a transaction handle used after its end is refused', async () => {
    let kept: Parameters<Parameters<SqliteStore['transaction']>[0]>[0] | undefined;
    await store.transaction(async (tx) => {
      kept = tx;
    });
    await expect(kept?.watches.insert(makeWatch())).rejects.toThrow('this store transaction has ended');
    expect(() => kept?.afterCommit(() => {})).toThrow('this store transaction has ended');
    expect(await store.watches.get('w_1')).toBeUndefined();
  });

  it('afterCommit callbacks run in order after the commit, even when one throws; its error is the result', async () => {
    const calls: string[] = [];
    await expect(
      store.transaction(async (tx) => {
        await tx.watches.insert(makeWatch());
        tx.afterCommit(() => calls.push('first'));
        tx.afterCommit(() => {
          throw new Error('wake failed');
        });
        tx.afterCommit(() => calls.push('third'));
      }),
    ).rejects.toThrow('wake failed');
    expect(calls).toEqual(['first', 'third']);
    expect((await store.watches.get('w_1'))?.id).toBe('w_1');
  });

  it('needs no timer: under fake timers, transactions and writes settle on microtasks alone', async () => {
    vi.useFakeTimers();
    const done = Promise.all([
      store.transaction(async (tx) => {
        await tx.watches.insert(makeWatch());
        await tx.watches.appendEvent('w_1', { at: 1, type: 'created', message: 'started' });
      }),
      store.watches.appendEvent('w_1', { at: 2, type: 'note', message: 'after' }),
      store.outbox.claimDue(0, 10, () => 1),
    ]);
    await done;
    expect(vi.getTimerCount()).toBe(0);
    expect(await store.watches.events('w_1')).toHaveLength(2);
  });

  it('close waits for the open transaction to finish', async () => {
    const tx = store.transaction(async (t) => {
      await new Promise((resolve) => setImmediate(resolve));
      await t.watches.insert(makeWatch());
    });
    const closing = store.close();
    await tx;
    await closing;
    expect(store.database.open).toBe(false);
    store = await openSqliteStore(':memory:'); // for afterEach
  });
});

describe('leadership on SQLite', () => {
  it('this process leads from start, and a listener added later hears it at once', async () => {
    const leadership = store.leadership({ instance: 'vigil-0' });
    const heard: string[] = [];
    leadership.onAcquired(() => heard.push('early'));
    leadership.onLost(() => heard.push('lost'));
    expect(heard).toEqual([]);
    await leadership.start();
    expect(heard).toEqual(['early']);
    leadership.onAcquired(() => heard.push('late'));
    expect(heard).toEqual(['early', 'late']);
    expect(leadership.status()).toEqual({
      leader: true,
      instance: 'vigil-0',
      leaderInstance: 'vigil-0',
      reason: null,
    });
    await leadership.stop();
    expect(heard).not.toContain('lost');
  });

  it('publish is a no-op and subscribe never calls back', async () => {
    const heard: unknown[] = [];
    const unsubscribe = store.subscribe((change) => heard.push(change));
    await store.publish({ kind: 'watch', id: 'w_1' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(heard).toEqual([]);
    unsubscribe();
  });
});
