import type { RollbackTrigger } from '../watch/types.js';
import type { Db } from './db.js';

/**
 * Repository over `rollbacks`: at most one rollback decision per watch (DESIGN §6). Synchronous, so
 * the actions layer records the decision and enqueues its webhooks inside the watch engine's
 * transaction: either the watch is rolled back with its deliveries, or neither happened.
 */

/** Which path decided a watch's rollback (the watch engine's type, re-exported for the actions layer). */
export type { RollbackTrigger };

/** The one rollback of a watch. `at` is epoch ms; `who` and `reason` are set for an operator's. */
export interface RollbackRecord {
  watchId: string;
  at: number;
  trigger: RollbackTrigger;
  who: string | null;
  reason: string | null;
}

interface RawRollback {
  watch_id: string;
  at: number;
  trigger: RollbackTrigger;
  who: string | null;
  reason: string | null;
}

/**
 * Records the rollback of a watch unless one is already recorded. Returns the record now stored — the
 * new one, or the first one when this was a no-op (`created: false`).
 *
 * @example
 *   const { record, created } = recordRollback(db, { watchId, at: now, trigger: 'operator', who: 'alice', reason: 'p95' });
 *   if (!created) return `already rolled back at ${new Date(record.at).toISOString()}`;
 */
export function recordRollback(
  db: Db,
  rollback: RollbackRecord,
): { record: RollbackRecord; created: boolean } {
  const info = db
    .prepare(
      `INSERT INTO rollbacks (watch_id, at, trigger, who, reason) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (watch_id) DO NOTHING`,
    )
    .run(rollback.watchId, rollback.at, rollback.trigger, rollback.who, rollback.reason);
  const record = getRollback(db, rollback.watchId);
  if (!record) throw new Error(`rollback of ${rollback.watchId} vanished right after its insert`);
  return { record, created: info.changes === 1 };
}

/**
 * The rollback of a watch, or undefined when it was never rolled back.
 *
 * @example getRollback(db, 'w_01JD…')?.trigger // 'automatic'
 */
export function getRollback(db: Db, watchId: string): RollbackRecord | undefined {
  const raw = db.prepare('SELECT * FROM rollbacks WHERE watch_id = ?').get(watchId) as
    | RawRollback
    | undefined;
  return raw
    ? { watchId: raw.watch_id, at: raw.at, trigger: raw.trigger, who: raw.who, reason: raw.reason }
    : undefined;
}
