import type { Db } from './db.js';

/**
 * Repository over `outbox` and `delivery_attempts`. Every function is synchronous (better-sqlite3), so
 * callers can compose them inside their own `db.transaction`: the watch engine marks a watch failed and
 * enqueues its rollback in one transaction, and either both happen or neither does.
 */

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One outbox row. Times are epoch ms. */
export interface DeliveryRow {
  id: string;
  watchId: string | null;
  event: string;
  target: string;
  url: string;
  idempotencyKey: string;
  /** The exact bytes signed and sent on every attempt. */
  body: string;
  dryRun: boolean;
  manual: boolean;
  status: DeliveryStatus;
  attempts: number;
  createdAt: number;
  nextAttemptAt: number;
  deliveredAt: number | null;
  lastError: string | null;
}

/** One row of `delivery_attempts`. */
export interface AttemptRow {
  at: number;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}

/** A delivery with its attempts, for the watch API and timeline. */
export interface DeliveryView extends Omit<DeliveryRow, 'body'> {
  attemptLog: AttemptRow[];
}

interface RawDelivery {
  id: string;
  watch_id: string | null;
  event: string;
  target: string;
  url: string;
  idempotency_key: string;
  body: string;
  dry_run: number;
  manual: number;
  status: DeliveryStatus;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
  delivered_at: number | null;
  last_error: string | null;
}

function toRow(raw: RawDelivery): DeliveryRow {
  return {
    id: raw.id,
    watchId: raw.watch_id,
    event: raw.event,
    target: raw.target,
    url: raw.url,
    idempotencyKey: raw.idempotency_key,
    body: raw.body,
    dryRun: raw.dry_run === 1,
    manual: raw.manual === 1,
    status: raw.status,
    attempts: raw.attempts,
    createdAt: raw.created_at,
    nextAttemptAt: raw.next_attempt_at,
    deliveredAt: raw.delivered_at,
    lastError: raw.last_error,
  };
}

export type NewDelivery = Omit<
  DeliveryRow,
  'status' | 'attempts' | 'deliveredAt' | 'lastError' | 'nextAttemptAt'
>;

/**
 * Inserts a pending delivery unless one with the same (idempotency key, target) exists. Returns the
 * row now stored — the new one, or the existing one when the insert was a no-op (`created: false`).
 *
 * @example const { row, created } = insertDelivery(db, { id, watchId, event: 'rollback', target, ... });
 */
export function insertDelivery(db: Db, delivery: NewDelivery): { row: DeliveryRow; created: boolean } {
  const info = db
    .prepare(
      `INSERT INTO outbox (id, watch_id, event, target, url, idempotency_key, body, dry_run, manual, status,
         attempts, created_at, next_attempt_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)
       ON CONFLICT (idempotency_key, target) DO NOTHING`,
    )
    .run(
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
  const raw = db
    .prepare('SELECT * FROM outbox WHERE idempotency_key = ? AND target = ?')
    .get(delivery.idempotencyKey, delivery.target) as RawDelivery;
  return { row: toRow(raw), created: info.changes === 1 };
}

/** Pending deliveries whose time has come, oldest first. */
export function listDue(db: Db, now: number, limit: number): DeliveryRow[] {
  const rows = db
    .prepare(
      `SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at LIMIT ?`,
    )
    .all(now, limit) as RawDelivery[];
  return rows.map(toRow);
}

/**
 * Claims a due delivery by pushing its next attempt to `leaseUntil`: another worker (or this one after
 * a restart) will not take it before then. Returns false when someone else claimed it first. A daemon
 * that dies mid-attempt leaves the lease behind, and the delivery is retried when it runs out.
 */
export function claimDelivery(db: Db, id: string, now: number, leaseUntil: number): boolean {
  const info = db
    .prepare(
      `UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND status = 'pending' AND next_attempt_at <= ?`,
    )
    .run(leaseUntil, id, now);
  return info.changes === 1;
}

export interface AttemptRecord extends AttemptRow {
  deliveryId: string;
  status: DeliveryStatus;
  /** When pending: the next try. */
  nextAttemptAt: number;
}

/**
 * Records one attempt and moves the delivery on (delivered, failed, or pending until `nextAttemptAt`),
 * atomically. Returns the attempt number (1-based).
 */
export function recordAttempt(db: Db, attempt: AttemptRecord): number {
  const apply = db.transaction((): number => {
    db.prepare(
      'INSERT INTO delivery_attempts (delivery_id, at, status_code, latency_ms, error) VALUES (?, ?, ?, ?, ?)',
    ).run(attempt.deliveryId, attempt.at, attempt.statusCode, attempt.latencyMs, attempt.error);
    const row = db
      .prepare(
        `UPDATE outbox SET attempts = attempts + 1, status = ?, next_attempt_at = ?, delivered_at = ?, last_error = ?
         WHERE id = ? RETURNING attempts`,
      )
      .get(
        attempt.status,
        attempt.nextAttemptAt,
        attempt.status === 'delivered' ? attempt.at : null,
        attempt.error,
        attempt.deliveryId,
      ) as { attempts: number } | undefined;
    return row?.attempts ?? 0;
  });
  return apply.immediate();
}

/** Ends a delivery that can no longer be attempted (its target left the config) without an attempt. */
export function failDelivery(db: Db, id: string, reason: string): void {
  db.prepare(`UPDATE outbox SET status = 'failed', last_error = ? WHERE id = ? AND status = 'pending'`).run(
    reason,
    id,
  );
}

/** Epoch ms of the earliest pending delivery's next attempt, or null when nothing is pending. */
export function nextDueAt(db: Db): number | null {
  const row = db
    .prepare(`SELECT MIN(next_attempt_at) AS next FROM outbox WHERE status = 'pending'`)
    .get() as {
    next: number | null;
  };
  return row.next;
}

/**
 * Deletes finished deliveries (and their attempts) created before `before`, for store retention.
 * Pending ones are never pruned.
 */
export function pruneDeliveries(db: Db, before: number): number {
  return db.prepare(`DELETE FROM outbox WHERE status != 'pending' AND created_at < ?`).run(before).changes;
}

/** Reads one delivery by id. */
export function getDelivery(db: Db, id: string): DeliveryRow | undefined {
  const raw = db.prepare('SELECT * FROM outbox WHERE id = ?').get(id) as RawDelivery | undefined;
  return raw ? toRow(raw) : undefined;
}

/**
 * Every delivery of a watch with its attempts, oldest first — for `GET /api/v1/watches/{id}`.
 *
 * @example listDeliveries(db, 'w_01JD…').map((d) => `${d.event} → ${d.target}: ${d.status}`)
 */
export function listDeliveries(db: Db, watchId: string): DeliveryView[] {
  const deliveries = db
    .prepare('SELECT * FROM outbox WHERE watch_id = ? ORDER BY created_at, id')
    .all(watchId) as RawDelivery[];
  const attempts = db.prepare(
    'SELECT at, status_code, latency_ms, error FROM delivery_attempts WHERE delivery_id = ? ORDER BY id',
  );
  return deliveries.map((raw) => {
    const { body: _body, ...row } = toRow(raw);
    row.url = redactUrl(row.url);
    const log = attempts.all(raw.id) as {
      at: number;
      status_code: number | null;
      latency_ms: number;
      error: string | null;
    }[];
    return {
      ...row,
      attemptLog: log.map((a) => ({
        at: a.at,
        statusCode: a.status_code,
        latencyMs: a.latency_ms,
        error: a.error,
      })),
    };
  });
}

/** Scheme, host and path only: a token in the query or user info never reaches an API answer. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '[invalid url]';
  }
}
