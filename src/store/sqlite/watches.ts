import type { StoredCheckResult, StoredEvent, StoredWatch, StoredWatchStatus, WatchRepo } from '../port.js';
import { type EventRow, finite, isHeld, toEvent, toWatch, type WatchRow } from '../rows.js';
import type { Db } from './database.js';
import type { Sync } from './sync.js';

/*
 * The `watches`, `timeline_events` and `check_results` tables.
 *
 * A held watch is stored with status 'running' and `state.held` set: the v1 schema's CHECK constraint
 * predates `held`, and SQLite can only change a CHECK by rebuilding the table, whose DROP would cascade
 * to every timeline (foreign keys are on). A held watch is still active — resumed after a restart and
 * superseded by the next deploy — exactly like a running one, so the storage reads it the same way. The
 * port speaks of status 'held'; this file maps both ways.
 */

/** As stored here: never 'held' (see above). */
interface StoredRow extends WatchRow {
  status: Exclude<StoredWatchStatus, 'held'>;
}

/** The port's record: a running row whose state says held reads as 'held'. */
function readWatch(row: StoredRow): StoredWatch {
  const watch = toWatch(row);
  return watch.status === 'running' && isHeld(watch.state) ? { ...watch, status: 'held' } : watch;
}

function toParams(watch: StoredWatch) {
  return {
    id: watch.id,
    service: watch.service,
    version: watch.version,
    previous_version: watch.previousVersion,
    status: watch.status === 'held' ? 'running' : watch.status,
    verdict: watch.verdict,
    phase: watch.phase,
    started_at: watch.startedAt,
    updated_at: watch.updatedAt,
    ended_at: watch.endedAt,
    duration_ms: watch.durationMs,
    phases_json: JSON.stringify(watch.phases),
    reasons_json: JSON.stringify(watch.reasons),
    state_json: JSON.stringify(watch.state),
    superseded_by: watch.supersededBy,
  };
}

/**
 * The watch repository over an open database.
 *
 * @example createWatchRepo(db).insert(watch)
 */
export function createWatchRepo(db: Db): Sync<WatchRepo> {
  const insertWatch = db.prepare(`
    INSERT INTO watches (id, service, version, previous_version, status, verdict, phase, started_at, updated_at,
      ended_at, duration_ms, phases_json, reasons_json, state_json, superseded_by)
    VALUES (@id, @service, @version, @previous_version, @status, @verdict, @phase, @started_at, @updated_at,
      @ended_at, @duration_ms, @phases_json, @reasons_json, @state_json, @superseded_by)`);
  const updateWatch = db.prepare(`
    UPDATE watches SET previous_version = @previous_version, status = @status, verdict = @verdict, phase = @phase,
      updated_at = @updated_at, ended_at = @ended_at, phases_json = @phases_json, reasons_json = @reasons_json,
      state_json = @state_json, superseded_by = @superseded_by
    WHERE id = @id`);
  const selectWatch = db.prepare<[string], StoredRow>('SELECT * FROM watches WHERE id = ?');
  const selectRunning = db.prepare<[], StoredRow>(
    "SELECT * FROM watches WHERE status = 'running' ORDER BY started_at, id",
  );
  const selectRunningForService = db.prepare<[string], StoredRow>(
    "SELECT * FROM watches WHERE status = 'running' AND service = ? ORDER BY started_at DESC, id DESC",
  );
  const selectLast = db.prepare<[string], StoredRow>(
    'SELECT * FROM watches WHERE service = ? ORDER BY started_at DESC, id DESC LIMIT 1',
  );
  const insertEvent = db.prepare(
    'INSERT INTO timeline_events (watch_id, at, type, message, data_json) VALUES (?, ?, ?, ?, ?)',
  );
  const selectEvents = db.prepare<[string], EventRow>(
    'SELECT at, type, message, data_json FROM timeline_events WHERE watch_id = ? ORDER BY id',
  );
  const insertResult = db.prepare(`
    INSERT OR IGNORE INTO check_results (watch_id, evaluation, check_name, kind, evaluated_at, result, value,
      baseline, explanation, data_json)
    VALUES (@watch_id, @evaluation, @check_name, @kind, @evaluated_at, @result, @value, @baseline, @explanation,
      @data_json)`);
  const countResults = db.prepare<[string], { evaluations: number; rows: number }>(
    'SELECT COUNT(DISTINCT evaluation) AS evaluations, COUNT(*) AS rows FROM check_results WHERE watch_id = ?',
  );

  const get = (id: string): StoredWatch | undefined => {
    const row = selectWatch.get(id);
    return row ? readWatch(row) : undefined;
  };

  return {
    insert(watch) {
      insertWatch.run(toParams(watch));
    },
    update(watch) {
      updateWatch.run(toParams(watch));
    },
    get,
    // One connection and BEGIN IMMEDIATE: a transaction holds the only write lock, so a plain read locks enough.
    getForUpdate: get,
    // One connection, and its store runs one transaction at a time: nothing else could interleave.
    lockService: () => undefined,
    running: () => selectRunning.all().map(readWatch),
    runningForService: (service) => selectRunningForService.all(service).map(readWatch),
    last(service) {
      const row = selectLast.get(service);
      return row ? readWatch(row) : undefined;
    },
    list(filter) {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (filter.service) {
        where.push('service = ?');
        params.push(filter.service);
      }
      if (filter.status === 'held' || filter.status === 'running') {
        where.push(
          `status = 'running' AND json_extract(state_json, '$.held') IS ${filter.status === 'held' ? 'NOT ' : ''}NULL`,
        );
      } else if (filter.status) {
        where.push('status = ?');
        params.push(filter.status);
      }
      params.push(filter.limit ?? 100);
      const sql = `SELECT * FROM watches ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY started_at DESC, id DESC LIMIT ?`;
      return db
        .prepare<(string | number)[], StoredRow>(sql)
        .all(...params)
        .map(readWatch);
    },
    appendEvent(watchId, event: StoredEvent) {
      insertEvent.run(
        watchId,
        event.at,
        event.type,
        event.message,
        event.data ? JSON.stringify(event.data) : null,
      );
    },
    events(watchId) {
      return selectEvents.all(watchId).map(toEvent);
    },
    // The UNIQUE (watch_id, evaluation, check_name) key turns a replay into a no-op.
    saveResults(watchId, evaluation, results: readonly StoredCheckResult[]) {
      let inserted = 0;
      for (const result of results) {
        inserted += insertResult.run({
          watch_id: watchId,
          evaluation,
          check_name: result.name,
          kind: result.kind,
          evaluated_at: result.evaluatedAt,
          result: result.result,
          value: finite(result.value),
          baseline: finite(result.baseline),
          explanation: result.explanation,
          data_json: JSON.stringify(result.data),
        }).changes;
      }
      return inserted;
    },
    resultCounts: (watchId) => countResults.get(watchId) ?? { evaluations: 0, rows: 0 },
  };
}
