import type { LoadRunRepo, RollupRepo } from '../port.js';
import { type RollupRow, type RunRow, toMinute, toRun } from '../rows.js';
import type { Sql } from './sql.js';

/*
 * `probe_rollups` (one row per service, probe and minute; the histogram as a JSON array) and
 * `loadtest_runs` (one row per k6 run, `summary_json` the loadtest module's document). Rows written
 * before fleets have service ''.
 */

const ROLLUP_COLUMNS = 'probe, minute, successes, total, latency_sum_ms, latency_hist';

/**
 * The probe-rollup repository over an executor.
 *
 * @example await createRollupRepo(sql).range('prep-api', 'health', from, now)
 */
export function createRollupRepo(sql: Sql): RollupRepo {
  return {
    async range(service, probe, fromMinute, toMs) {
      const rows = await sql.rows<RollupRow & { probe: string }>(
        `SELECT ${ROLLUP_COLUMNS} FROM probe_rollups
         WHERE service = $1 AND probe = $2 AND minute >= $3 AND minute < $4 ORDER BY minute`,
        [service, probe, fromMinute, toMs],
      );
      return rows.map((row) => toMinute(service, row.probe, row));
    },
    async getMany(service, keys) {
      if (keys.length === 0) return [];
      const rows = await sql.rows<RollupRow & { probe: string }>(
        `SELECT ${ROLLUP_COLUMNS} FROM probe_rollups
         WHERE service = $1 AND (probe, minute) IN (SELECT * FROM unnest($2::text[], $3::bigint[]))`,
        [service, keys.map((k) => k.probe), keys.map((k) => k.minute)],
      );
      // In the order asked for, as SQLite's adapter answers.
      const found = new Map(rows.map((row) => [`${row.minute} ${row.probe}`, row]));
      return keys.flatMap(({ probe, minute }) => {
        const row = found.get(`${minute} ${probe}`);
        return row ? [toMinute(service, probe, row)] : [];
      });
    },
    put: (minutes) =>
      sql.atomic(async (tx) => {
        for (const m of minutes) {
          await tx.run(
            `INSERT INTO probe_rollups (service, probe, minute, successes, total, latency_sum_ms, latency_hist)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (service, probe, minute) DO UPDATE SET successes = excluded.successes,
               total = excluded.total, latency_sum_ms = excluded.latency_sum_ms, latency_hist = excluded.latency_hist`,
            [m.service, m.probe, m.minute, m.successes, m.total, m.latencySumMs, JSON.stringify(m.histogram)],
          );
        }
        return minutes.length;
      }),
    prune: (beforeMinute) => sql.run('DELETE FROM probe_rollups WHERE minute < $1', [beforeMinute]),
    // The load runs written before fleets go with the rollups: one upgrade, one adoption. A pre-fleet
    // minute that collides with one already written under the service stays behind and goes.
    adoptUnowned: (service) =>
      sql.atomic(async (tx) => {
        const rollups = await tx.run(
          `UPDATE probe_rollups p SET service = $1 WHERE p.service = ''
             AND NOT EXISTS (SELECT 1 FROM probe_rollups q
                             WHERE q.service = $1 AND q.probe = p.probe AND q.minute = p.minute)`,
          [service],
        );
        await tx.run("DELETE FROM probe_rollups WHERE service = ''");
        const runs = await tx.run("UPDATE loadtest_runs SET service = $1 WHERE service = ''", [service]);
        return rollups + runs;
      }),
  };
}

// A held watch reads as 'running' here, as in SQLite (where that is how it is stored).
const SELECT_RUN = `SELECT r.*, CASE w.status WHEN 'held' THEN 'running' ELSE w.status END AS watch_status
  FROM loadtest_runs r LEFT JOIN watches w ON w.id = r.watch_id`;

/**
 * The load-run repository over an executor.
 *
 * @example await createLoadRunRepo(sql).list('prep-api', { profile: 'smoke' })
 */
export function createLoadRunRepo(sql: Sql): LoadRunRepo {
  return {
    async insert(run) {
      await sql.run(
        `INSERT INTO loadtest_runs (id, service, watch_id, profile, trigger, started_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [run.id, run.service, run.watchId, run.profile, run.trigger, run.startedAt],
      );
    },
    async finish(id, end) {
      await sql.run(
        `UPDATE loadtest_runs SET ended_at = $1, exit_code = $2, result = $3, explanation = $4, summary_json = $5
         WHERE id = $6`,
        [
          end.endedAt,
          end.exitCode,
          end.result,
          end.explanation,
          end.document === null ? null : JSON.stringify(end.document),
          id,
        ],
      );
    },
    async get(id) {
      const [row] = await sql.rows<RunRow>(`${SELECT_RUN} WHERE r.id = $1`, [id]);
      return row ? toRun(row) : undefined;
    },
    async list(service, filter = {}) {
      const where: string[] = ['r.service = $1'];
      const params: unknown[] = [service];
      if (filter.profile) {
        params.push(filter.profile);
        where.push(`r.profile = $${params.length}`);
      }
      if (filter.watchId) {
        params.push(filter.watchId);
        where.push(`r.watch_id = $${params.length}`);
      }
      params.push(filter.limit ?? 50);
      const rows = await sql.rows<RunRow>(
        `${SELECT_RUN} WHERE ${where.join(' AND ')}
         ORDER BY r.started_at DESC, r.id COLLATE "C" DESC LIMIT $${params.length}`,
        params,
      );
      return rows.map(toRun);
    },
    async passedRuns(service, profile, excludeId, limit) {
      const rows = await sql.rows<RunRow>(
        `${SELECT_RUN} WHERE r.service = $1 AND r.profile = $2 AND r.result = 'pass' AND r.id <> $3
           AND r.summary_json IS NOT NULL AND (w.status IS NULL OR w.status NOT IN ('failed', 'aborted'))
         ORDER BY r.started_at DESC, r.id COLLATE "C" DESC LIMIT $4`,
        [service, profile, excludeId, limit],
      );
      return rows.map(toRun);
    },
    closeInterrupted: (now, explanation) =>
      sql.run(
        `UPDATE loadtest_runs SET ended_at = $1, result = 'inconclusive', explanation = $2 WHERE ended_at IS NULL`,
        [now, explanation],
      ),
  };
}
