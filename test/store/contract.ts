import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  FiringInput,
  NewDelivery,
  PatternBaselineRow,
  PatternFeedbackRow,
  PatternObservationRow,
  RollupMinute,
  Store,
  StoredCheckResult,
  StoredWatch,
} from '../../src/store/port.js';

/*
 * The store port's behaviour, for every engine: each adapter's test file calls
 * `describeStoreContract('sqlite', () => openStore({ path: ':memory:' }))` (or its PostgreSQL
 * equivalent, a fresh database per call). Only the port is used: what the tests pin is what the domain
 * may rely on, whatever the SQL underneath.
 */

const T0 = Date.parse('2026-11-30T10:00:00Z');
const MIN = 60_000;

/** A watch as the watch engine writes it (its documents are opaque to the store). */
export function makeWatch(overrides: Partial<StoredWatch> = {}): StoredWatch {
  const status = overrides.status ?? 'running';
  return {
    id: 'w_1',
    service: 'prep-api',
    version: '1.4.2',
    previousVersion: '1.4.1',
    status,
    verdict: 'pending',
    phase: 'smoke',
    startedAt: T0,
    updatedAt: T0,
    endedAt: null,
    durationMs: 1_800_000,
    phases: [{ name: 'smoke', startedAt: T0, endedAt: null }],
    reasons: [],
    // The watch engine marks a held watch in its state too.
    state: status === 'held' ? { held: { at: T0, by: 'alice' }, blindSpans: [] } : { blindSpans: [] },
    supersededBy: null,
    ...overrides,
  };
}

function makeDelivery(overrides: Partial<NewDelivery> = {}): NewDelivery {
  return {
    id: 'd_1',
    watchId: 'w_1',
    event: 'rollback',
    target: 'rollback:0',
    url: 'https://hooks.example.com/deploy/rollback',
    idempotencyKey: 'w_1:rollback',
    body: '{"event":"rollback"}',
    dryRun: false,
    manual: false,
    createdAt: T0,
    ...overrides,
  };
}

function makeResult(name: string, overrides: Partial<StoredCheckResult> = {}): StoredCheckResult {
  return {
    name,
    kind: 'threshold',
    evaluatedAt: T0,
    result: 'pass',
    value: 0.01,
    baseline: null,
    explanation: `${name} within its objective`,
    data: { name, detail: [1, 2, 3] },
    ...overrides,
  };
}

function firing(key: string, overrides: Partial<FiringInput> = {}): FiringInput {
  return {
    key,
    labels: { alertname: 'VigilSloBurn', watch_id: 'w_1', slo: key },
    annotations: { summary: `${key} burns` },
    generatorUrl: 'http://vigil/watches/w_1',
    now: T0,
    autoResolveAt: null,
    ...overrides,
  };
}

function minute(overrides: Partial<RollupMinute> = {}): RollupMinute {
  return {
    service: 'prep-api',
    probe: 'health',
    minute: T0,
    successes: 9,
    total: 10,
    latencySumMs: 123.456,
    histogram: [0, 2, 5, 3],
    ...overrides,
  };
}

function observation(
  signature: string,
  overrides: Partial<PatternObservationRow> = {},
): PatternObservationRow {
  return {
    check: 'errors',
    signature,
    status: 'new',
    level: 'error',
    logger: 'db',
    template: `connection <*> refused ${signature}`,
    count: 3,
    baselineCount: null,
    firstSeen: T0,
    lastSeen: T0 + MIN,
    examples: [`connection 10.0.0.1 refused ${signature}`],
    updatedAt: T0 + MIN,
    ...overrides,
  };
}

function feedback(signature: string, overrides: Partial<PatternFeedbackRow> = {}): PatternFeedbackRow {
  return {
    service: 'prep-api',
    signature,
    verdict: 'ignore',
    level: 'error',
    logger: 'db',
    template: 'connection <*> refused',
    reason: 'known noise',
    who: 'alice',
    at: T0,
    ...overrides,
  };
}

const ids = (rows: readonly { id: string }[]): string[] => rows.map((row) => row.id);

/** Lets other promises run, so two concurrent operations interleave wherever an engine lets them. */
async function yieldTurns(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * The behaviour every store engine must have. `open` returns a fresh, empty store each call.
 *
 * @example describeStoreContract('sqlite', () => openStore({ path: ':memory:' }));
 */
export function describeStoreContract(engine: string, open: () => Promise<Store>): void {
  describe(`store contract: ${engine}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    describe('watches', () => {
      it('a watch reads back as written, documents included; an unknown one is undefined', async () => {
        const watch = makeWatch({ reasons: ['p95 over 300 ms'], state: { nested: { a: [1, 'b', null] } } });
        await store.watches.insert(watch);
        expect(await store.watches.get('w_1')).toEqual(watch);
        expect(await store.watches.get('w_404')).toBeUndefined();
      });

      it('update writes every mutable field', async () => {
        await store.watches.insert(makeWatch());
        const changed = makeWatch({
          previousVersion: '1.3.0',
          status: 'failed',
          verdict: 'fail',
          phase: 'bake',
          updatedAt: T0 + 5 * MIN,
          endedAt: T0 + 5 * MIN,
          phases: [{ name: 'smoke' }, { name: 'bake' }],
          reasons: ['error rate 5 % over 1 %'],
          state: { evaluations: 7 },
          supersededBy: 'w_2',
        });
        await store.watches.update(changed);
        expect(await store.watches.get('w_1')).toEqual(changed);
      });

      it('a held watch reads back held, counts as active, and returns to running when released', async () => {
        await store.watches.insert(makeWatch({ id: 'w_held', status: 'held', startedAt: T0 + 2 }));
        await store.watches.insert(makeWatch({ id: 'w_run', startedAt: T0 + 1 }));
        await store.watches.insert(makeWatch({ id: 'w_done', status: 'passed', startedAt: T0 }));
        expect((await store.watches.get('w_held'))?.status).toBe('held');
        // running(): running and held, oldest first.
        expect(ids(await store.watches.running())).toEqual(['w_run', 'w_held']);
        // runningForService(): newest first.
        expect(ids(await store.watches.runningForService('prep-api'))).toEqual(['w_held', 'w_run']);
        expect(ids(await store.watches.list({ status: 'held' }))).toEqual(['w_held']);
        expect(ids(await store.watches.list({ status: 'running' }))).toEqual(['w_run']);

        await store.watches.update(makeWatch({ id: 'w_held', status: 'running', startedAt: T0 + 2 }));
        expect((await store.watches.get('w_held'))?.status).toBe('running');
        expect(await store.watches.list({ status: 'held' })).toEqual([]);
      });

      it('runningForService and last keep to their service; last is the newest whatever its status', async () => {
        await store.watches.insert(makeWatch({ id: 'a1', startedAt: T0 }));
        await store.watches.insert(makeWatch({ id: 'a2', status: 'aborted', startedAt: T0 + MIN }));
        await store.watches.insert(makeWatch({ id: 'b1', service: 'billing', startedAt: T0 + 2 * MIN }));
        expect(ids(await store.watches.runningForService('prep-api'))).toEqual(['a1']);
        expect(ids(await store.watches.runningForService('billing'))).toEqual(['b1']);
        expect(await store.watches.runningForService('nobody')).toEqual([]);
        expect((await store.watches.last('prep-api'))?.id).toBe('a2');
        expect((await store.watches.last('billing'))?.id).toBe('b1');
        expect(await store.watches.last('nobody')).toBeUndefined();
      });

      it('list is newest first, filtered by service and status, at most limit (100 by default)', async () => {
        for (let i = 0; i < 103; i++) {
          await store.watches.insert(
            makeWatch({
              id: `w_${String(i).padStart(3, '0')}`,
              service: i % 2 === 0 ? 'prep-api' : 'billing',
              status: i % 3 === 0 ? 'passed' : 'running',
              startedAt: T0 + i * MIN,
            }),
          );
        }
        const all = await store.watches.list({});
        expect(all).toHaveLength(100);
        expect(all[0]?.id).toBe('w_102');
        expect(all[99]?.id).toBe('w_003');
        expect(ids(await store.watches.list({ limit: 3 }))).toEqual(['w_102', 'w_101', 'w_100']);
        expect(ids(await store.watches.list({ service: 'billing', limit: 2 }))).toEqual(['w_101', 'w_099']);
        expect(ids(await store.watches.list({ service: 'prep-api', status: 'passed', limit: 3 }))).toEqual([
          'w_102',
          'w_096',
          'w_090',
        ]);
        const passed = await store.watches.list({ status: 'passed', limit: 1000 });
        expect(passed).toHaveLength(35);
        expect(passed.every((w) => w.status === 'passed')).toBe(true);
      });

      it('events come back in the order appended, per watch, data only when given', async () => {
        await store.watches.insert(makeWatch());
        await store.watches.insert(makeWatch({ id: 'w_2' }));
        await store.watches.appendEvent('w_1', { at: T0 + 5, type: 'phase', message: 'bake started' });
        await store.watches.appendEvent('w_2', { at: T0, type: 'created', message: 'other watch' });
        // Same time, and an earlier time appended later: the order is the append order.
        await store.watches.appendEvent('w_1', {
          at: T0 + 5,
          type: 'evaluation',
          message: 'evaluation 1',
          data: { checks: 3, nested: { ok: true } },
        });
        await store.watches.appendEvent('w_1', { at: T0, type: 'note', message: 'late note' });
        expect(await store.watches.events('w_1')).toEqual([
          { at: T0 + 5, type: 'phase', message: 'bake started' },
          {
            at: T0 + 5,
            type: 'evaluation',
            message: 'evaluation 1',
            data: { checks: 3, nested: { ok: true } },
          },
          { at: T0, type: 'note', message: 'late note' },
        ]);
        expect(await store.watches.events('w_404')).toEqual([]);
      });

      it('saveResults counts new rows, a replayed evaluation writes nothing, non-finite values are fine', async () => {
        await store.watches.insert(makeWatch());
        expect(await store.watches.resultCounts('w_1')).toEqual({ evaluations: 0, rows: 0 });
        const first = [makeResult('error-rate'), makeResult('latency', { value: Number.NaN })];
        expect(await store.watches.saveResults('w_1', 1, first)).toBe(2);
        expect(await store.watches.saveResults('w_1', 1, first)).toBe(0);
        expect(
          await store.watches.saveResults('w_1', 1, [
            ...first,
            makeResult('saturation', { baseline: Number.POSITIVE_INFINITY }),
          ]),
        ).toBe(1);
        expect(
          await store.watches.saveResults('w_1', 2, [makeResult('error-rate', { result: 'fail' })]),
        ).toBe(1);
        expect(await store.watches.resultCounts('w_1')).toEqual({ evaluations: 2, rows: 4 });
      });
    });

    describe('transactions', () => {
      it('commit: the writes are kept, the value returned, afterCommit called once after the commit', async () => {
        const calls: string[] = [];
        const value = await store.transaction(async (tx) => {
          await tx.watches.insert(makeWatch());
          tx.afterCommit(() => calls.push('after'));
          await tx.watches.appendEvent('w_1', { at: T0, type: 'created', message: 'watch started' });
          // A transaction reads its own writes.
          expect((await tx.watches.get('w_1'))?.id).toBe('w_1');
          expect(calls).toEqual([]);
          return 42;
        });
        expect(value).toBe(42);
        expect(calls).toEqual(['after']);
        expect((await store.watches.get('w_1'))?.id).toBe('w_1');
        expect(await store.watches.events('w_1')).toHaveLength(1);
      });

      it('rollback: a throw undoes every write of every repository and skips afterCommit', async () => {
        await store.watches.insert(makeWatch());
        let called = 0;
        const failure = new Error('decided otherwise');
        await expect(
          store.transaction(async (tx) => {
            await tx.watches.update(makeWatch({ status: 'failed', verdict: 'fail' }));
            await tx.watches.appendEvent('w_1', { at: T0, type: 'failed', message: 'failed' });
            await tx.rollbacks.record({
              watchId: 'w_1',
              at: T0,
              trigger: 'automatic',
              who: null,
              reason: null,
            });
            await tx.outbox.insert(makeDelivery());
            await tx.alerts.upsertFiring(firing('slo:x'));
            tx.afterCommit(() => called++);
            throw failure;
          }),
        ).rejects.toBe(failure);
        expect(called).toBe(0);
        expect((await store.watches.get('w_1'))?.status).toBe('running');
        expect(await store.watches.events('w_1')).toEqual([]);
        expect(await store.rollbacks.get('w_1')).toBeUndefined();
        expect(await store.outbox.get('d_1')).toBeUndefined();
        expect(await store.alerts.list()).toEqual([]);
        // The store still works after a rollback.
        await store.transaction(async (tx) =>
          tx.watches.appendEvent('w_1', { at: T0, type: 'x', message: 'y' }),
        );
        expect(await store.watches.events('w_1')).toHaveLength(1);
      });

      it('getForUpdate reads the watch; two transactions changing one watch take turns', async () => {
        await store.watches.insert(makeWatch({ state: { bumps: 0 } }));
        expect(await store.watches.getForUpdate('w_1')).toEqual(await store.watches.get('w_1'));
        expect(await store.watches.getForUpdate('w_404')).toBeUndefined();
        const bump = () =>
          store.transaction(async (tx) => {
            const watch = await tx.watches.getForUpdate('w_1');
            if (!watch) throw new Error('w_1 vanished');
            await yieldTurns();
            const { bumps } = watch.state as { bumps: number };
            await tx.watches.update({ ...watch, state: { bumps: bumps + 1 } });
          });
        await Promise.all([bump(), bump(), bump()]);
        expect((await store.watches.get('w_1'))?.state).toEqual({ bumps: 3 });
      });
    });

    describe('rollbacks', () => {
      it('a watch is rolled back once: the first record stays', async () => {
        const first = { watchId: 'w_1', at: T0, trigger: 'automatic' as const, who: null, reason: null };
        expect(await store.rollbacks.record(first)).toEqual({ record: first, created: true });
        expect(
          await store.rollbacks.record({
            watchId: 'w_1',
            at: T0 + MIN,
            trigger: 'operator',
            who: 'alice',
            reason: 'p95',
          }),
        ).toEqual({ record: first, created: false });
        expect(await store.rollbacks.get('w_1')).toEqual(first);
        const operator = {
          watchId: 'w_2',
          at: T0,
          trigger: 'operator' as const,
          who: 'bob',
          reason: 'manual',
        };
        expect((await store.rollbacks.record(operator)).created).toBe(true);
        expect(await store.rollbacks.get('w_2')).toEqual(operator);
        expect(await store.rollbacks.get('w_404')).toBeUndefined();
      });
    });

    describe('outbox', () => {
      it('insert is idempotent per (idempotency key, target) and stores a pending row', async () => {
        const { row, created } = await store.outbox.insert(makeDelivery({ dryRun: true, manual: true }));
        expect(created).toBe(true);
        expect(row).toEqual({
          ...makeDelivery({ dryRun: true, manual: true }),
          status: 'pending',
          attempts: 0,
          nextAttemptAt: T0,
          deliveredAt: null,
          lastError: null,
        });
        const again = await store.outbox.insert(makeDelivery({ id: 'd_again', createdAt: T0 + MIN }));
        expect(again.created).toBe(false);
        expect(again.row.id).toBe('d_1');
        expect(again.row.createdAt).toBe(T0);
        expect(await store.outbox.get('d_again')).toBeUndefined();
        const other = await store.outbox.insert(makeDelivery({ id: 'd_2', target: 'rollback:1' }));
        expect(other.created).toBe(true);
        expect(await store.outbox.get('d_1')).toEqual(row);
        expect(await store.outbox.get('d_404')).toBeUndefined();
      });

      it('claimDue takes due pending rows oldest first up to the limit, leased until leaseUntil(row)', async () => {
        for (const [i, createdAt] of [T0 + 3, T0 + 1, T0 + 2, T0 + MIN].entries()) {
          await store.outbox.insert(makeDelivery({ id: `d_${i}`, idempotencyKey: `k${i}`, createdAt }));
        }
        const seen: string[] = [];
        const claimed = await store.outbox.claimDue(T0 + 10, 2, (row) => {
          seen.push(row.id);
          return T0 + 1_000 + row.createdAt - T0;
        });
        expect(ids(claimed)).toEqual(['d_1', 'd_2']);
        expect(seen).toEqual(['d_1', 'd_2']);
        expect(claimed[0]?.body).toBe('{"event":"rollback"}');
        expect((await store.outbox.get('d_1'))?.nextAttemptAt).toBe(T0 + 1_001);
        expect((await store.outbox.get('d_2'))?.nextAttemptAt).toBe(T0 + 1_002);
        // Leased rows are not taken again before their lease; d_3 is not due yet.
        expect(ids(await store.outbox.claimDue(T0 + 10, 10, () => T0 + 5_000))).toEqual(['d_0']);
        expect(await store.outbox.claimDue(T0 + 1_000, 10, () => T0 + 5_000)).toEqual([]);
        // A lease that ran out (the worker died mid-attempt) makes the row due again.
        expect(ids(await store.outbox.claimDue(T0 + 1_001, 10, () => T0 + 9_000))).toEqual(['d_1']);
        expect(ids(await store.outbox.claimDue(T0 + 5_000, 10, () => T0 + 9_000))).toEqual(['d_2', 'd_0']);
      });

      it('two concurrent claimDue never take the same row, and together take every due one', async () => {
        for (let i = 0; i < 12; i++) {
          await store.outbox.insert(
            makeDelivery({ id: `d_${i}`, idempotencyKey: `k${i}`, createdAt: T0 + i }),
          );
        }
        const [a, b] = await Promise.all([
          store.outbox.claimDue(T0 + MIN, 8, () => T0 + 10 * MIN),
          store.outbox.claimDue(T0 + MIN, 8, () => T0 + 10 * MIN),
        ]);
        const taken = [...ids(a ?? []), ...ids(b ?? [])];
        expect(new Set(taken).size).toBe(taken.length);
        expect(taken.length).toBe(12);
      });

      it('delivered and failed rows are never claimed', async () => {
        await store.outbox.insert(makeDelivery({ id: 'd_ok', idempotencyKey: 'k1' }));
        await store.outbox.insert(makeDelivery({ id: 'd_bad', idempotencyKey: 'k2' }));
        await store.outbox.recordAttempt({
          deliveryId: 'd_ok',
          at: T0,
          statusCode: 200,
          latencyMs: 12,
          error: null,
          status: 'delivered',
          nextAttemptAt: T0,
        });
        await store.outbox.fail('d_bad', 'target gone');
        expect(await store.outbox.claimDue(T0 + MIN, 10, () => T0 + 2 * MIN)).toEqual([]);
      });

      it('recordAttempt numbers attempts and moves the row to pending, delivered or failed', async () => {
        await store.outbox.insert(makeDelivery());
        await store.outbox.insert(makeDelivery({ id: 'd_2', idempotencyKey: 'k2' }));
        expect(
          await store.outbox.recordAttempt({
            deliveryId: 'd_1',
            at: T0 + 1_000,
            statusCode: 503,
            latencyMs: 40.5,
            error: 'HTTP 503',
            status: 'pending',
            nextAttemptAt: T0 + 31_000,
          }),
        ).toBe(1);
        expect(await store.outbox.get('d_1')).toMatchObject({
          status: 'pending',
          attempts: 1,
          nextAttemptAt: T0 + 31_000,
          deliveredAt: null,
          lastError: 'HTTP 503',
        });
        expect(
          await store.outbox.recordAttempt({
            deliveryId: 'd_1',
            at: T0 + 31_500,
            statusCode: 200,
            latencyMs: 8,
            error: null,
            status: 'delivered',
            nextAttemptAt: T0 + 31_500,
          }),
        ).toBe(2);
        expect(await store.outbox.get('d_1')).toMatchObject({
          status: 'delivered',
          attempts: 2,
          deliveredAt: T0 + 31_500,
          lastError: null,
        });
        expect(
          await store.outbox.recordAttempt({
            deliveryId: 'd_2',
            at: T0 + 2_000,
            statusCode: 400,
            latencyMs: 5,
            error: 'HTTP 400',
            status: 'failed',
            nextAttemptAt: T0 + 2_000,
          }),
        ).toBe(1);
        expect(await store.outbox.get('d_2')).toMatchObject({
          status: 'failed',
          attempts: 1,
          deliveredAt: null,
          lastError: 'HTTP 400',
        });
      });

      it('fail ends a pending delivery without an attempt, and leaves a finished one alone', async () => {
        await store.outbox.insert(makeDelivery());
        await store.outbox.insert(makeDelivery({ id: 'd_2', idempotencyKey: 'k2' }));
        await store.outbox.recordAttempt({
          deliveryId: 'd_2',
          at: T0,
          statusCode: 200,
          latencyMs: 1,
          error: null,
          status: 'delivered',
          nextAttemptAt: T0,
        });
        await store.outbox.fail('d_1', 'target rollback:0 is no longer configured');
        await store.outbox.fail('d_2', 'too late');
        expect(await store.outbox.get('d_1')).toMatchObject({
          status: 'failed',
          attempts: 0,
          lastError: 'target rollback:0 is no longer configured',
        });
        expect(await store.outbox.get('d_2')).toMatchObject({ status: 'delivered', lastError: null });
        expect((await store.outbox.listForWatch('w_1'))[0]?.attemptLog).toEqual([]);
      });

      it('nextDueAt is the earliest pending next attempt, or null', async () => {
        expect(await store.outbox.nextDueAt()).toBeNull();
        await store.outbox.insert(makeDelivery({ id: 'd_1', idempotencyKey: 'k1', createdAt: T0 + 5_000 }));
        await store.outbox.insert(makeDelivery({ id: 'd_2', idempotencyKey: 'k2', createdAt: T0 + 1_000 }));
        expect(await store.outbox.nextDueAt()).toBe(T0 + 1_000);
        await store.outbox.recordAttempt({
          deliveryId: 'd_2',
          at: T0 + 1_000,
          statusCode: 200,
          latencyMs: 1,
          error: null,
          status: 'delivered',
          nextAttemptAt: T0 + 1_000,
        });
        expect(await store.outbox.nextDueAt()).toBe(T0 + 5_000);
        await store.outbox.claimDue(T0 + 5_000, 10, () => T0 + 65_000);
        expect(await store.outbox.nextDueAt()).toBe(T0 + 65_000);
        await store.outbox.fail('d_1', 'gone');
        expect(await store.outbox.nextDueAt()).toBeNull();
      });

      it('prune deletes finished deliveries created before the cut, with their attempts; pending ones stay', async () => {
        const finish = (deliveryId: string, status: 'delivered' | 'failed') =>
          store.outbox.recordAttempt({
            deliveryId,
            at: T0,
            statusCode: status === 'delivered' ? 200 : 500,
            latencyMs: 1,
            error: null,
            status,
            nextAttemptAt: T0,
          });
        await store.outbox.insert(makeDelivery({ id: 'old_ok', idempotencyKey: 'k1', createdAt: T0 }));
        await store.outbox.insert(makeDelivery({ id: 'old_bad', idempotencyKey: 'k2', createdAt: T0 }));
        await store.outbox.insert(makeDelivery({ id: 'old_pending', idempotencyKey: 'k3', createdAt: T0 }));
        await store.outbox.insert(
          // Created at the cut: kept.
          makeDelivery({ id: 'new_ok', idempotencyKey: 'k4', createdAt: T0 + MIN }),
        );
        await finish('old_ok', 'delivered');
        await finish('old_bad', 'failed');
        await finish('new_ok', 'delivered');
        expect(await store.outbox.prune(T0 + MIN)).toBe(2);
        expect(ids(await store.outbox.listForWatch('w_1'))).toEqual(['old_pending', 'new_ok']);
        expect(await store.outbox.get('old_ok')).toBeUndefined();
        expect(await store.outbox.prune(T0 + MIN)).toBe(0);
      });

      it("listForWatch gives a watch's deliveries oldest first, URLs redacted, no body, with the attempt log", async () => {
        await store.outbox.insert(
          makeDelivery({
            id: 'd_b',
            idempotencyKey: 'k_b',
            url: 'https://user:secret@hooks.example.com/deploy/rollback?token=abc#frag',
            createdAt: T0 + 1_000,
          }),
        );
        await store.outbox.insert(
          makeDelivery({ id: 'd_a', idempotencyKey: 'k_a', url: 'not a url', createdAt: T0 }),
        );
        await store.outbox.insert(
          makeDelivery({ id: 'd_other', watchId: 'w_2', idempotencyKey: 'k_o', createdAt: T0 }),
        );
        await store.outbox.insert(makeDelivery({ id: 'd_none', watchId: null, idempotencyKey: 'k_n' }));
        await store.outbox.recordAttempt({
          deliveryId: 'd_b',
          at: T0 + 2_000,
          statusCode: null,
          latencyMs: 10_000,
          error: 'timeout',
          status: 'pending',
          nextAttemptAt: T0 + 32_000,
        });
        await store.outbox.recordAttempt({
          deliveryId: 'd_b',
          at: T0 + 33_000,
          statusCode: 204,
          latencyMs: 15.25,
          error: null,
          status: 'delivered',
          nextAttemptAt: T0 + 33_000,
        });
        const views = await store.outbox.listForWatch('w_1');
        expect(ids(views)).toEqual(['d_a', 'd_b']);
        expect(views.map((v) => v.url)).toEqual([
          '[invalid url]',
          'https://hooks.example.com/deploy/rollback',
        ]);
        expect(views.some((v) => 'body' in v)).toBe(false);
        expect(views[0]?.attemptLog).toEqual([]);
        expect(views[1]).toMatchObject({ status: 'delivered', attempts: 2, idempotencyKey: 'k_b' });
        expect(views[1]?.attemptLog).toEqual([
          { at: T0 + 2_000, statusCode: null, latencyMs: 10_000, error: 'timeout' },
          { at: T0 + 33_000, statusCode: 204, latencyMs: 15.25, error: null },
        ]);
        expect(await store.outbox.listForWatch('w_404')).toEqual([]);
      });
    });

    describe('alerts', () => {
      it('a new firing alert is due at once; sent, it is not due again until its content changes', async () => {
        await store.alerts.upsertFiring(firing('slo:a', { autoResolveAt: T0 + 10 * MIN }));
        const [held] = await store.alerts.list();
        expect(held).toEqual({
          key: 'slo:a',
          labels: { alertname: 'VigilSloBurn', watch_id: 'w_1', slo: 'slo:a' },
          annotations: { summary: 'slo:a burns' },
          generatorUrl: 'http://vigil/watches/w_1',
          startsAt: T0,
          endsAt: T0 + 10 * MIN,
          lastSentAt: null,
          state: 'firing',
        });
        await store.alerts.markSent(await store.alerts.list(), T0 + 1_000);
        expect((await store.alerts.list())[0]?.lastSentAt).toBe(T0 + 1_000);

        // Firing again with the same content keeps its start and its send.
        await store.alerts.upsertFiring(firing('slo:a', { now: T0 + MIN, autoResolveAt: T0 + 20 * MIN }));
        expect((await store.alerts.list())[0]).toMatchObject({
          startsAt: T0,
          endsAt: T0 + 20 * MIN,
          lastSentAt: T0 + 1_000,
        });

        // Changed annotations: still the same start, due again.
        await store.alerts.upsertFiring(
          firing('slo:a', { now: T0 + 2 * MIN, annotations: { summary: 'slo:a burns faster' } }),
        );
        expect((await store.alerts.list())[0]).toMatchObject({
          startsAt: T0,
          lastSentAt: null,
          annotations: { summary: 'slo:a burns faster' },
        });
        await store.alerts.markSent(await store.alerts.list(), T0 + 3 * MIN);
        await store.alerts.upsertFiring(
          firing('slo:a', {
            now: T0 + 4 * MIN,
            generatorUrl: null,
            annotations: { summary: 'slo:a burns faster' },
          }),
        );
        expect((await store.alerts.list())[0]).toMatchObject({ lastSentAt: null, generatorUrl: null });
      });

      it('resolve ends a firing alert now and makes it due; a resolved alert fires again from a new start', async () => {
        await store.alerts.upsertFiring(firing('slo:a'));
        await store.alerts.markSent(await store.alerts.list(), T0 + 1);
        expect(await store.alerts.resolve('slo:a', T0 + MIN)).toBe(true);
        expect((await store.alerts.list())[0]).toMatchObject({
          state: 'resolved',
          startsAt: T0,
          endsAt: T0 + MIN,
          lastSentAt: null,
        });
        expect(await store.alerts.resolve('slo:a', T0 + 2 * MIN)).toBe(false);
        expect(await store.alerts.resolve('slo:404', T0)).toBe(false);
        expect((await store.alerts.list())[0]?.endsAt).toBe(T0 + MIN);
        await store.alerts.upsertFiring(firing('slo:a', { now: T0 + 3 * MIN }));
        expect((await store.alerts.list())[0]).toMatchObject({
          state: 'firing',
          startsAt: T0 + 3 * MIN,
          endsAt: null,
          lastSentAt: null,
        });
      });

      it('resolveByLabels resolves the firing alerts carrying every label given', async () => {
        await store.alerts.upsertFiring(firing('a', { labels: { watch_id: 'w_1', slo: 'a' } }));
        await store.alerts.upsertFiring(firing('b', { labels: { watch_id: 'w_1', slo: 'b' } }));
        await store.alerts.upsertFiring(firing('c', { labels: { watch_id: 'w_2', slo: 'a' } }));
        await store.alerts.upsertFiring(firing('d', { labels: { slo: 'a' } }));
        expect(await store.alerts.resolveByLabels({}, T0 + MIN)).toBe(0);
        expect(await store.alerts.resolveByLabels({ watch_id: 'w_1', slo: 'a' }, T0 + MIN)).toBe(1);
        expect(await store.alerts.resolveByLabels({ watch_id: 'w_1' }, T0 + 2 * MIN)).toBe(1);
        expect(await store.alerts.resolveByLabels({ watch_id: 'w_1' }, T0 + 3 * MIN)).toBe(0);
        const byKey = Object.fromEntries((await store.alerts.list()).map((a) => [a.key, a]));
        expect(byKey.a).toMatchObject({ state: 'resolved', endsAt: T0 + MIN });
        expect(byKey.b).toMatchObject({ state: 'resolved', endsAt: T0 + 2 * MIN });
        expect(byKey.c?.state).toBe('firing');
        expect(byKey.d?.state).toBe('firing');
      });

      it('resolveExpired resolves firing alerts past their deadline, ended at the deadline', async () => {
        await store.alerts.upsertFiring(firing('soon', { autoResolveAt: T0 + MIN }));
        await store.alerts.upsertFiring(firing('now', { autoResolveAt: T0 + 2 * MIN }));
        await store.alerts.upsertFiring(firing('later', { autoResolveAt: T0 + 3 * MIN }));
        await store.alerts.upsertFiring(firing('never'));
        await store.alerts.markSent(await store.alerts.list(), T0);
        expect(await store.alerts.resolveExpired(T0 + 2 * MIN)).toBe(2);
        const byKey = Object.fromEntries((await store.alerts.list()).map((a) => [a.key, a]));
        expect(byKey.soon).toMatchObject({ state: 'resolved', endsAt: T0 + MIN, lastSentAt: null });
        expect(byKey.now).toMatchObject({ state: 'resolved', endsAt: T0 + 2 * MIN, lastSentAt: null });
        expect(byKey.later).toMatchObject({ state: 'firing', lastSentAt: T0 });
        expect(byKey.never).toMatchObject({ state: 'firing', endsAt: null });
        expect(await store.alerts.resolveExpired(T0 + 2 * MIN)).toBe(0);
      });

      it('markSent forgets resolutions taken, and leaves due what changed while the post was in flight', async () => {
        await store.alerts.upsertFiring(firing('gone'));
        await store.alerts.upsertFiring(firing('changed'));
        await store.alerts.upsertFiring(firing('reresolved'));
        await store.alerts.resolve('gone', T0 + MIN);
        await store.alerts.resolve('reresolved', T0 + MIN);
        const read = await store.alerts.list();
        // In flight: `changed` gets new labels, `reresolved` fires again and is resolved later.
        await store.alerts.upsertFiring(firing('changed', { labels: { alertname: 'Other' } }));
        await store.alerts.upsertFiring(firing('reresolved', { now: T0 + 2 * MIN }));
        await store.alerts.resolve('reresolved', T0 + 3 * MIN);
        await store.alerts.markSent(read, T0 + 4 * MIN);
        const after = await store.alerts.list();
        expect(after.map((a) => a.key).sort()).toEqual(['changed', 'reresolved']);
        expect(after.find((a) => a.key === 'changed')).toMatchObject({ state: 'firing', lastSentAt: null });
        expect(after.find((a) => a.key === 'reresolved')).toMatchObject({
          state: 'resolved',
          endsAt: T0 + 3 * MIN,
          lastSentAt: null,
        });
      });

      it('list is oldest first', async () => {
        await store.alerts.upsertFiring(firing('b', { now: T0 + 2 }));
        await store.alerts.upsertFiring(firing('c', { now: T0 }));
        await store.alerts.upsertFiring(firing('a', { now: T0 + 1 }));
        expect((await store.alerts.list()).map((a) => a.key)).toEqual(['c', 'a', 'b']);
      });
    });

    describe('snapshots', () => {
      const batch = (
        watchId: string,
        elapsedMs: number,
        values: { slo: string; value: number }[],
        at = T0 + elapsedMs,
      ) => ({
        watchId,
        service: 'prep-api',
        version: '1.4.2',
        elapsedMs,
        at,
        values,
      });

      it('nearest takes the value closest to the elapsed time within the tolerance', async () => {
        await store.snapshots.save(
          batch('w_1', 10 * MIN, [
            { slo: 'errors', value: 0.1 },
            { slo: 'p95', value: 300 },
          ]),
        );
        await store.snapshots.save(batch('w_1', 11 * MIN, [{ slo: 'errors', value: 0.2 }]));
        await store.snapshots.save(batch('w_2', 10 * MIN + 5_000, [{ slo: 'errors', value: 9 }]));
        expect(await store.snapshots.nearest('w_1', 'errors', 10 * MIN + 20_000, 2 * MIN)).toEqual({
          value: 0.1,
          elapsedMs: 10 * MIN,
        });
        expect(await store.snapshots.nearest('w_1', 'errors', 10 * MIN + 40_000, 2 * MIN)).toEqual({
          value: 0.2,
          elapsedMs: 11 * MIN,
        });
        expect(await store.snapshots.nearest('w_1', 'p95', 11 * MIN, 2 * MIN)).toEqual({
          value: 300,
          elapsedMs: 10 * MIN,
        });
        expect(await store.snapshots.nearest('w_1', 'errors', 14 * MIN, 2 * MIN)).toBeUndefined();
        expect(await store.snapshots.nearest('w_1', 'errors', 13 * MIN, 2 * MIN)).toEqual({
          value: 0.2,
          elapsedMs: 11 * MIN,
        });
        expect(await store.snapshots.nearest('w_3', 'errors', 10 * MIN, 2 * MIN)).toBeUndefined();
      });

      it('a replayed evaluation replaces its values; non-finite values are not stored', async () => {
        await store.snapshots.save(batch('w_1', 10 * MIN, [{ slo: 'errors', value: 0.1 }]));
        await store.snapshots.save(
          batch('w_1', 10 * MIN, [
            { slo: 'errors', value: 0.3 },
            { slo: 'nan', value: Number.NaN },
            { slo: 'inf', value: Number.POSITIVE_INFINITY },
          ]),
        );
        expect(await store.snapshots.nearest('w_1', 'errors', 10 * MIN, 0)).toEqual({
          value: 0.3,
          elapsedMs: 10 * MIN,
        });
        expect(await store.snapshots.nearest('w_1', 'nan', 10 * MIN, MIN)).toBeUndefined();
        expect(await store.snapshots.nearest('w_1', 'inf', 10 * MIN, MIN)).toBeUndefined();
        // One row: pruning everything removes exactly one.
        expect(await store.snapshots.prune(T0 + 100 * MIN)).toBe(1);
      });

      it('passedWatchesWith lists passed watches of the service that stored the SLO, newest first', async () => {
        const watches = [
          makeWatch({ id: 'p_old', status: 'passed', startedAt: T0 }),
          makeWatch({ id: 'p_mid', status: 'passed', startedAt: T0 + MIN }),
          makeWatch({ id: 'p_new', status: 'passed', startedAt: T0 + 2 * MIN }),
          makeWatch({ id: 'failed', status: 'failed', startedAt: T0 + 3 * MIN }),
          makeWatch({ id: 'p_other_slo', status: 'passed', startedAt: T0 + 4 * MIN }),
          makeWatch({ id: 'p_other_svc', service: 'billing', status: 'passed', startedAt: T0 + 5 * MIN }),
        ];
        for (const watch of watches) await store.watches.insert(watch);
        for (const id of ['p_old', 'p_mid', 'p_new', 'failed']) {
          await store.snapshots.save(batch(id, MIN, [{ slo: 'errors', value: 1 }]));
        }
        await store.snapshots.save(batch('p_other_slo', MIN, [{ slo: 'p95', value: 1 }]));
        await store.snapshots.save({
          ...batch('p_other_svc', MIN, [{ slo: 'errors', value: 1 }]),
          service: 'billing',
        });
        expect(await store.snapshots.passedWatchesWith('prep-api', 'errors', '', 10)).toEqual([
          'p_new',
          'p_mid',
          'p_old',
        ]);
        expect(await store.snapshots.passedWatchesWith('prep-api', 'errors', 'p_new', 10)).toEqual([
          'p_mid',
          'p_old',
        ]);
        expect(await store.snapshots.passedWatchesWith('prep-api', 'errors', '', 2)).toEqual([
          'p_new',
          'p_mid',
        ]);
        expect(await store.snapshots.passedWatchesWith('prep-api', 'p95', '', 10)).toEqual(['p_other_slo']);
        expect(await store.snapshots.passedWatchesWith('billing', 'errors', '', 10)).toEqual(['p_other_svc']);
      });

      it('latestWatchOfVersion is the watch that stored the SLO for the version last', async () => {
        await store.snapshots.save(batch('w_a', MIN, [{ slo: 'errors', value: 1 }], T0 + 5 * MIN));
        await store.snapshots.save(batch('w_b', MIN, [{ slo: 'errors', value: 1 }], T0 + 9 * MIN));
        await store.snapshots.save(batch('w_c', MIN, [{ slo: 'errors', value: 1 }], T0 + 7 * MIN));
        await store.snapshots.save(batch('w_d', MIN, [{ slo: 'p95', value: 1 }], T0 + 20 * MIN));
        await store.snapshots.save({
          ...batch('w_e', MIN, [{ slo: 'errors', value: 1 }], T0 + 30 * MIN),
          version: '2.0.0',
        });
        expect(await store.snapshots.latestWatchOfVersion('prep-api', '1.4.2', 'errors')).toBe('w_b');
        expect(await store.snapshots.latestWatchOfVersion('prep-api', '1.4.2', 'p95')).toBe('w_d');
        expect(await store.snapshots.latestWatchOfVersion('prep-api', '9.9.9', 'errors')).toBeUndefined();
        expect(await store.snapshots.latestWatchOfVersion('billing', '1.4.2', 'errors')).toBeUndefined();
      });

      it('prune deletes snapshots taken before the cut', async () => {
        await store.snapshots.save(
          batch(
            'w_1',
            MIN,
            [
              { slo: 'a', value: 1 },
              { slo: 'b', value: 2 },
            ],
            T0,
          ),
        );
        // Taken at the cut: kept.
        await store.snapshots.save(batch('w_1', 2 * MIN, [{ slo: 'a', value: 3 }], T0 + MIN));
        expect(await store.snapshots.prune(T0 + MIN)).toBe(2);
        expect(await store.snapshots.nearest('w_1', 'a', MIN, 30_000)).toBeUndefined();
        expect(await store.snapshots.nearest('w_1', 'a', 2 * MIN, 0)).toEqual({
          value: 3,
          elapsedMs: 2 * MIN,
        });
        expect(await store.snapshots.prune(T0 + MIN)).toBe(0);
      });
    });

    describe('rollups', () => {
      it('put writes minutes that range reads back ascending in [from, to), per service and probe', async () => {
        const rows = [
          minute({ minute: T0 + 2 * MIN, histogram: [1] }),
          minute({ minute: T0 }),
          minute({ minute: T0 + MIN, successes: 0, total: 1, latencySumMs: 0.000125 }),
          minute({ minute: T0 + 3 * MIN }),
          minute({ probe: 'login', minute: T0 + MIN }),
          minute({ service: 'billing', minute: T0 + MIN }),
        ];
        expect(await store.rollups.put(rows)).toBe(6);
        expect(await store.rollups.range('prep-api', 'health', T0, T0 + 3 * MIN)).toEqual([
          rows[1],
          rows[2],
          rows[0],
        ]);
        expect(await store.rollups.range('billing', 'health', T0, T0 + 10 * MIN)).toEqual([rows[5]]);
        expect(await store.rollups.range('prep-api', 'login', T0 + 2 * MIN, T0 + 10 * MIN)).toEqual([]);
        expect(await store.rollups.put([])).toBe(0);
      });

      it('put replaces a minute written before', async () => {
        await store.rollups.put([minute()]);
        const replaced = minute({
          successes: 20,
          total: 21,
          latencySumMs: 999.5,
          histogram: [0, 0, 0, 0, 21],
        });
        expect(await store.rollups.put([replaced])).toBe(1);
        expect(await store.rollups.range('prep-api', 'health', T0, T0 + MIN)).toEqual([replaced]);
      });

      it('getMany returns the stored minutes among the keys', async () => {
        await store.rollups.put([
          minute({ minute: T0 }),
          minute({ minute: T0 + MIN, probe: 'login' }),
          minute({ minute: T0 + 2 * MIN, service: 'billing' }),
        ]);
        const found = await store.rollups.getMany('prep-api', [
          { probe: 'health', minute: T0 },
          { probe: 'login', minute: T0 + MIN },
          { probe: 'health', minute: T0 + 2 * MIN },
          { probe: 'nope', minute: T0 },
        ]);
        expect(found.map((m) => `${m.probe}@${m.minute - T0}`).sort()).toEqual(['health@0', `login@${MIN}`]);
        expect(found.find((m) => m.probe === 'health')).toEqual(minute({ minute: T0 }));
        expect(await store.rollups.getMany('prep-api', [])).toEqual([]);
      });

      it('prune deletes minutes before the cut for every service', async () => {
        await store.rollups.put([
          minute({ minute: T0 }),
          minute({ minute: T0 + MIN }),
          minute({ service: 'billing', minute: T0 }),
          minute({ service: 'billing', minute: T0 + 2 * MIN }),
        ]);
        expect(await store.rollups.prune(T0 + MIN)).toBe(2);
        expect(
          (await store.rollups.range('prep-api', 'health', 0, T0 + 10 * MIN)).map((m) => m.minute),
        ).toEqual([T0 + MIN]);
        expect(
          (await store.rollups.range('billing', 'health', 0, T0 + 10 * MIN)).map((m) => m.minute),
        ).toEqual([T0 + 2 * MIN]);
      });

      it("adoptUnowned gives pre-fleet minutes and load runs to the service, keeping the service's own minute", async () => {
        await store.rollups.put([
          minute({ service: '', minute: T0, successes: 1, total: 2 }),
          minute({ service: '', minute: T0 + MIN, successes: 3, total: 3 }),
          minute({ service: 'prep-api', minute: T0, successes: 7, total: 7 }),
        ]);
        await store.loadRuns.insert({
          id: 'lr_old',
          service: '',
          watchId: null,
          profile: 'smoke',
          trigger: 'schedule',
          startedAt: T0,
        });
        // One minute and one run moved; the colliding pre-fleet minute is dropped.
        expect(await store.rollups.adoptUnowned('prep-api')).toBe(2);
        expect(
          (await store.rollups.range('prep-api', 'health', T0, T0 + 2 * MIN)).map((m) => [m.minute, m.total]),
        ).toEqual([
          [T0, 7],
          [T0 + MIN, 3],
        ]);
        expect(await store.rollups.range('', 'health', T0, T0 + 2 * MIN)).toEqual([]);
        expect(ids(await store.loadRuns.list('prep-api'))).toEqual(['lr_old']);
        expect(await store.loadRuns.list('')).toEqual([]);
        expect(await store.rollups.adoptUnowned('billing')).toBe(0);
      });
    });

    describe('load runs', () => {
      const run = (
        id: string,
        overrides: Partial<{
          service: string;
          watchId: string | null;
          profile: string;
          startedAt: number;
        }> = {},
      ) => ({
        id,
        service: 'prep-api',
        watchId: null,
        profile: 'smoke',
        trigger: 'watch' as const,
        startedAt: T0,
        ...overrides,
      });
      const finished = (
        result: 'pass' | 'fail' = 'pass',
        document: unknown = { summary: { p95: 120 }, fingerprint: 'f1' },
      ) => ({
        endedAt: T0 + 5 * MIN,
        exitCode: result === 'pass' ? 0 : 99,
        result,
        explanation: `k6 ${result}`,
        document,
      });

      it('a run reads back open, then finished with its document; the watch status comes along', async () => {
        await store.watches.insert(makeWatch({ status: 'passed' }));
        await store.loadRuns.insert(run('lr_1', { watchId: 'w_1' }));
        await store.loadRuns.insert(run('lr_2'));
        expect(await store.loadRuns.get('lr_1')).toEqual({
          id: 'lr_1',
          service: 'prep-api',
          watchId: 'w_1',
          profile: 'smoke',
          trigger: 'watch',
          startedAt: T0,
          endedAt: null,
          exitCode: null,
          result: null,
          explanation: null,
          document: null,
          watchStatus: 'passed',
        });
        expect((await store.loadRuns.get('lr_2'))?.watchStatus).toBeNull();
        const document = { summary: { p95: 120, checks: [1, 2] }, comparison: null, fingerprint: 'f1' };
        await store.loadRuns.finish('lr_1', finished('pass', document));
        expect(await store.loadRuns.get('lr_1')).toMatchObject({
          endedAt: T0 + 5 * MIN,
          exitCode: 0,
          result: 'pass',
          explanation: 'k6 pass',
          document,
        });
        expect(await store.loadRuns.get('lr_404')).toBeUndefined();
      });

      it('list is newest first, per service, filtered by profile and watch, at most limit', async () => {
        await store.loadRuns.insert(run('a', { startedAt: T0 }));
        await store.loadRuns.insert(run('b', { startedAt: T0 + 2 * MIN, profile: 'soak' }));
        await store.loadRuns.insert(run('c', { startedAt: T0 + MIN, watchId: 'w_1' }));
        await store.loadRuns.insert(run('d', { startedAt: T0 + 3 * MIN, service: 'billing' }));
        expect(ids(await store.loadRuns.list('prep-api'))).toEqual(['b', 'c', 'a']);
        expect(ids(await store.loadRuns.list('prep-api', { profile: 'smoke' }))).toEqual(['c', 'a']);
        expect(ids(await store.loadRuns.list('prep-api', { watchId: 'w_1' }))).toEqual(['c']);
        expect(ids(await store.loadRuns.list('prep-api', { limit: 2 }))).toEqual(['b', 'c']);
        expect(ids(await store.loadRuns.list('billing'))).toEqual(['d']);
      });

      it('passedRuns: passed runs of the profile with a document, newest first, none of failed or aborted watches', async () => {
        for (const [id, status] of [
          ['w_pass', 'passed'],
          ['w_fail', 'failed'],
          ['w_abort', 'aborted'],
          ['w_run', 'running'],
        ] as const) {
          await store.watches.insert(makeWatch({ id, status }));
        }
        const add = async (
          id: string,
          minutes: number,
          overrides: Parameters<typeof run>[1],
          result: 'pass' | 'fail' = 'pass',
        ) => {
          await store.loadRuns.insert(run(id, { startedAt: T0 + minutes * MIN, ...overrides }));
          await store.loadRuns.finish(id, finished(result));
        };
        await add('no_watch', 1, {});
        await add('of_passed', 2, { watchId: 'w_pass' });
        await add('of_failed', 3, { watchId: 'w_fail' });
        await add('of_aborted', 4, { watchId: 'w_abort' });
        await add('of_running', 5, { watchId: 'w_run' });
        await add('of_gone', 6, { watchId: 'w_deleted' });
        await add('failed_run', 7, {}, 'fail');
        await add('other_profile', 8, { profile: 'soak' });
        await add('other_service', 9, { service: 'billing' });
        await store.loadRuns.insert(run('no_document', { startedAt: T0 + 9.5 * MIN }));
        await store.loadRuns.finish('no_document', finished('pass', null));
        await store.loadRuns.insert(run('still_open', { startedAt: T0 + 10 * MIN }));
        expect(ids(await store.loadRuns.passedRuns('prep-api', 'smoke', '', 10))).toEqual([
          'of_gone',
          'of_running',
          'of_passed',
          'no_watch',
        ]);
        expect(ids(await store.loadRuns.passedRuns('prep-api', 'smoke', 'of_gone', 2))).toEqual([
          'of_running',
          'of_passed',
        ]);
        const [first] = await store.loadRuns.passedRuns('prep-api', 'smoke', '', 1);
        expect(first?.document).toEqual({ summary: { p95: 120 }, fingerprint: 'f1' });
      });

      it('closeInterrupted closes the runs left open, and only those', async () => {
        await store.loadRuns.insert(run('open_a'));
        await store.loadRuns.insert(run('open_b', { service: 'billing' }));
        await store.loadRuns.insert(run('done'));
        await store.loadRuns.finish('done', finished('pass'));
        const why = 'the daemon stopped while this k6 run was in progress';
        expect(await store.loadRuns.closeInterrupted(T0 + 9 * MIN, why)).toBe(2);
        expect(await store.loadRuns.get('open_a')).toMatchObject({
          endedAt: T0 + 9 * MIN,
          result: 'inconclusive',
          explanation: why,
          document: null,
        });
        expect((await store.loadRuns.get('open_b'))?.result).toBe('inconclusive');
        expect(await store.loadRuns.get('done')).toMatchObject({ result: 'pass', endedAt: T0 + 5 * MIN });
        expect(await store.loadRuns.closeInterrupted(T0 + 10 * MIN, why)).toBe(0);
      });
    });

    describe('patterns', () => {
      const baseline = (overrides: Partial<PatternBaselineRow> = {}): PatternBaselineRow => ({
        from: T0 - 60 * MIN,
        to: T0,
        lines: 5_000,
        sampled: true,
        volume: 12_345.5,
        computedAt: T0,
        signatures: [{ id: 'p1', level: 'error', logger: 'db', template: 'x <*>', count: 4 }],
        ...overrides,
      });

      it('a baseline is kept as first written', async () => {
        const first = baseline();
        await store.patterns.saveBaseline('w_1', 'errors', 'prep-api', first);
        await store.patterns.saveBaseline(
          'w_1',
          'errors',
          'prep-api',
          baseline({ lines: 1, sampled: false, volume: null }),
        );
        expect(await store.patterns.baseline('w_1', 'errors')).toEqual(first);
        await store.patterns.saveBaseline(
          'w_1',
          'warnings',
          'prep-api',
          baseline({ volume: null, sampled: false }),
        );
        expect(await store.patterns.baseline('w_1', 'warnings')).toMatchObject({
          volume: null,
          sampled: false,
        });
        expect(await store.patterns.baseline('w_1', 'nope')).toBeUndefined();
        expect(await store.patterns.baseline('w_2', 'errors')).toBeUndefined();
      });

      it("replaceObservations replaces a check's signatures and keeps each one's earliest first-seen", async () => {
        await store.patterns.replaceObservations('w_1', 'errors', 'prep-api', T0 + MIN, [
          observation('s_kept', { firstSeen: T0 }),
          observation('s_earlier', { firstSeen: T0 + 30_000 }),
          observation('s_dropped'),
        ]);
        await store.patterns.replaceObservations('w_1', 'warnings', 'prep-api', T0 + MIN, [
          observation('s_warn', { check: 'warnings' }),
        ]);
        await store.patterns.replaceObservations('w_1', 'errors', 'prep-api', T0 + 2 * MIN, [
          observation('s_kept', { firstSeen: T0 + MIN, count: 9, status: 'known', baselineCount: 4 }),
          observation('s_earlier', { firstSeen: T0 + 10_000 }),
          observation('s_new', { firstSeen: T0 + 2 * MIN, examples: { any: ['document'] } }),
        ]);
        const seen = (await store.patterns.observations('w_1')).sort((a, b) =>
          a.signature.localeCompare(b.signature),
        );
        expect(seen).toEqual([
          observation('s_earlier', { firstSeen: T0 + 10_000, updatedAt: T0 + 2 * MIN }),
          observation('s_kept', {
            firstSeen: T0,
            count: 9,
            status: 'known',
            baselineCount: 4,
            updatedAt: T0 + 2 * MIN,
          }),
          observation('s_new', {
            firstSeen: T0 + 2 * MIN,
            examples: { any: ['document'] },
            updatedAt: T0 + 2 * MIN,
          }),
          observation('s_warn', { check: 'warnings', updatedAt: T0 + MIN }),
        ]);
        expect(await store.patterns.observations('w_2')).toEqual([]);
        await store.patterns.replaceObservations('w_1', 'errors', 'prep-api', T0 + 3 * MIN, []);
        expect((await store.patterns.observations('w_1')).map((o) => o.signature)).toEqual(['s_warn']);
      });

      it('feedback is the latest decision per signature of the service, in decision order; history keeps all', async () => {
        await store.patterns.addFeedback(feedback('s1', { at: T0 }));
        await store.patterns.addFeedback(feedback('s2', { at: T0 + 1, verdict: 'always-fail' }));
        await store.patterns.addFeedback(feedback('s1', { at: T0 + 2, verdict: 'always-fail', who: 'bob' }));
        await store.patterns.addFeedback(feedback('s1', { at: T0 + 3, service: 'billing' }));
        expect(await store.patterns.feedback('prep-api')).toEqual([
          feedback('s2', { at: T0 + 1, verdict: 'always-fail' }),
          feedback('s1', { at: T0 + 2, verdict: 'always-fail', who: 'bob' }),
        ]);
        expect(await store.patterns.feedback('billing')).toEqual([
          feedback('s1', { at: T0 + 3, service: 'billing' }),
        ]);
        expect(await store.patterns.feedback('nobody')).toEqual([]);
        expect((await store.patterns.feedbackHistory('s1')).map((f) => [f.service, f.at])).toEqual([
          ['prep-api', T0],
          ['prep-api', T0 + 2],
          ['billing', T0 + 3],
        ]);
        expect(await store.patterns.feedbackHistory('s404')).toEqual([]);
      });

      it('findSignature describes a signature from its latest observation', async () => {
        await store.patterns.replaceObservations('w_1', 'errors', 'prep-api', T0, [
          observation('s1', { template: 'old template', logger: 'old' }),
        ]);
        await store.patterns.replaceObservations('w_2', 'errors', 'billing', T0 + MIN, [
          observation('s1', { template: 'new template', logger: 'new', level: 'warn' }),
        ]);
        expect(await store.patterns.findSignature('s1')).toEqual({
          service: 'billing',
          level: 'warn',
          logger: 'new',
          template: 'new template',
        });
        expect(await store.patterns.findSignature('s404')).toBeUndefined();
      });

      it('prune deletes baselines and observations before the cut; feedback stays', async () => {
        await store.patterns.saveBaseline('w_old', 'errors', 'prep-api', baseline({ computedAt: T0 }));
        await store.patterns.saveBaseline('w_new', 'errors', 'prep-api', baseline({ computedAt: T0 + MIN }));
        await store.patterns.replaceObservations('w_old', 'errors', 'prep-api', T0, [
          observation('a'),
          observation('b'),
        ]);
        // Written at the cut: kept.
        await store.patterns.replaceObservations('w_new', 'errors', 'prep-api', T0 + MIN, [observation('c')]);
        await store.patterns.addFeedback(feedback('a', { at: T0 - MIN }));
        expect(await store.patterns.prune(T0 + MIN)).toBe(3);
        expect(await store.patterns.baseline('w_old', 'errors')).toBeUndefined();
        expect(await store.patterns.baseline('w_new', 'errors')).toBeDefined();
        expect(await store.patterns.observations('w_old')).toEqual([]);
        expect(await store.patterns.observations('w_new')).toHaveLength(1);
        expect(await store.patterns.feedback('prep-api')).toHaveLength(1);
      });

      it('passedWatches are the last passed watches of the service, newest first', async () => {
        await store.watches.insert(
          makeWatch({ id: 'p1', status: 'passed', startedAt: T0, endedAt: T0 + 30 * MIN }),
        );
        await store.watches.insert(
          makeWatch({
            id: 'p2',
            status: 'passed',
            version: '1.5.0',
            startedAt: T0 + 60 * MIN,
            endedAt: null,
            updatedAt: T0 + 70 * MIN,
          }),
        );
        await store.watches.insert(
          makeWatch({ id: 'p3', status: 'passed', startedAt: T0 + 120 * MIN, endedAt: T0 + 150 * MIN }),
        );
        await store.watches.insert(makeWatch({ id: 'f1', status: 'failed', startedAt: T0 + 180 * MIN }));
        await store.watches.insert(
          makeWatch({ id: 'b1', service: 'billing', status: 'passed', startedAt: T0 + 200 * MIN }),
        );
        expect(await store.patterns.passedWatches('prep-api', 'p3', 5)).toEqual([
          // A passed watch without an end reads its last update as its end.
          { id: 'p2', version: '1.5.0', startedAt: T0 + 60 * MIN, endedAt: T0 + 70 * MIN },
          { id: 'p1', version: '1.4.2', startedAt: T0, endedAt: T0 + 30 * MIN },
        ]);
        expect(ids(await store.patterns.passedWatches('prep-api', '', 2))).toEqual(['p3', 'p2']);
        expect(await store.patterns.passedWatches('nobody', '', 2)).toEqual([]);
      });

      it('observedOf gives the signatures a watch saw in one check', async () => {
        await store.patterns.replaceObservations('w_1', 'errors', 'prep-api', T0, [
          observation('s1', { count: 4 }),
          observation('s2', { count: 1, level: 'warn' }),
        ]);
        await store.patterns.replaceObservations('w_1', 'warnings', 'prep-api', T0, [
          observation('s3', { check: 'warnings' }),
        ]);
        const seen = (await store.patterns.observedOf('w_1', 'errors')).sort((a, b) =>
          a.signature.localeCompare(b.signature),
        );
        expect(seen).toEqual([
          { signature: 's1', level: 'error', logger: 'db', template: 'connection <*> refused s1', count: 4 },
          { signature: 's2', level: 'warn', logger: 'db', template: 'connection <*> refused s2', count: 1 },
        ]);
        expect(await store.patterns.observedOf('w_2', 'errors')).toEqual([]);
      });
    });

    describe('store', () => {
      it('names its engine and location, proves it can commit, and leads alone', async () => {
        expect(['sqlite', 'postgres']).toContain(store.engine);
        expect(typeof store.location).toBe('string');
        await expect(store.checkWritable()).resolves.toBeUndefined();
        const leadership = store.leadership({ instance: 'vigil-0' });
        let acquired = 0;
        leadership.onAcquired(() => acquired++);
        await leadership.start();
        expect(acquired).toBe(1);
        expect(leadership.status()).toMatchObject({
          leader: true,
          instance: 'vigil-0',
          leaderInstance: 'vigil-0',
        });
        await leadership.stop();
      });
    });
  });
}
