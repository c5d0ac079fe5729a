import { formatDuration } from '../config/units.js';
import { median } from '../evaluator/statistics.js';
import type { BaselineLookup, SnapshotReader } from '../evaluator/types.js';
import type { Db } from './db.js';

/*
 * SLI snapshots (table `sli_snapshots`): each watch evaluation stores its SLI values by elapsed time since
 * the deploy, so a later watch can compare "20 minutes after this deploy" with "20 minutes after the last
 * good deploys" (`previous-watch`) or with one chosen watch or version (`pinned`).
 * Evaluations of two watches never land on the same elapsed millisecond, so a lookup takes, per watch,
 * the snapshot nearest to the wanted elapsed time within `toleranceMs`.
 */

export interface SnapshotBatch {
  watchId: string;
  service: string;
  version: string;
  elapsedMs: number;
  at: number;
  values: readonly { slo: string; value: number }[];
}

/**
 * Stores the SLI values of one evaluation (idempotent: a replayed evaluation replaces its own rows).
 * Call inside the evaluation's transaction.
 *
 * @example saveSnapshots(db, { watchId: 'w_1', service: 'prep-api', version: '1.4.2', elapsedMs: 600_000, at, values })
 */
export function saveSnapshots(db: Db, batch: SnapshotBatch): void {
  const insert = db.prepare(
    `INSERT INTO sli_snapshots (watch_id, service, version, slo, elapsed_ms, at, value)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (watch_id, slo, elapsed_ms) DO UPDATE SET value = excluded.value, at = excluded.at`,
  );
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
}

/**
 * Deletes snapshots older than `before` (ms since epoch); returns how many went.
 *
 * @example pruneSnapshots(db, clock.now() - config.storage.retention)
 */
export function pruneSnapshots(db: Db, before: number): number {
  return db.prepare('DELETE FROM sli_snapshots WHERE at < ?').run(before).changes;
}

interface Row {
  watch_id: string;
  value: number;
  elapsed_ms: number;
}

function nearest(
  db: Db,
  watchId: string,
  slo: string,
  elapsedMs: number,
  toleranceMs: number,
): Row | undefined {
  return db
    .prepare(
      `SELECT watch_id, value, elapsed_ms FROM sli_snapshots
       WHERE watch_id = ? AND slo = ? AND elapsed_ms BETWEEN ? AND ?
       ORDER BY abs(elapsed_ms - ?) LIMIT 1`,
    )
    .get(watchId, slo, elapsedMs - toleranceMs, elapsedMs + toleranceMs, elapsedMs) as Row | undefined;
}

/**
 * The read side used by the evaluator. `toleranceMs` (default 2 minutes) bounds how far from the wanted
 * elapsed time a stored value may be.
 *
 * @example const snapshots = createSnapshotReader(db); evaluateChecks(slos, { ...ctx, snapshots })
 */
export function createSnapshotReader(db: Db, options: { toleranceMs?: number } = {}): SnapshotReader {
  const toleranceMs = options.toleranceMs ?? 120_000;
  const at = (elapsedMs: number): string => `at +${formatDuration(Math.max(elapsedMs, 1))}`;
  return {
    previousWatches(q): BaselineLookup {
      // Newest passed watches of the service that recorded this SLO, excluding the watch being judged.
      const watches = db
        .prepare(
          `SELECT w.id FROM watches w
           WHERE w.service = ? AND w.status = 'passed' AND w.id <> ?
             AND EXISTS (SELECT 1 FROM sli_snapshots s WHERE s.watch_id = w.id AND s.slo = ?)
           ORDER BY w.started_at DESC`,
        )
        .all(q.service, q.excludeWatchId ?? '', q.slo) as { id: string }[];
      const values: number[] = [];
      for (const w of watches) {
        if (values.length >= q.count) break;
        const row = nearest(db, w.id, q.slo, q.elapsedMs, toleranceMs);
        if (row) values.push(row.value);
      }
      if (values.length === 0) {
        return { value: null, reason: `no passed watch of ${q.service} stored ${q.slo} ${at(q.elapsedMs)}` };
      }
      const value =
        q.aggregate === 'median' ? median(values) : values.reduce((s, v) => s + v, 0) / values.length;
      const description =
        values.length === 1
          ? `previous watch ${at(q.elapsedMs)}`
          : `${q.aggregate} of ${values.length} previous watches ${at(q.elapsedMs)}`;
      return { value, description };
    },
    pinned(q): BaselineLookup {
      let watchId = q.watchId;
      if (watchId === undefined && q.version !== undefined) {
        const row = db
          .prepare(
            `SELECT watch_id FROM sli_snapshots WHERE service = ? AND version = ? AND slo = ?
             ORDER BY at DESC LIMIT 1`,
          )
          .get(q.service, q.version, q.slo) as { watch_id: string } | undefined;
        watchId = row?.watch_id;
      }
      const what = q.watchId !== undefined ? `watch ${q.watchId}` : `version ${q.version}`;
      if (watchId === undefined) return { value: null, reason: `no snapshots of ${q.slo} for ${what}` };
      const row = nearest(db, watchId, q.slo, q.elapsedMs, toleranceMs);
      if (!row) return { value: null, reason: `${what} stored no ${q.slo} ${at(q.elapsedMs)}` };
      return { value: row.value, description: `pinned ${what} ${at(q.elapsedMs)}` };
    },
  };
}
