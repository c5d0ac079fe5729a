import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { MIGRATIONS } from '../../../src/store/sqlite/migrations.js';

/*
 * Rows written before fleets (migration 4 gave them service '') belong to the one service of a
 * single-service config: its probe history and k6 baselines carry over the upgrade.
 */

const MINUTE = 60_000;
const T0 = Date.parse('2026-11-30T10:00:00Z');

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A store as a pre-fleet build (schema 3) left it: two probe minutes and a k6 run, no service anywhere. */
function preFleetFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-adopt-'));
  dirs.push(dir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'vigil.db');
  const raw = new Database(path);
  for (const migration of MIGRATIONS.slice(0, 3)) raw.exec(migration);
  raw.pragma('user_version = 3');
  const minute = raw.prepare(
    'INSERT INTO probe_rollups (probe, minute, successes, total, latency_sum_ms, latency_hist) VALUES (?, ?, ?, ?, ?, ?)',
  );
  minute.run('health', T0, 1, 1, 12, '[0,1]');
  minute.run('health', T0 + MINUTE, 0, 1, 40, '[0,0,1]');
  raw
    .prepare(
      "INSERT INTO loadtest_runs (id, watch_id, profile, trigger, started_at) VALUES ('lr_old', NULL, 'smoke', 'schedule', ?)",
    )
    .run(T0);
  raw.close();
  return path;
}

describe('adopting pre-fleet rows', () => {
  it("migration 4 keeps them under service '', and adoptUnowned gives them to the service, and nobody else", async () => {
    const store = await openSqliteStore(preFleetFile());
    try {
      expect((await store.rollups.range('', 'health', T0, T0 + 2 * MINUTE)).map((m) => m.total)).toEqual([
        1, 1,
      ]);
      expect(await store.rollups.range('prep-api', 'health', T0, T0 + 2 * MINUTE)).toEqual([]);
      expect(await store.rollups.adoptUnowned('prep-api')).toBe(3);
      expect(await store.rollups.range('prep-api', 'health', T0, T0 + 2 * MINUTE)).toEqual([
        {
          service: 'prep-api',
          probe: 'health',
          minute: T0,
          successes: 1,
          total: 1,
          latencySumMs: 12,
          histogram: [0, 1],
        },
        {
          service: 'prep-api',
          probe: 'health',
          minute: T0 + MINUTE,
          successes: 0,
          total: 1,
          latencySumMs: 40,
          histogram: [0, 0, 1],
        },
      ]);
      expect((await store.loadRuns.list('prep-api')).map((r) => r.id)).toEqual(['lr_old']);
      expect(await store.rollups.range('', 'health', T0, T0 + 2 * MINUTE)).toEqual([]);
      expect(await store.rollups.range('prep-worker', 'health', T0, T0 + 2 * MINUTE)).toEqual([]);
      // Nothing is left to adopt a second time.
      expect(await store.rollups.adoptUnowned('prep-worker')).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('keeps the row already written under the service when a pre-fleet minute collides with it', async () => {
    const store = await openSqliteStore(preFleetFile());
    try {
      await store.rollups.put([
        {
          service: 'prep-api',
          probe: 'health',
          minute: T0,
          successes: 1,
          total: 1,
          latencySumMs: 5,
          histogram: [1],
        },
      ]);
      await store.rollups.adoptUnowned('prep-api');
      expect(
        (await store.rollups.range('prep-api', 'health', T0, T0 + 2 * MINUTE)).map((m) => [
          m.total,
          m.latencySumMs,
        ]),
      ).toEqual([
        [1, 5],
        [1, 40],
      ]);
    } finally {
      await store.close();
    }
  });
});
