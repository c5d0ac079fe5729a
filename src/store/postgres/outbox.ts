import type { DeliveryView, OutboxRepo, RollbackRecord, RollbackRepo } from '../port.js';
import { redactUrl } from '../redact-url.js';
import {
  type RawAttempt,
  type RawDelivery,
  type RawRollback,
  toAttempt,
  toDelivery,
  toRollback,
} from '../rows.js';
import type { Sql } from './sql.js';

/*
 * `rollbacks` (one decision per watch, DESIGN §6), `outbox` and `delivery_attempts`. Replicas share the
 * outbox: a worker claims due rows with FOR UPDATE SKIP LOCKED and a lease, so two workers never take
 * one row, and a row whose worker died is taken again once its lease runs out.
 */

/**
 * The rollback repository over an executor.
 *
 * @example await createRollbackRepo(sql).record({ watchId, at: now, trigger: 'operator', who: 'alice', reason: 'p95' })
 */
export function createRollbackRepo(sql: Sql): RollbackRepo {
  const get = async (watchId: string): Promise<RollbackRecord | undefined> => {
    const [raw] = await sql.rows<RawRollback>('SELECT * FROM rollbacks WHERE watch_id = $1', [watchId]);
    return raw ? toRollback(raw) : undefined;
  };
  return {
    async record(rollback) {
      const created = await sql.run(
        `INSERT INTO rollbacks (watch_id, at, trigger, who, reason) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (watch_id) DO NOTHING`,
        [rollback.watchId, rollback.at, rollback.trigger, rollback.who, rollback.reason],
      );
      const record = await get(rollback.watchId);
      if (!record) throw new Error(`rollback of ${rollback.watchId} vanished right after its insert`);
      return { record, created: created === 1 };
    },
    get,
  };
}

/**
 * The outbox repository over an executor.
 *
 * @example await createOutboxRepo(sql).claimDue(now, 10, () => now + 30_000)
 */
export function createOutboxRepo(sql: Sql): OutboxRepo {
  return {
    async insert(delivery) {
      const created = await sql.run(
        `INSERT INTO outbox (id, watch_id, event, target, url, idempotency_key, body, dry_run, manual, status,
           attempts, created_at, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $10, $10)
         ON CONFLICT (idempotency_key, target) DO NOTHING`,
        [
          delivery.id,
          delivery.watchId,
          delivery.event,
          delivery.target,
          delivery.url,
          delivery.idempotencyKey,
          delivery.body,
          delivery.dryRun,
          delivery.manual,
          delivery.createdAt,
        ],
      );
      const [raw] = await sql.rows<RawDelivery>(
        'SELECT * FROM outbox WHERE idempotency_key = $1 AND target = $2',
        [delivery.idempotencyKey, delivery.target],
      );
      if (!raw) throw new Error(`delivery ${delivery.id} vanished right after its insert`);
      return { row: toDelivery(raw), created: created === 1 };
    },
    // One transaction: the rows read are locked (others skip them) until their leases are written.
    claimDue: (now, limit, leaseUntil) =>
      sql.atomic(async (tx) => {
        const due = (
          await tx.rows<RawDelivery>(
            `SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1
             ORDER BY next_attempt_at, created_at, id COLLATE "C" LIMIT $2 FOR UPDATE SKIP LOCKED`,
            [now, limit],
          )
        ).map(toDelivery);
        if (due.length === 0) return [];
        const claimed = due.map((row) => ({ ...row, nextAttemptAt: leaseUntil(row) }));
        await tx.run(
          `UPDATE outbox o SET next_attempt_at = lease.until
           FROM unnest($1::text[], $2::bigint[]) AS lease (id, until) WHERE o.id = lease.id`,
          [claimed.map((row) => row.id), claimed.map((row) => row.nextAttemptAt)],
        );
        return claimed;
      }),
    recordAttempt: (attempt) =>
      sql.atomic(async (tx) => {
        await tx.run(
          'INSERT INTO delivery_attempts (delivery_id, at, status_code, latency_ms, error) VALUES ($1, $2, $3, $4, $5)',
          [attempt.deliveryId, attempt.at, attempt.statusCode, attempt.latencyMs, attempt.error],
        );
        const [row] = await tx.rows<{ attempts: number }>(
          `UPDATE outbox SET attempts = attempts + 1, status = $1, next_attempt_at = $2, delivered_at = $3,
             last_error = $4
           WHERE id = $5 RETURNING attempts`,
          [
            attempt.status,
            attempt.nextAttemptAt,
            attempt.status === 'delivered' ? attempt.at : null,
            attempt.error,
            attempt.deliveryId,
          ],
        );
        return row?.attempts ?? 0;
      }),
    async fail(id, reason) {
      await sql.run(
        `UPDATE outbox SET status = 'failed', last_error = $1 WHERE id = $2 AND status = 'pending'`,
        [reason, id],
      );
    },
    async nextDueAt() {
      const [row] = await sql.rows<{ next: number | null }>(
        `SELECT MIN(next_attempt_at) AS next FROM outbox WHERE status = 'pending'`,
      );
      return row?.next ?? null;
    },
    prune: (before) => sql.run(`DELETE FROM outbox WHERE status <> 'pending' AND created_at < $1`, [before]),
    async get(id) {
      const [raw] = await sql.rows<RawDelivery>('SELECT * FROM outbox WHERE id = $1', [id]);
      return raw ? toDelivery(raw) : undefined;
    },
    async listForWatch(watchId) {
      const deliveries = await sql.rows<RawDelivery>(
        'SELECT * FROM outbox WHERE watch_id = $1 ORDER BY created_at, id COLLATE "C"',
        [watchId],
      );
      if (deliveries.length === 0) return [];
      const attempts = await sql.rows<RawAttempt & { delivery_id: string }>(
        `SELECT delivery_id, at, status_code, latency_ms, error FROM delivery_attempts
         WHERE delivery_id = ANY ($1::text[]) ORDER BY id`,
        [deliveries.map((raw) => raw.id)],
      );
      return deliveries.map((raw): DeliveryView => {
        const { body: _body, ...row } = toDelivery(raw);
        return {
          ...row,
          url: redactUrl(row.url),
          attemptLog: attempts.filter((a) => a.delivery_id === raw.id).map(toAttempt),
        };
      });
    },
  };
}
