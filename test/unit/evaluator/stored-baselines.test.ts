import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type SloConfig, sloSchema } from '../../../src/config/schema.js';
import { evaluateSlo, snapshotValues } from '../../../src/evaluator/evaluate.js';
import type { EvaluationContext } from '../../../src/evaluator/result.js';
import { createSnapshotReader } from '../../../src/evaluator/snapshot-baselines.js';
import type { SliSource } from '../../../src/sources/types.js';
import { openStore } from '../../../src/store/open.js';
import type { Store, StoredWatchStatus } from '../../../src/store/port.js';

const MIN = 60_000;
const T0 = Date.parse('2026-11-20T10:00:00Z');
const NOW_DEPLOY = Date.parse('2026-11-27T10:00:00Z');

let store: Store;
beforeEach(async () => {
  store = await openStore({ path: ':memory:' });
});
afterEach(() => store.close());

async function addWatch(
  id: string,
  version: string,
  status: StoredWatchStatus,
  startedAt: number,
  p95At20m: number,
  elapsed = [19 * MIN, 20 * MIN + 3_000, 21 * MIN],
): Promise<void> {
  await store.watches.insert({
    id,
    service: 'prep-api',
    version,
    previousVersion: null,
    status,
    verdict: 'pass',
    phase: 'bake',
    startedAt,
    updatedAt: startedAt,
    endedAt: null,
    durationMs: 86_400_000,
    phases: [],
    reasons: [],
    state: {},
    supersededBy: null,
  });
  for (const elapsedMs of elapsed) {
    await store.snapshots.save({
      watchId: id,
      service: 'prep-api',
      version,
      elapsedMs,
      at: startedAt + elapsedMs,
      values: [{ slo: 'p95-latency', value: elapsedMs === 20 * MIN + 3_000 ? p95At20m : 99 }],
    });
  }
}

function source(value: number): SliSource {
  return {
    kind: 'prometheus',
    query: async (_q, at) => ({ value, at }),
    queryRange: async () => [],
    isOnline: async () => ({ online: true, latencyMs: 0 }),
  };
}

function check(baseline: Record<string, unknown>): SloConfig {
  return sloSchema.parse({ name: 'p95-latency', source: 'prometheus', query: 'x', baseline });
}

function ctx(value: number, extra: Partial<EvaluationContext> = {}): EvaluationContext {
  return {
    sources: { prometheus: source(value) },
    at: NOW_DEPLOY + 20 * MIN,
    deployedAt: NOW_DEPLOY,
    windowMs: 5 * MIN,
    vars: { service: 'prep-api', version: '1.4.3', previousVersion: '1.4.2' },
    watchId: 'w_now',
    snapshots: createSnapshotReader(store),
    ...extra,
  };
}

describe('previous-watch and pinned baselines', () => {
  it('previous-watch compares with the last passed watch at the same elapsed time', async () => {
    await addWatch('w_old', '1.4.0', 'passed', T0, 0.1);
    await addWatch('w_prev', '1.4.1', 'passed', T0 + 86_400_000, 0.2);
    await addWatch('w_failed', '1.4.2', 'failed', T0 + 2 * 86_400_000, 5);
    const [c] = await evaluateSlo(check({ from: 'previous-watch', maxIncrease: '20%' }), ctx(0.3));
    expect(c).toMatchObject({ result: 'fail', baseline: 0.2, baselineFrom: 'previous-watch' });
    expect(c?.explanation).toContain('baseline 0.2 (previous watch at +20m)');
  });

  it('previous-watch aggregates several watches with median or mean', async () => {
    await addWatch('w1', '1.4.0', 'passed', T0, 0.1);
    await addWatch('w2', '1.4.1', 'passed', T0 + 1000, 0.2);
    await addWatch('w3', '1.4.2', 'passed', T0 + 2000, 0.6);
    const [median] = await evaluateSlo(
      check({ from: 'previous-watch', count: 3, aggregate: 'median', maxIncrease: '50%' }),
      ctx(0.25),
    );
    expect(median).toMatchObject({ result: 'pass', baseline: 0.2 });
    const [mean] = await evaluateSlo(
      check({ from: 'previous-watch', count: 3, maxIncrease: '50%' }),
      ctx(0.25),
    );
    expect(mean?.baseline).toBeCloseTo(0.3, 9);
    expect(mean?.explanation).toContain('mean of 3 previous watches');
  });

  it('a passed watch that stored nothing near the elapsed time is passed over for an older one', async () => {
    await addWatch('w_old', '1.4.0', 'passed', T0, 0.2);
    await addWatch('w_new', '1.4.1', 'passed', T0 + 86_400_000, 0.1, [60 * MIN]);
    const [c] = await evaluateSlo(check({ from: 'previous-watch', maxIncrease: '20%' }), ctx(0.3));
    expect(c).toMatchObject({ result: 'fail', baseline: 0.2 });
    expect(c?.explanation).toContain('baseline 0.2 (previous watch at +20m)');
  });

  it('previous-watch with no passed watch is inconclusive', async () => {
    await addWatch('w_failed', '1.4.2', 'failed', T0, 0.2);
    const [c] = await evaluateSlo(check({ from: 'previous-watch', maxIncrease: '20%' }), ctx(0.3));
    expect(c?.result).toBe('inconclusive');
    expect(c?.explanation).toContain('no passed watch of prep-api stored p95-latency at +20m');
  });

  it('the watch being judged is never its own baseline', async () => {
    await addWatch('w_now', '1.4.3', 'passed', NOW_DEPLOY, 0.3);
    const [c] = await evaluateSlo(check({ from: 'previous-watch', maxIncrease: '20%' }), ctx(0.3));
    expect(c?.result).toBe('inconclusive');
  });

  it('pinned version reads the latest watch of that version', async () => {
    await addWatch('w_a', '1.3.0', 'passed', T0, 0.15);
    await addWatch('w_b', '1.4.1', 'passed', T0 + 1000, 0.5);
    const [c] = await evaluateSlo(check({ from: 'pinned', version: '1.3.0', maxIncrease: '20%' }), ctx(0.3));
    expect(c).toMatchObject({ result: 'fail', baseline: 0.15 });
    expect(c?.explanation).toContain('pinned version 1.3.0 at +20m');
  });

  it('pinned watch id reads that watch', async () => {
    await addWatch('w_a', '1.3.0', 'failed', T0, 0.3);
    const [c] = await evaluateSlo(check({ from: 'pinned', watch: 'w_a', maxIncrease: '20%' }), ctx(0.3));
    expect(c).toMatchObject({ result: 'pass', baseline: 0.3 });
  });

  it('stored baselines without a store are inconclusive', async () => {
    const [c] = await evaluateSlo(
      check({ from: 'previous-watch', maxIncrease: '20%' }),
      ctx(0.3, { snapshots: undefined }),
    );
    expect(c?.result).toBe('inconclusive');
    expect(c?.explanation).toContain('need the snapshot store');
  });

  it('values stored too far from the elapsed time are not used', async () => {
    await addWatch('w_prev', '1.4.1', 'passed', T0, 0.2);
    const [c] = await evaluateSlo(
      check({ from: 'previous-watch', maxIncrease: '20%' }),
      ctx(0.3, { at: NOW_DEPLOY + 60 * MIN }),
    );
    expect(c?.result).toBe('inconclusive');
  });
});

describe('snapshot repository', () => {
  it('saving twice for the same evaluation replaces the value', async () => {
    const batch = {
      watchId: 'w',
      service: 's',
      version: 'v',
      elapsedMs: 60_000,
      at: 1000,
      values: [{ slo: 'a', value: 1 }],
    };
    await store.snapshots.save(batch);
    await store.snapshots.save({ ...batch, values: [{ slo: 'a', value: 2 }] });
    expect(await store.snapshots.nearest('w', 'a', 60_000, 0)).toEqual({ value: 2, elapsedMs: 60_000 });
    // One row, not two: the second save replaced the first.
    expect(await store.snapshots.prune(Number.MAX_SAFE_INTEGER)).toBe(1);
  });

  it('pruning removes snapshots older than the cutoff', async () => {
    await store.snapshots.save({
      watchId: 'w',
      service: 's',
      version: 'v',
      elapsedMs: 1,
      at: 1000,
      values: [{ slo: 'a', value: 1 }],
    });
    await store.snapshots.save({
      watchId: 'w',
      service: 's',
      version: 'v',
      elapsedMs: 2,
      at: 5000,
      values: [{ slo: 'a', value: 1 }],
    });
    expect(await store.snapshots.prune(2000)).toBe(1);
    expect(await store.snapshots.nearest('w', 'a', 1, 0)).toBeUndefined();
    expect(await store.snapshots.nearest('w', 'a', 2, 0)).toEqual({ value: 1, elapsedMs: 2 });
    expect(await store.snapshots.prune(Number.MAX_SAFE_INTEGER)).toBe(1);
  });

  it('snapshotValues keeps main checks with a finite value', () => {
    const base = {
      objective: null,
      baseline: null,
      samples: 1,
      query: 'q',
      explanation: '',
      consecutiveFailures: 0,
      evaluatedAt: '',
    };
    expect(
      snapshotValues([
        { ...base, name: 'a', kind: 'slo', result: 'pass', value: 0.5 },
        { ...base, name: 'b', kind: 'slo', result: 'inconclusive', value: null },
        { ...base, name: 'a:burn-rate', kind: 'burn-rate', result: 'pass', value: 2 },
      ]),
    ).toEqual([{ slo: 'a', value: 0.5 }]);
  });
});
