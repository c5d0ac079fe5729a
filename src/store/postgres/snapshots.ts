import type { SnapshotRepo } from '../port.js';
import type { Sql } from './sql.js';

/*
 * `sli_snapshots`: each watch evaluation's SLI values by elapsed time since the deploy, for the
 * previous-watch and pinned baselines; a lookup takes the snapshot nearest to the wanted elapsed time.
 */

/**
 * The snapshot repository over an executor.
 *
 * @example await createSnapshotRepo(sql).nearest('w_1', 'error-rate', 600_000, 120_000)
 */
export function createSnapshotRepo(sql: Sql): SnapshotRepo {
  return {
    async save(batch) {
      // The last value of an SLO wins, as when each row was written in turn.
      const bySlo = new Map<string, number>();
      for (const { slo, value } of batch.values) if (Number.isFinite(value)) bySlo.set(slo, value);
      if (bySlo.size === 0) return;
      // One row per SLO; a replayed evaluation (same elapsed ms) replaces its own rows.
      await sql.run(
        `INSERT INTO sli_snapshots (watch_id, service, version, slo, elapsed_ms, at, value)
         SELECT $1, $2, $3, v.slo, $4, $5, v.value FROM unnest($6::text[], $7::float8[]) AS v (slo, value)
         ON CONFLICT (watch_id, slo, elapsed_ms) DO UPDATE SET value = excluded.value, at = excluded.at`,
        [
          batch.watchId,
          batch.service,
          batch.version,
          Math.round(batch.elapsedMs),
          batch.at,
          [...bySlo.keys()],
          [...bySlo.values()],
        ],
      );
    },
    prune: (before) => sql.run('DELETE FROM sli_snapshots WHERE at < $1', [before]),
    async passedWatchesWith(service, slo, excludeWatchId, limit) {
      const rows = await sql.rows<{ id: string }>(
        `SELECT w.id FROM watches w
         WHERE w.service = $1 AND w.status = 'passed' AND w.id <> $2
           AND EXISTS (SELECT 1 FROM sli_snapshots s WHERE s.watch_id = w.id AND s.slo = $3)
         ORDER BY w.started_at DESC, w.id COLLATE "C" DESC LIMIT $4`,
        [service, excludeWatchId, slo, limit],
      );
      return rows.map((row) => row.id);
    },
    async latestWatchOfVersion(service, version, slo) {
      const [row] = await sql.rows<{ watch_id: string }>(
        `SELECT watch_id FROM sli_snapshots WHERE service = $1 AND version = $2 AND slo = $3
         ORDER BY at DESC, id DESC LIMIT 1`,
        [service, version, slo],
      );
      return row?.watch_id;
    },
    async nearest(watchId, slo, elapsedMs, toleranceMs) {
      const [row] = await sql.rows<{ value: number; elapsed_ms: number }>(
        `SELECT value, elapsed_ms FROM sli_snapshots
         WHERE watch_id = $1 AND slo = $2 AND elapsed_ms BETWEEN $3::float8 AND $4::float8
         ORDER BY abs(elapsed_ms - $5::float8), elapsed_ms LIMIT 1`,
        [watchId, slo, elapsedMs - toleranceMs, elapsedMs + toleranceMs, elapsedMs],
      );
      return row ? { value: row.value, elapsedMs: row.elapsed_ms } : undefined;
    },
  };
}
