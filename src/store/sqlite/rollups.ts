import type { LoadRunRepo, RollupMinute, RollupRepo } from '../port.js';
import { type RollupRow, type RunRow, toMinute, toRun } from '../rows.js';
import type { Db } from './database.js';
import type { Sync } from './sync.js';

/*
 * `probe_rollups` (one row per service, probe and minute; the histogram as a JSON array) and
 * `loadtest_runs` (one row per k6 run, `summary_json` the loadtest module's document). Rows written
 * before fleets have service ''.
 */

/**
 * The probe-rollup repository over an open database.
 *
 * @example createRollupRepo(db).range('prep-api', 'health', from, now)
 */
export function createRollupRepo(db: Db): Sync<RollupRepo> {
  // Ascending minutes (the primary key's order).
  const range = db.prepare<[string, string, number, number], RollupRow>(
    `SELECT minute, successes, total, latency_sum_ms, latency_hist FROM probe_rollups
     WHERE service = ? AND probe = ? AND minute >= ? AND minute < ? ORDER BY minute`,
  );
  const one = db.prepare<[string, string, number], RollupRow>(
    `SELECT minute, successes, total, latency_sum_ms, latency_hist FROM probe_rollups
     WHERE service = ? AND probe = ? AND minute = ?`,
  );
  const upsert = db.prepare(
    `INSERT INTO probe_rollups (service, probe, minute, successes, total, latency_sum_ms, latency_hist)
     VALUES (@service, @probe, @minute, @successes, @total, @sum, @hist)
     ON CONFLICT (service, probe, minute) DO UPDATE SET successes = excluded.successes, total = excluded.total,
       latency_sum_ms = excluded.latency_sum_ms, latency_hist = excluded.latency_hist`,
  );
  const prune = db.prepare('DELETE FROM probe_rollups WHERE minute < ?');
  // A pre-fleet minute that collides with one already written under the service stays behind and goes.
  const adoptRollups = db.prepare("UPDATE OR IGNORE probe_rollups SET service = ? WHERE service = ''");
  const dropUnowned = db.prepare("DELETE FROM probe_rollups WHERE service = ''");
  const adoptRuns = db.prepare("UPDATE loadtest_runs SET service = ? WHERE service = ''");

  return {
    range: (service, probe, fromMinute, toMs) =>
      range.all(service, probe, fromMinute, toMs).map((row) => toMinute(service, probe, row)),
    getMany(service, keys) {
      const found: RollupMinute[] = [];
      for (const { probe, minute } of keys) {
        const row = one.get(service, probe, minute);
        if (row) found.push(toMinute(service, probe, row));
      }
      return found;
    },
    put(minutes) {
      for (const m of minutes) {
        upsert.run({
          service: m.service,
          probe: m.probe,
          minute: m.minute,
          successes: m.successes,
          total: m.total,
          sum: m.latencySumMs,
          hist: JSON.stringify(m.histogram),
        });
      }
      return minutes.length;
    },
    prune: (beforeMinute) => prune.run(beforeMinute).changes,
    // The load runs written before fleets go with the rollups: one upgrade, one adoption.
    adoptUnowned(service) {
      const rollups = adoptRollups.run(service).changes;
      dropUnowned.run();
      return rollups + adoptRuns.run(service).changes;
    },
  };
}

const SELECT_RUN = `SELECT r.*, w.status AS watch_status FROM loadtest_runs r LEFT JOIN watches w ON w.id = r.watch_id`;

/**
 * The load-run repository over an open database.
 *
 * @example createLoadRunRepo(db).list('prep-api', { profile: 'smoke' })
 */
export function createLoadRunRepo(db: Db): Sync<LoadRunRepo> {
  const insert = db.prepare(
    `INSERT INTO loadtest_runs (id, service, watch_id, profile, trigger, started_at) VALUES (?, ?, ?, ?, ?, ?)`,
  );
  const finish = db.prepare(
    `UPDATE loadtest_runs SET ended_at = ?, exit_code = ?, result = ?, explanation = ?, summary_json = ? WHERE id = ?`,
  );
  const get = db.prepare<[string], RunRow>(`${SELECT_RUN} WHERE r.id = ?`);
  const passed = db.prepare<[string, string, string, number], RunRow>(
    `${SELECT_RUN} WHERE r.service = ? AND r.profile = ? AND r.result = 'pass' AND r.id != ? AND r.summary_json IS NOT NULL
     AND (w.status IS NULL OR w.status NOT IN ('failed', 'aborted'))
     ORDER BY r.started_at DESC, r.id DESC LIMIT ?`,
  );
  const close = db.prepare(
    `UPDATE loadtest_runs SET ended_at = ?, result = 'inconclusive', explanation = ? WHERE ended_at IS NULL`,
  );

  return {
    insert(run) {
      insert.run(run.id, run.service, run.watchId, run.profile, run.trigger, run.startedAt);
    },
    finish(id, end) {
      const document = end.document === null ? null : JSON.stringify(end.document);
      finish.run(end.endedAt, end.exitCode, end.result, end.explanation, document, id);
    },
    get(id) {
      const row = get.get(id);
      return row ? toRun(row) : undefined;
    },
    list(service, filter = {}) {
      const where: string[] = ['r.service = ?'];
      const params: (string | number)[] = [service];
      if (filter.profile) {
        where.push('r.profile = ?');
        params.push(filter.profile);
      }
      if (filter.watchId) {
        where.push('r.watch_id = ?');
        params.push(filter.watchId);
      }
      params.push(filter.limit ?? 50);
      return db
        .prepare<(string | number)[], RunRow>(
          `${SELECT_RUN} WHERE ${where.join(' AND ')} ORDER BY r.started_at DESC, r.id DESC LIMIT ?`,
        )
        .all(...params)
        .map(toRun);
    },
    passedRuns: (service, profile, excludeId, limit) =>
      passed.all(service, profile, excludeId, limit).map(toRun),
    closeInterrupted: (now, explanation) => close.run(now, explanation).changes,
  };
}
