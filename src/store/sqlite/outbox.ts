import type {
  DeliveryRow,
  DeliveryStatus,
  DeliveryView,
  OutboxRepo,
  RollbackRecord,
  RollbackRepo,
} from '../port.js';
import { redactUrl } from '../redact-url.js';
import {
  type RawAttempt,
  type RawDelivery,
  type RawRollback,
  toAttempt,
  toDelivery,
  toRollback,
} from '../rows.js';
import type { Db } from './database.js';
import type { Sync } from './sync.js';

/*
 * `rollbacks` (one decision per watch, DESIGN §6), `outbox` and `delivery_attempts`. The store runs every
 * write in a transaction (or a savepoint of the caller's), so a multi-statement method here is atomic.
 */

/**
 * The rollback repository over an open database.
 *
 * @example createRollbackRepo(db).record({ watchId, at: now, trigger: 'operator', who: 'alice', reason: 'p95' })
 */
export function createRollbackRepo(db: Db): Sync<RollbackRepo> {
  const insert = db.prepare(
    `INSERT INTO rollbacks (watch_id, at, trigger, who, reason) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (watch_id) DO NOTHING`,
  );
  const select = db.prepare<[string], RawRollback>('SELECT * FROM rollbacks WHERE watch_id = ?');
  const get = (watchId: string): RollbackRecord | undefined => {
    const raw = select.get(watchId);
    return raw ? toRollback(raw) : undefined;
  };
  return {
    record(rollback) {
      const info = insert.run(rollback.watchId, rollback.at, rollback.trigger, rollback.who, rollback.reason);
      const record = get(rollback.watchId);
      if (!record) throw new Error(`rollback of ${rollback.watchId} vanished right after its insert`);
      return { record, created: info.changes === 1 };
    },
    get,
  };
}

/**
 * The outbox repository over an open database.
 *
 * @example createOutboxRepo(db).claimDue(now, 10, (row) => now + 30_000)
 */
export function createOutboxRepo(db: Db): Sync<OutboxRepo> {
  const insert = db.prepare(
    `INSERT INTO outbox (id, watch_id, event, target, url, idempotency_key, body, dry_run, manual, status,
       attempts, created_at, next_attempt_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)
     ON CONFLICT (idempotency_key, target) DO NOTHING`,
  );
  const byKey = db.prepare<[string, string], RawDelivery>(
    'SELECT * FROM outbox WHERE idempotency_key = ? AND target = ?',
  );
  const due = db.prepare<[number, number], RawDelivery>(
    `SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?
     ORDER BY next_attempt_at, created_at, id LIMIT ?`,
  );
  const lease = db.prepare<[number, string, number]>(
    `UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND status = 'pending' AND next_attempt_at <= ?`,
  );
  const insertAttempt = db.prepare(
    'INSERT INTO delivery_attempts (delivery_id, at, status_code, latency_ms, error) VALUES (?, ?, ?, ?, ?)',
  );
  const moveOn = db.prepare<
    [DeliveryStatus, number, number | null, string | null, string],
    { attempts: number }
  >(
    `UPDATE outbox SET attempts = attempts + 1, status = ?, next_attempt_at = ?, delivered_at = ?, last_error = ?
     WHERE id = ? RETURNING attempts`,
  );
  const fail = db.prepare(
    `UPDATE outbox SET status = 'failed', last_error = ? WHERE id = ? AND status = 'pending'`,
  );
  const nextDue = db.prepare<[], { next: number | null }>(
    `SELECT MIN(next_attempt_at) AS next FROM outbox WHERE status = 'pending'`,
  );
  const prune = db.prepare(`DELETE FROM outbox WHERE status != 'pending' AND created_at < ?`);
  const byId = db.prepare<[string], RawDelivery>('SELECT * FROM outbox WHERE id = ?');
  const ofWatch = db.prepare<[string], RawDelivery>(
    'SELECT * FROM outbox WHERE watch_id = ? ORDER BY created_at, id',
  );
  const attemptsOf = db.prepare<[string], RawAttempt>(
    'SELECT at, status_code, latency_ms, error FROM delivery_attempts WHERE delivery_id = ? ORDER BY id',
  );

  return {
    insert(delivery) {
      const info = insert.run(
        delivery.id,
        delivery.watchId,
        delivery.event,
        delivery.target,
        delivery.url,
        delivery.idempotencyKey,
        delivery.body,
        delivery.dryRun ? 1 : 0,
        delivery.manual ? 1 : 0,
        delivery.createdAt,
        delivery.createdAt,
      );
      const raw = byKey.get(delivery.idempotencyKey, delivery.target) as RawDelivery;
      return { row: toDelivery(raw), created: info.changes === 1 };
    },
    claimDue(now, limit, leaseUntil) {
      const claimed: DeliveryRow[] = [];
      for (const raw of due.all(now, limit)) {
        const row = toDelivery(raw);
        const until = leaseUntil(row);
        if (lease.run(until, row.id, now).changes === 1) claimed.push({ ...row, nextAttemptAt: until });
      }
      return claimed;
    },
    recordAttempt(attempt) {
      insertAttempt.run(attempt.deliveryId, attempt.at, attempt.statusCode, attempt.latencyMs, attempt.error);
      const row = moveOn.get(
        attempt.status,
        attempt.nextAttemptAt,
        attempt.status === 'delivered' ? attempt.at : null,
        attempt.error,
        attempt.deliveryId,
      );
      return row?.attempts ?? 0;
    },
    fail(id, reason) {
      fail.run(reason, id);
    },
    nextDueAt: () => nextDue.get()?.next ?? null,
    prune: (before) => prune.run(before).changes,
    get(id) {
      const raw = byId.get(id);
      return raw ? toDelivery(raw) : undefined;
    },
    listForWatch(watchId) {
      return ofWatch.all(watchId).map((raw): DeliveryView => {
        const { body: _body, ...row } = toDelivery(raw);
        return {
          ...row,
          url: redactUrl(row.url),
          attemptLog: attemptsOf.all(raw.id).map(toAttempt),
        };
      });
    },
  };
}
