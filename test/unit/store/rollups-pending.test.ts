import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProbeResult } from '../../../src/prober/types.js';
import { type Db, openDatabase } from '../../../src/store/db.js';
import { createProbeRollups, PENDING_KEPT_MINUTES, type ProbeRollups } from '../../../src/store/rollups.js';

/*
 * Results from the prober gather in memory and reach probe_rollups one transaction per flush. What a
 * reader sees must not depend on whether the runs were written yet, nor on how they were batched.
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

function storedRows(db: Db): unknown[] {
  return db
    .prepare(
      'SELECT service, probe, minute, successes, total, latency_sum_ms, latency_hist FROM probe_rollups ORDER BY service, probe, minute',
    )
    .all();
}

const rowCount = (db: Db): number =>
  (db.prepare('SELECT count(*) AS n FROM probe_rollups').get() as { n: number }).n;

let db: Db;
let rollups: ProbeRollups;

beforeEach(() => {
  db = openDatabase(':memory:');
  rollups = createProbeRollups(db, 'prep-api');
});
afterEach(() => db.close());

describe('pending probe rollups', () => {
  it('a result not yet flushed is in the window already, and the same after the flush writes it', () => {
    rollups.record('health', T0 + 5_000, true, 10); // written at once
    rollups.recordResult(result('health', T0 + 20_000, false, 30));
    rollups.recordResult(result('health', T0 + MIN + 1_000, true, 7));
    expect(rowCount(db)).toBe(1);
    expect(rollups.pendingRuns()).toBe(2);
    const before = rollups.window('health', T0, T0 + 2 * MIN);
    expect(before).toMatchObject({ successes: 2, total: 3, latencySumMs: 47 });
    expect(rollups.window('health', T0 + MIN, T0 + 2 * MIN)).toMatchObject({ total: 1, latencySumMs: 7 });
    expect(rollups.window('other', T0, T0 + 2 * MIN).total).toBe(0);

    expect(rollups.flush()).toBe(2);
    expect(rollups.pendingRuns()).toBe(0);
    expect(rowCount(db)).toBe(2);
    expect(rollups.window('health', T0, T0 + 2 * MIN)).toEqual(before);
    expect(rollups.flush()).toBe(0);
  });

  it("a pending run is another service's business: the window is per service", () => {
    const other = createProbeRollups(db, 'billing');
    other.recordResult(result('health', T0, true, 5));
    expect(rollups.window('health', T0, T0 + MIN).total).toBe(0);
    other.flush();
    expect(rollups.window('health', T0, T0 + MIN).total).toBe(0);
    expect(other.window('health', T0, T0 + MIN).total).toBe(1);
  });

  it('one flush writes every probe in one transaction: a row that fails rolls back all, and nothing is lost', () => {
    for (let p = 0; p < 50; p++) {
      rollups.recordResult(result(`p${p}`, T0 + p * 100, true, p + 1));
      rollups.recordResult(result(`p${p}`, T0 + MIN + p * 100, p % 2 === 0, p + 2));
    }
    // The 100th row of the flush is refused: with a transaction per row, 99 would have been written.
    db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON probe_rollups WHEN NEW.probe = 'p49' AND NEW.minute = ${T0 + MIN}
             BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    expect(() => rollups.flush()).toThrow('refused');
    expect(rowCount(db)).toBe(0);
    expect(rollups.pendingRuns()).toBe(100);
    expect(rollups.window('p49', T0, T0 + 2 * MIN)).toMatchObject({ successes: 1, total: 2 });

    db.exec('DROP TRIGGER refuse');
    expect(rollups.flush()).toBe(100);
    expect(rowCount(db)).toBe(100);
    expect(rollups.window('p49', T0, T0 + 2 * MIN)).toMatchObject({
      successes: 1,
      total: 2,
      latencySumMs: 101,
    });
  });

  it(`while writes fail, only the newest ${PENDING_KEPT_MINUTES} minutes stay pending`, () => {
    for (let m = 0; m < PENDING_KEPT_MINUTES + 5; m++)
      rollups.recordResult(result('health', T0 + m * MIN, true, 1));
    db.exec(
      `CREATE TRIGGER refuse BEFORE INSERT ON probe_rollups BEGIN SELECT RAISE(ABORT, 'disk full'); END`,
    );
    expect(() => rollups.flush()).toThrow('disk full');
    expect(rollups.pendingRuns()).toBe(PENDING_KEPT_MINUTES);
    expect(rollups.window('health', T0, T0 + 5 * MIN).total).toBe(0);
    expect(rollups.window('health', T0 + 5 * MIN, T0 + 15 * MIN).total).toBe(PENDING_KEPT_MINUTES);
    db.exec('DROP TRIGGER refuse');
    expect(rollups.flush()).toBe(PENDING_KEPT_MINUTES);
  });

  it('prune writes what is pending before it deletes by age', () => {
    rollups.recordResult(result('health', T0 - 40 * 86_400_000, true, 1));
    rollups.recordResult(result('health', T0, true, 1));
    expect(rollups.prune(T0 - 30 * 86_400_000)).toBe(1);
    expect(rollups.pendingRuns()).toBe(0);
    expect(rowCount(db)).toBe(1);
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
  it('give the same windows and, once flushed, the same rows, bit for bit, for any history', () => {
    fc.assert(
      // size 'max': the default small size keeps arrays near 10 steps, too few for runs to share a minute
      // on both sides of a flush.
      fc.property(fc.array(step, { maxLength: 150, size: 'max' }), (steps) => {
        const batchedDb = openDatabase(':memory:');
        const perRunDb = openDatabase(':memory:');
        try {
          const batched = createProbeRollups(batchedDb, 'svc');
          // record() writes each run in its own transaction: the path every result took before batching.
          const perRun = createProbeRollups(perRunDb, 'svc');
          for (const s of steps) {
            if (s.op === 'run') {
              batched.recordResult(result(s.probe, T0 + s.offsetMs, s.success, s.latencyMs));
              perRun.record(s.probe, T0 + s.offsetMs, s.success, s.latencyMs);
            } else if (s.op === 'flush') {
              batched.flush();
            } else {
              const from = T0 + s.fromMin * MIN + 123;
              const to = T0 + s.toMin * MIN;
              expect(batched.window(s.probe, from, to)).toEqual(perRun.window(s.probe, from, to));
            }
          }
          for (const probe of ['health', 'login', 'search']) {
            expect(batched.window(probe, T0, T0 + 3 * MIN)).toEqual(perRun.window(probe, T0, T0 + 3 * MIN));
          }
          batched.flush();
          expect(storedRows(batchedDb)).toEqual(storedRows(perRunDb));
        } finally {
          batchedDb.close();
          perRunDb.close();
        }
      }),
      { numRuns: 100 },
    );
  });
});
