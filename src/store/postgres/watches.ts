import type { StoredCheckResult, StoredWatch, StoredWatchStatus, WatchRepo } from '../port.js';
import { type EventRow, finite, isHeld, toEvent, toWatch, type WatchRow } from '../rows.js';
import type { Sql } from './sql.js';

/**
 * The first key of the two-key advisory locks on services ('vigS'): the (int, int) key space is apart from
 * the bigint keys of leadership and migrations.
 */
const SERVICE_LOCK_CLASS = 0x76696753;

/*
 * The `watches`, `timeline_events` and `check_results` tables. A held watch is stored with status 'held'
 * exactly when SQLite's adapter reads one back as held (an active watch whose `state.held` is set), so
 * both engines answer alike.
 */

function storedStatus(watch: StoredWatch): StoredWatchStatus {
  if (watch.status !== 'running' && watch.status !== 'held') return watch.status;
  return isHeld(watch.state) ? 'held' : 'running';
}

const ACTIVE = "status IN ('running', 'held')";

/**
 * The watch repository over an executor (the pool, or one transaction).
 *
 * @example await createWatchRepo(sql).insert(watch)
 */
export function createWatchRepo(sql: Sql): WatchRepo {
  const one = async (text: string, params: unknown[]): Promise<StoredWatch | undefined> => {
    const [row] = await sql.rows<WatchRow>(text, params);
    return row ? toWatch(row) : undefined;
  };
  const get = (id: string) => one('SELECT * FROM watches WHERE id = $1', [id]);

  return {
    async insert(watch) {
      await sql.run(
        `INSERT INTO watches (id, service, version, previous_version, status, verdict, phase, started_at,
           updated_at, ended_at, duration_ms, phases_json, reasons_json, state_json, superseded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
        [
          watch.id,
          watch.service,
          watch.version,
          watch.previousVersion,
          storedStatus(watch),
          watch.verdict,
          watch.phase,
          watch.startedAt,
          watch.updatedAt,
          watch.endedAt,
          watch.durationMs,
          JSON.stringify(watch.phases),
          JSON.stringify(watch.reasons),
          JSON.stringify(watch.state),
          watch.supersededBy,
        ],
      );
    },
    async update(watch) {
      await sql.run(
        `UPDATE watches SET previous_version = $2, status = $3, verdict = $4, phase = $5, updated_at = $6,
           ended_at = $7, phases_json = $8, reasons_json = $9, state_json = $10, superseded_by = $11
         WHERE id = $1`,
        [
          watch.id,
          watch.previousVersion,
          storedStatus(watch),
          watch.verdict,
          watch.phase,
          watch.updatedAt,
          watch.endedAt,
          JSON.stringify(watch.phases),
          JSON.stringify(watch.reasons),
          JSON.stringify(watch.state),
          watch.supersededBy,
        ],
      );
    },
    get,
    getForUpdate: (id) =>
      sql.inTransaction ? one('SELECT * FROM watches WHERE id = $1 FOR UPDATE', [id]) : get(id),
    async lockService(service) {
      // Released at COMMIT or ROLLBACK. A collision of two names' hashes only makes two services take turns.
      if (sql.inTransaction) {
        await sql.run('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SERVICE_LOCK_CLASS, service]);
      }
    },
    async running() {
      const rows = await sql.rows<WatchRow>(
        `SELECT * FROM watches WHERE ${ACTIVE} ORDER BY started_at, id COLLATE "C"`,
      );
      return rows.map(toWatch);
    },
    async runningForService(service) {
      const rows = await sql.rows<WatchRow>(
        `SELECT * FROM watches WHERE ${ACTIVE} AND service = $1 ORDER BY started_at DESC, id COLLATE "C" DESC`,
        [service],
      );
      return rows.map(toWatch);
    },
    last: (service) =>
      one('SELECT * FROM watches WHERE service = $1 ORDER BY started_at DESC, id COLLATE "C" DESC LIMIT 1', [
        service,
      ]),
    async list(filter) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (filter.service) {
        params.push(filter.service);
        where.push(`service = $${params.length}`);
      }
      if (filter.status) {
        params.push(filter.status);
        where.push(`status = $${params.length}`);
      }
      params.push(filter.limit ?? 100);
      const rows = await sql.rows<WatchRow>(
        `SELECT * FROM watches ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY started_at DESC, id COLLATE "C" DESC LIMIT $${params.length}`,
        params,
      );
      return rows.map(toWatch);
    },
    async appendEvent(watchId, event) {
      await sql.run(
        'INSERT INTO timeline_events (watch_id, at, type, message, data_json) VALUES ($1, $2, $3, $4, $5)',
        [watchId, event.at, event.type, event.message, event.data ? JSON.stringify(event.data) : null],
      );
    },
    async events(watchId) {
      const rows = await sql.rows<EventRow>(
        'SELECT at, type, message, data_json FROM timeline_events WHERE watch_id = $1 ORDER BY id',
        [watchId],
      );
      return rows.map(toEvent);
    },
    // The UNIQUE (watch_id, evaluation, check_name) key turns a replay into a no-op.
    async saveResults(watchId, evaluation, results: readonly StoredCheckResult[]) {
      if (results.length === 0) return 0;
      const columns: unknown[][] = Array.from({ length: 8 }, () => []);
      for (const result of results) {
        const values = [
          result.name,
          result.kind,
          result.evaluatedAt,
          result.result,
          finite(result.value),
          finite(result.baseline),
          result.explanation,
          JSON.stringify(result.data),
        ];
        for (const [i, value] of values.entries()) columns[i]?.push(value);
      }
      return sql.run(
        `INSERT INTO check_results (watch_id, evaluation, check_name, kind, evaluated_at, result, value, baseline,
           explanation, data_json)
         SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::bigint[], $6::text[], $7::float8[],
           $8::float8[], $9::text[], $10::text[])
         ON CONFLICT (watch_id, evaluation, check_name) DO NOTHING`,
        [watchId, evaluation, ...columns],
      );
    },
    async resultCounts(watchId) {
      const [row] = await sql.rows<{ evaluations: number; rows: number }>(
        'SELECT COUNT(DISTINCT evaluation) AS evaluations, COUNT(*) AS rows FROM check_results WHERE watch_id = $1',
        [watchId],
      );
      return row ?? { evaluations: 0, rows: 0 };
    },
  };
}
