import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/store/db.js';
import { createLoadRunStore } from '../../../src/store/loadtests.js';
import { adoptUnownedRows, createProbeRollups } from '../../../src/store/rollups.js';

/*
 * Rows written before fleets (migration 4 gave them service '') belong to the one service of a
 * single-service config: its probe history and k6 baselines carry over the upgrade.
 */

const MINUTE = 60_000;
const T0 = Date.parse('2026-11-30T10:00:00Z');

function preFleetStore() {
  const db = openDatabase(':memory:');
  const legacy = createProbeRollups(db, '');
  legacy.record('health', T0, true, 12);
  legacy.record('health', T0 + MINUTE, false, 40);
  legacy.flush();
  const runs = createLoadRunStore(db, '');
  runs.insert({ id: 'lr_old', watchId: null, profile: 'smoke', trigger: 'schedule', startedAt: T0 });
  return db;
}

describe('adoptUnownedRows', () => {
  it("gives the service the probe minutes and k6 runs stored before fleets, and nobody else's", () => {
    const db = preFleetStore();
    const api = createProbeRollups(db, 'prep-api');
    expect(api.window('health', T0, T0 + 2 * MINUTE).total).toBe(0);
    expect(adoptUnownedRows(db, 'prep-api')).toBe(3);
    expect(api.window('health', T0, T0 + 2 * MINUTE)).toMatchObject({ successes: 1, total: 2 });
    expect(
      createLoadRunStore(db, 'prep-api')
        .list()
        .map((r) => r.id),
    ).toEqual(['lr_old']);
    expect(createProbeRollups(db, '').window('health', T0, T0 + 2 * MINUTE).total).toBe(0);
    expect(createProbeRollups(db, 'prep-worker').window('health', T0, T0 + 2 * MINUTE).total).toBe(0);
    // Nothing is left to adopt a second time.
    expect(adoptUnownedRows(db, 'prep-worker')).toBe(0);
  });

  it('keeps the row already written under the service when a pre-fleet minute collides with it', () => {
    const db = preFleetStore();
    const api = createProbeRollups(db, 'prep-api');
    api.record('health', T0, true, 5);
    api.flush();
    adoptUnownedRows(db, 'prep-api');
    expect(api.window('health', T0, T0 + MINUTE)).toMatchObject({ successes: 1, total: 1, latencySumMs: 5 });
    expect(api.window('health', T0 + MINUTE, T0 + 2 * MINUTE).total).toBe(1);
  });
});
