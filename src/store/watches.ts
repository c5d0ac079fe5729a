import type { CheckResult } from '../evaluator/types.js';
import type {
  PhaseRecord,
  TimelineEvent,
  TimelineType,
  VerdictValue,
  WatchRecord,
  WatchState,
  WatchStatus,
} from '../watch/types.js';
import type { Db } from './db.js';

/*
 * Repository over the `watches`, `timeline_events` and `check_results` tables. Synchronous like
 * better-sqlite3 itself, so callers compose several calls inside one `db.transaction`.
 */

interface WatchRow {
  id: string;
  service: string;
  version: string;
  previous_version: string | null;
  status: WatchStatus;
  verdict: VerdictValue;
  phase: WatchRecord['phase'];
  started_at: number;
  updated_at: number;
  ended_at: number | null;
  duration_ms: number;
  phases_json: string;
  reasons_json: string;
  state_json: string;
  superseded_by: string | null;
}

interface EventRow {
  at: number;
  type: TimelineType;
  message: string;
  data_json: string | null;
}

/*
 * A held watch is stored with status 'running' and `state.held` set: the v1 schema's CHECK constraint
 * predates `held`, and SQLite can only change a CHECK by rebuilding the table, whose DROP would cascade
 * to every timeline (foreign keys are on). A held watch is still active — resumed after a restart and
 * superseded by the next deploy — exactly like a running one, so the storage reads it the same way.
 */

function toRecord(row: WatchRow): WatchRecord {
  const state = JSON.parse(row.state_json) as WatchState;
  return {
    id: row.id,
    service: row.service,
    version: row.version,
    previousVersion: row.previous_version,
    status: row.status === 'running' && state.held ? 'held' : row.status,
    verdict: row.verdict,
    phase: row.phase,
    startedAt: row.started_at,
    updatedAt: row.updated_at,
    endedAt: row.ended_at,
    durationMs: row.duration_ms,
    phases: JSON.parse(row.phases_json) as PhaseRecord[],
    reasons: JSON.parse(row.reasons_json) as string[],
    state: { ...state, blindSpans: state.blindSpans ?? [] },
    supersededBy: row.superseded_by,
  };
}

function toParams(watch: WatchRecord) {
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
 * Creates the watch repository on an open store.
 *
 * @example
 *   const watches = createWatchStore(openDatabase(':memory:'));
 *   watches.insert(record); watches.appendEvent(record.id, { at, type: 'created', message: 'watch started' });
 */
export function createWatchStore(db: Db) {
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
  const selectWatch = db.prepare<[string], WatchRow>('SELECT * FROM watches WHERE id = ?');
  const selectRunning = db.prepare<[], WatchRow>(
    "SELECT * FROM watches WHERE status = 'running' ORDER BY started_at, id",
  );
  const selectRunningForService = db.prepare<[string], WatchRow>(
    "SELECT * FROM watches WHERE status = 'running' AND service = ? ORDER BY started_at DESC, id DESC",
  );
  const selectLast = db.prepare<[string], WatchRow>(
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

  return {
    insert(watch: WatchRecord): void {
      insertWatch.run(toParams(watch));
    },
    /** Writes every mutable field of the watch. */
    update(watch: WatchRecord): void {
      updateWatch.run(toParams(watch));
    },
    get(id: string): WatchRecord | undefined {
      const row = selectWatch.get(id);
      return row ? toRecord(row) : undefined;
    },
    running(): WatchRecord[] {
      return selectRunning.all().map(toRecord);
    },
    runningForService(service: string): WatchRecord[] {
      return selectRunningForService.all(service).map(toRecord);
    },
    /** The most recent watch of a service, whatever its status. */
    last(service: string): WatchRecord | undefined {
      const row = selectLast.get(service);
      return row ? toRecord(row) : undefined;
    },
    /** Newest first, optionally filtered; at most `limit` (default 100). */
    list(filter: { service?: string; status?: WatchStatus; limit?: number }): WatchRecord[] {
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
      return (db.prepare(sql).all(...params) as WatchRow[]).map(toRecord);
    },
    appendEvent(watchId: string, event: TimelineEvent): void {
      insertEvent.run(
        watchId,
        event.at,
        event.type,
        event.message,
        event.data ? JSON.stringify(event.data) : null,
      );
    },
    events(watchId: string): TimelineEvent[] {
      return selectEvents.all(watchId).map((row) => ({
        at: row.at,
        type: row.type,
        message: row.message,
        ...(row.data_json ? { data: JSON.parse(row.data_json) as Record<string, unknown> } : {}),
      }));
    },
    /**
     * Stores one evaluation's results. The UNIQUE (watch_id, evaluation, check_name) key turns a replay
     * into a no-op; returns how many rows were new.
     */
    saveResults(watchId: string, evaluation: number, results: readonly CheckResult[]): number {
      let inserted = 0;
      for (const result of results) {
        inserted += insertResult.run({
          watch_id: watchId,
          evaluation,
          check_name: result.name,
          kind: result.kind,
          evaluated_at: Date.parse(result.evaluatedAt),
          result: result.result,
          value: result.value !== null && Number.isFinite(result.value) ? result.value : null,
          baseline: result.baseline !== null && Number.isFinite(result.baseline) ? result.baseline : null,
          explanation: result.explanation,
          data_json: JSON.stringify(result),
        }).changes;
      }
      return inserted;
    },
    /** Distinct evaluations and rows stored for a watch (tests and diagnostics). */
    resultCounts(watchId: string): { evaluations: number; rows: number } {
      return countResults.get(watchId) ?? { evaluations: 0, rows: 0 };
    },
  };
}

export type WatchStore = ReturnType<typeof createWatchStore>;
