import { z } from 'zod';
import type { CheckOutcome } from '../evaluator/types.js';
import type { LoadComparison } from '../loadtest/compare.js';
import type { LoadSummary } from '../loadtest/summary.js';
import type { Db } from './db.js';

/**
 * Repository over `loadtest_runs`: one row per k6 run, inserted when it starts (so a crash leaves a
 * trace) and completed when it ends. `summary_json` holds the normalized summary, the comparison and
 * the profile's fingerprint — runs are only compared with runs of the same profile definition.
 */

export type LoadRunTrigger = 'watch' | 'schedule' | 'manual';

export interface StoredLoadRun {
  id: string;
  watchId: string | null;
  profile: string;
  trigger: LoadRunTrigger;
  startedAt: number;
  endedAt: number | null;
  exitCode: number | null;
  result: CheckOutcome | null;
  explanation: string | null;
  summary: LoadSummary | null;
  comparison: LoadComparison | null;
  fingerprint: string | null;
  /** Status of the watch the run belonged to, when it still exists. */
  watchStatus: string | null;
}

/** What `summary_json` holds. Parsed loosely: a row written by an older build must not break reads. */
const storedSummarySchema = z.object({
  summary: z.custom<LoadSummary>((v) => typeof v === 'object' && v !== null).nullable(),
  comparison: z
    .custom<LoadComparison>((v) => typeof v === 'object' && v !== null)
    .nullable()
    .optional(),
  fingerprint: z.string().nullable().optional(),
});

interface Row {
  id: string;
  watch_id: string | null;
  profile: string;
  trigger: string;
  started_at: number;
  ended_at: number | null;
  exit_code: number | null;
  result: string | null;
  explanation: string | null;
  summary_json: string | null;
  watch_status: string | null;
}

function toRun(row: Row): StoredLoadRun {
  let stored: z.infer<typeof storedSummarySchema> | null = null;
  if (row.summary_json) {
    try {
      const parsed = storedSummarySchema.safeParse(JSON.parse(row.summary_json));
      stored = parsed.success ? parsed.data : null;
    } catch {
      stored = null;
    }
  }
  return {
    id: row.id,
    watchId: row.watch_id,
    profile: row.profile,
    trigger: row.trigger as LoadRunTrigger,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    exitCode: row.exit_code,
    result: row.result as CheckOutcome | null,
    explanation: row.explanation,
    summary: stored?.summary ?? null,
    comparison: stored?.comparison ?? null,
    fingerprint: stored?.fingerprint ?? null,
    watchStatus: row.watch_status,
  };
}

const SELECT = `SELECT r.*, w.status AS watch_status FROM loadtest_runs r LEFT JOIN watches w ON w.id = r.watch_id`;

export interface LoadRunStore {
  insert(run: {
    id: string;
    watchId: string | null;
    profile: string;
    trigger: LoadRunTrigger;
    startedAt: number;
  }): void;
  finish(
    id: string,
    end: {
      endedAt: number;
      exitCode: number | null;
      result: CheckOutcome;
      explanation: string;
      summary: LoadSummary | null;
      comparison: LoadComparison | null;
      fingerprint: string;
    },
  ): void;
  get(id: string): StoredLoadRun | undefined;
  list(filter?: { profile?: string; watchId?: string; limit?: number }): StoredLoadRun[];
  /**
   * The run to compare with: the latest passed run of the profile with the same fingerprint,
   * preferring one from a watch that passed; runs of failed or aborted watches are never used.
   */
  findPrevious(
    profile: string,
    options: { fingerprint: string; excludeId?: string },
  ): StoredLoadRun | undefined;
  /** Closes runs left open by a daemon that stopped mid-run; returns how many. */
  closeInterrupted(now: number): number;
}

/**
 * Creates the repository of one service's runs on an open store (profile names repeat across the services
 * of a fleet: runs are only compared within a service). Closing interrupted runs is for every service.
 *
 * @example const runs = createLoadRunStore(openDatabase(':memory:'), 'prep-api'); runs.list({ profile: 'smoke' });
 */
export function createLoadRunStore(db: Db, service = ''): LoadRunStore {
  const insert = db.prepare(
    `INSERT INTO loadtest_runs (id, service, watch_id, profile, trigger, started_at) VALUES (?, ?, ?, ?, ?, ?)`,
  );
  const finish = db.prepare(
    `UPDATE loadtest_runs SET ended_at = ?, exit_code = ?, result = ?, explanation = ?, summary_json = ? WHERE id = ?`,
  );
  const get = db.prepare<[string], Row>(`${SELECT} WHERE r.id = ?`);
  const candidates = db.prepare<[string, string, string], Row>(
    `${SELECT} WHERE r.service = ? AND r.profile = ? AND r.result = 'pass' AND r.id != ? AND r.summary_json IS NOT NULL
     AND (w.status IS NULL OR w.status NOT IN ('failed', 'aborted'))
     ORDER BY r.started_at DESC LIMIT 100`,
  );
  const close = db.prepare(
    `UPDATE loadtest_runs SET ended_at = ?, result = 'inconclusive',
       explanation = 'the daemon stopped while this k6 run was in progress' WHERE ended_at IS NULL`,
  );
  return {
    insert(run) {
      insert.run(run.id, service, run.watchId, run.profile, run.trigger, run.startedAt);
    },
    finish(id, end) {
      const stored = { summary: end.summary, comparison: end.comparison, fingerprint: end.fingerprint };
      finish.run(end.endedAt, end.exitCode, end.result, end.explanation, JSON.stringify(stored), id);
    },
    get(id) {
      const row = get.get(id);
      return row ? toRun(row) : undefined;
    },
    list(filter = {}) {
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
      const sql = `${SELECT} WHERE ${where.join(' AND ')} ORDER BY r.started_at DESC LIMIT ?`;
      params.push(filter.limit ?? 50);
      return db
        .prepare<(string | number)[], Row>(sql)
        .all(...params)
        .map(toRun);
    },
    findPrevious(profile, { fingerprint, excludeId }) {
      const runs = candidates
        .all(service, profile, excludeId ?? '')
        .map(toRun)
        .filter((r) => r.summary !== null && r.fingerprint === fingerprint);
      return runs.find((r) => r.watchStatus === 'passed') ?? runs[0];
    },
    closeInterrupted(now) {
      return close.run(now).changes;
    },
  };
}
