import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProbeRollups, PENDING_KEPT_MINUTES, type ProbeRollups } from '../../../src/prober/rollups.js';
import type { ProbeResult } from '../../../src/prober/types.js';
import { openStore } from '../../../src/store/open.js';
import type { Store } from '../../../src/store/port.js';
import { type Refusable, refusable, storedMinutes } from './rollup-store.js';

/*
 * Results from the prober gather in memory and reach the store one transaction per flush. What a reader
 * sees must not depend on whether the runs were written yet, nor on how they were batched.
 */

const T0 = Date.parse('2026-11-27T10:00:00Z');
const MIN = 60_000;

function result(probe: string, at: number, success: boolean, durationMs: number): ProbeResult {
  return {
    probe,
    kind: 'smoke',
    success,
    startedAt: new Date(at).toISOString(),
    durationMs,
    phases: { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: durationMs, transferMs: 0 },
    failure: null,
    assertions: [],
    steps: [],
  };
}

const PROBES = ['health', 'login', 'search', 'other', ...Array.from({ length: 50 }, (_, p) => `p${p}`)];
const rowCount = async (store: Store): Promise<number> =>
  (await storedMinutes(store, 'prep-api', PROBES)).length;

let store: Store;
let writes: Refusable;
let rollups: ProbeRollups;

beforeEach(async () => {
  store = await openStore({ path: ':memory:' });
  writes = refusable(store);
  rollups = createProbeRollups(writes.store, 'prep-api');
});
afterEach(() => store.close());

describe('pending probe rollups', () => {
  it('a result not yet flushed is in the window already, and the same after the flush writes it', async () => {
    await rollups.record('health', T0 + 5_000, true, 10); // written at once
    rollups.recordResult(result('health', T0 + 20_000, false, 30));
    rollups.recordResult(result('health', T0 + MIN + 1_000, true, 7));
    expect(await rowCount(store)).toBe(1);
    expect(rollups.pendingRuns()).toBe(2);
    const before = await rollups.window('health', T0, T0 + 2 * MIN);
    expect(before).toMatchObject({ successes: 2, total: 3, latencySumMs: 47 });
    expect(await rollups.window('health', T0 + MIN, T0 + 2 * MIN)).toMatchObject({
      total: 1,
      latencySumMs: 7,
    });
    expect((await rollups.window('other', T0, T0 + 2 * MIN)).total).toBe(0);

    expect(await rollups.flush()).toBe(2);
    expect(rollups.pendingRuns()).toBe(0);
    expect(await rowCount(store)).toBe(2);
    expect(await rollups.window('health', T0, T0 + 2 * MIN)).toEqual(before);
    expect(await rollups.flush()).toBe(0);
  });

  it("a pending run is another service's business: the window is per service", async () => {
    const other = createProbeRollups(store, 'billing');
    other.recordResult(result('health', T0, true, 5));
    expect((await rollups.window('health', T0, T0 + MIN)).total).toBe(0);
    await other.flush();
    expect((await rollups.window('health', T0, T0 + MIN)).total).toBe(0);
    expect((await other.window('health', T0, T0 + MIN)).total).toBe(1);
  });

  it('one flush writes every probe in one transaction: a row that fails rolls back all, and nothing is lost', async () => {
    for (let p = 0; p < 50; p++) {
      rollups.recordResult(result(`p${p}`, T0 + p * 100, true, p + 1));
      rollups.recordResult(result(`p${p}`, T0 + MIN + p * 100, p % 2 === 0, p + 2));
    }
    // The 100th row of the flush is refused after the 99 before it: outside one transaction, 99 would stay.
    writes.refuse('refused', (m) => m.probe === 'p49' && m.minute === T0 + MIN);
    await expect(rollups.flush()).rejects.toThrow('refused');
    expect(await rowCount(store)).toBe(0);
    expect(rollups.pendingRuns()).toBe(100);
    expect(await rollups.window('p49', T0, T0 + 2 * MIN)).toMatchObject({ successes: 1, total: 2 });

    writes.allow();
    expect(await rollups.flush()).toBe(100);
    expect(await rowCount(store)).toBe(100);
    expect(await rollups.window('p49', T0, T0 + 2 * MIN)).toMatchObject({
      successes: 1,
      total: 2,
      latencySumMs: 101,
    });
  });

  it(`while writes fail, only the newest ${PENDING_KEPT_MINUTES} minutes stay pending`, async () => {
    for (let m = 0; m < PENDING_KEPT_MINUTES + 5; m++)
      rollups.recordResult(result('health', T0 + m * MIN, true, 1));
    writes.refuse('disk full');
    await expect(rollups.flush()).rejects.toThrow('disk full');
    expect(rollups.pendingRuns()).toBe(PENDING_KEPT_MINUTES);
    expect((await rollups.window('health', T0, T0 + 5 * MIN)).total).toBe(0);
    expect((await rollups.window('health', T0 + 5 * MIN, T0 + 15 * MIN)).total).toBe(PENDING_KEPT_MINUTES);
    writes.allow();
    expect(await rollups.flush()).toBe(PENDING_KEPT_MINUTES);
  });

  it('prune writes what is pending before it deletes by age', async () => {
    rollups.recordResult(result('health', T0 - 40 * 86_400_000, true, 1));
    rollups.recordResult(result('health', T0, true, 1));
    expect(await rollups.prune(T0 - 30 * 86_400_000)).toBe(1);
    expect(rollups.pendingRuns()).toBe(0);
    expect(await rowCount(store)).toBe(1);
  });
});

describe('pending probe rollups while a flush is in flight', () => {
  it('a read waits for the flush in flight, and counts each run once whether it was written or not', async () => {
    await rollups.record('health', T0, true, 1);
    rollups.recordResult(result('health', T0 + 1_000, true, 2));
    const flushed = rollups.flush(); // takes the run above
    rollups.recordResult(result('health', T0 + 2_000, false, 4)); // waits for the next flush
    expect(rollups.pendingRuns()).toBe(2);
    const read = rollups.window('health', T0, T0 + MIN);
    const again = rollups.flush(); // queued behind the read
    expect(await read).toMatchObject({ successes: 2, total: 3, latencySumMs: 7 });
    expect(await flushed).toBe(1);
    expect(await again).toBe(1);
    expect(await rollups.window('health', T0, T0 + MIN)).toMatchObject({
      successes: 2,
      total: 3,
      latencySumMs: 7,
    });
    expect(rollups.pendingRuns()).toBe(0);
  });

  it('a refused flush puts its runs back before those recorded while it wrote', async () => {
    rollups.recordResult(result('health', T0, true, 0.1));
    writes.refuse('disk full');
    const refused = rollups.flush();
    rollups.recordResult(result('health', T0 + 1_000, true, 1e16));
    await expect(refused).rejects.toThrow('disk full');
    expect(rollups.pendingRuns()).toBe(2);
    writes.allow();
    await rollups.flush();
    // 0.1 + 1e16 rounds differently from 1e16 + 0.1 only if the order changed: arrival order is kept.
    const perRun = createProbeRollups(await openStore({ path: ':memory:' }), 'prep-api');
    await perRun.record('health', T0, true, 0.1);
    await perRun.record('health', T0 + 1_000, true, 1e16);
    expect(await rollups.window('health', T0, T0 + MIN)).toEqual(await perRun.window('health', T0, T0 + MIN));
  });
});

/** One step of a random history: a run, a flush, or a read of some window. */
type Step =
  | { op: 'run'; probe: string; offsetMs: number; success: boolean; latencyMs: number }
  | { op: 'flush' }
  | { op: 'read'; probe: string; fromMin: number; toMin: number };

const probeName = fc.constantFrom('health', 'login', 'search');
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('run' as const),
      probe: probeName,
      offsetMs: fc.integer({ min: 0, max: 3 * MIN - 1 }),
      success: fc.boolean(),
      // Microsecond fractions as measured, and any double: a sum added in another order (the pending
      // runs summed first, then added to the stored minute) differs in its last bits.
      latencyMs: fc.oneof(
        fc.integer({ min: 0, max: 10_000_000 }).map((us) => us / 1000),
        fc.double({ min: 0, max: 200_000, noNaN: true }),
      ),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'flush' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('read' as const),
      probe: probeName,
      fromMin: fc.integer({ min: -1, max: 3 }),
      toMin: fc.integer({ min: 0, max: 4 }),
    }),
  },
);

describe('batched rollups against a write per run', () => {
  it('give the same windows and, once flushed, the same rows, bit for bit, for any history', async () => {
    await fc.assert(
      // size 'max': the default small size keeps arrays near 10 steps, too few for runs to share a minute
      // on both sides of a flush.
      fc.asyncProperty(fc.array(step, { maxLength: 150, size: 'max' }), async (steps) => {
        const batchedStore = await openStore({ path: ':memory:' });
        const perRunStore = await openStore({ path: ':memory:' });
        try {
          const batched = createProbeRollups(batchedStore, 'svc');
          // record() writes each run in its own transaction: the path every result took before batching.
          const perRun = createProbeRollups(perRunStore, 'svc');
          for (const s of steps) {
            if (s.op === 'run') {
              batched.recordResult(result(s.probe, T0 + s.offsetMs, s.success, s.latencyMs));
              await perRun.record(s.probe, T0 + s.offsetMs, s.success, s.latencyMs);
            } else if (s.op === 'flush') {
              await batched.flush();
            } else {
              const from = T0 + s.fromMin * MIN + 123;
              const to = T0 + s.toMin * MIN;
              expect(await batched.window(s.probe, from, to)).toEqual(await perRun.window(s.probe, from, to));
            }
          }
          for (const probe of ['health', 'login', 'search']) {
            expect(await batched.window(probe, T0, T0 + 3 * MIN)).toEqual(
              await perRun.window(probe, T0, T0 + 3 * MIN),
            );
          }
          await batched.flush();
          const probes = ['health', 'login', 'search'];
          expect(await storedMinutes(batchedStore, 'svc', probes)).toEqual(
            await storedMinutes(perRunStore, 'svc', probes),
          );
        } finally {
          await batchedStore.close();
          await perRunStore.close();
        }
      }),
      { numRuns: 100 },
    );
  }, 90_000); // 200 stores opened: seconds, more on a busy machine
});
