import type { SnapshotRepo } from '../port.js';
import type { Db } from './database.js';
import type { Sync } from './sync.js';

/*
 * `sli_snapshots`: each watch evaluation's SLI values by elapsed time since the deploy, for the
 * previous-watch and pinned baselines. Evaluations of two watches never land on the same elapsed
 * millisecond, so a lookup takes the snapshot nearest to the wanted elapsed time within a tolerance.
 */

/**
 * The snapshot repository over an open database.
 *
 * @example createSnapshotRepo(db).nearest('w_1', 'error-rate', 600_000, 120_000)
 */
export function createSnapshotRepo(db: Db): Sync<SnapshotRepo> {
  const insert = db.prepare(
    `INSERT INTO sli_snapshots (watch_id, service, version, slo, elapsed_ms, at, value)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (watch_id, slo, elapsed_ms) DO UPDATE SET value = excluded.value, at = excluded.at`,
  );
  const prune = db.prepare('DELETE FROM sli_snapshots WHERE at < ?');
  const passedWatchesWith = db.prepare<[string, string, string, number], { id: string }>(
    `SELECT w.id FROM watches w
     WHERE w.service = ? AND w.status = 'passed' AND w.id <> ?
       AND EXISTS (SELECT 1 FROM sli_snapshots s WHERE s.watch_id = w.id AND s.slo = ?)
     ORDER BY w.started_at DESC, w.id DESC LIMIT ?`,
  );
  const latestOfVersion = db.prepare<[string, string, string], { watch_id: string }>(
    `SELECT watch_id FROM sli_snapshots WHERE service = ? AND version = ? AND slo = ?
     ORDER BY at DESC, id DESC LIMIT 1`,
  );
  const nearest = db.prepare<[string, string, number, number, number], { value: number; elapsed_ms: number }>(
    `SELECT value, elapsed_ms FROM sli_snapshots
     WHERE watch_id = ? AND slo = ? AND elapsed_ms BETWEEN ? AND ?
     ORDER BY abs(elapsed_ms - ?), elapsed_ms LIMIT 1`,
  );

  return {
    save(batch) {
      for (const { slo, value } of batch.values) {
        if (!Number.isFinite(value)) continue;
        insert.run(
          batch.watchId,
          batch.service,
          batch.version,
          slo,
          Math.round(batch.elapsedMs),
          batch.at,
          value,
        );
      }
    },
    prune: (before) => prune.run(before).changes,
    passedWatchesWith: (service, slo, excludeWatchId, limit) =>
      passedWatchesWith.all(service, excludeWatchId, slo, limit).map((row) => row.id),
    latestWatchOfVersion: (service, version, slo) => latestOfVersion.get(service, version, slo)?.watch_id,
    nearest(watchId, slo, elapsedMs, toleranceMs) {
      const row = nearest.get(watchId, slo, elapsedMs - toleranceMs, elapsedMs + toleranceMs, elapsedMs);
      return row ? { value: row.value, elapsedMs: row.elapsed_ms } : undefined;
    },
  };
}
