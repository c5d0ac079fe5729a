import type { Db } from './db.js';

/**
 * Repository over `alerts`: the alerts Vigil holds towards Alertmanager. `fire`/`resolve` only write
 * here (synchronously, never blocking on the network); the alert ticker reads what is due and sends it.
 */

export type HeldAlertState = 'firing' | 'resolved';

/** One held alert. Times are epoch ms. */
export interface HeldAlert {
  key: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  generatorUrl: string | null;
  startsAt: number;
  /** Firing: optional auto-resolve deadline. Resolved: when it ended. */
  endsAt: number | null;
  /** Last time Alertmanager accepted this state; null = still to send. */
  lastSentAt: number | null;
  state: HeldAlertState;
}

interface RawAlert {
  key: string;
  labels_json: string;
  annotations_json: string;
  generator_url: string | null;
  starts_at: number;
  ends_at: number | null;
  last_sent_at: number | null;
  state: HeldAlertState;
}

function toHeld(raw: RawAlert): HeldAlert {
  return {
    key: raw.key,
    labels: JSON.parse(raw.labels_json) as Record<string, string>,
    annotations: JSON.parse(raw.annotations_json) as Record<string, string>,
    generatorUrl: raw.generator_url,
    startsAt: raw.starts_at,
    endsAt: raw.ends_at,
    lastSentAt: raw.last_sent_at,
    state: raw.state,
  };
}

export interface FiringInput {
  key: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  generatorUrl: string | null;
  now: number;
  autoResolveAt: number | null;
}

/**
 * Holds an alert as firing. An alert already firing keeps its start; it is re-sent at once only when
 * its labels or annotations changed. An absent or resolved one starts now.
 *
 * @example upsertFiring(db, { key: 'slo:error-rate', labels, annotations, generatorUrl: null, now, autoResolveAt: null })
 */
export function upsertFiring(db: Db, input: FiringInput): void {
  const labels = JSON.stringify(input.labels);
  const annotations = JSON.stringify(input.annotations);
  db.prepare(
    `INSERT INTO alerts (key, labels_json, annotations_json, generator_url, starts_at, ends_at, last_sent_at, state)
     VALUES (@key, @labels, @annotations, @generatorUrl, @now, @endsAt, NULL, 'firing')
     ON CONFLICT (key) DO UPDATE SET
       last_sent_at = CASE WHEN alerts.state = 'firing' AND alerts.labels_json = excluded.labels_json
                            AND alerts.annotations_json = excluded.annotations_json
                            AND alerts.generator_url IS excluded.generator_url
                           THEN alerts.last_sent_at ELSE NULL END,
       starts_at = CASE WHEN alerts.state = 'firing' THEN alerts.starts_at ELSE excluded.starts_at END,
       labels_json = excluded.labels_json,
       annotations_json = excluded.annotations_json,
       generator_url = excluded.generator_url,
       ends_at = excluded.ends_at,
       state = 'firing'`,
  ).run({
    key: input.key,
    labels,
    annotations,
    generatorUrl: input.generatorUrl,
    now: input.now,
    endsAt: input.autoResolveAt,
  });
}

/** Marks a firing alert resolved now (to be sent). Returns whether there was one. */
export function resolveHeld(db: Db, key: string, now: number): boolean {
  return (
    db
      .prepare(
        `UPDATE alerts SET state = 'resolved', ends_at = ?, last_sent_at = NULL WHERE key = ? AND state = 'firing'`,
      )
      .run(now, key).changes === 1
  );
}

/**
 * Resolves every firing alert whose labels include all of `match` (e.g. `{ watch_id }` for all alerts of
 * a watch). Returns the count.
 */
export function resolveHeldByLabels(db: Db, match: Readonly<Record<string, string>>, now: number): number {
  const entries = Object.entries(match);
  if (entries.length === 0) return 0;
  const where = entries.map(() => 'json_extract(labels_json, ?) = ?').join(' AND ');
  const params = entries.flatMap(([name, value]) => [`$."${name.replaceAll('"', '')}"`, value]);
  return db
    .prepare(
      `UPDATE alerts SET state = 'resolved', ends_at = ?, last_sent_at = NULL WHERE state = 'firing' AND ${where}`,
    )
    .run(now, ...params).changes;
}

/** Turns firing alerts whose auto-resolve deadline has passed into resolved ones (ended at that deadline). */
export function resolveExpiredHeld(db: Db, now: number): number {
  return db
    .prepare(
      `UPDATE alerts SET state = 'resolved', last_sent_at = NULL
       WHERE state = 'firing' AND ends_at IS NOT NULL AND ends_at <= ?`,
    )
    .run(now).changes;
}

/** Every held alert, oldest first. */
export function listHeld(db: Db): HeldAlert[] {
  return (db.prepare('SELECT * FROM alerts ORDER BY starts_at, key').all() as RawAlert[]).map(toHeld);
}

/**
 * Records that Alertmanager took these alerts in the state they were read in: a firing one gets
 * `last_sent_at`, a resolved one is forgotten. Guarded on the content sent, so an alert changed while
 * the post was in flight stays due.
 */
export function markHeldSent(db: Db, sent: readonly HeldAlert[], now: number): void {
  const touch = db.prepare(
    `UPDATE alerts SET last_sent_at = ? WHERE key = ? AND state = 'firing' AND labels_json = ? AND annotations_json = ?`,
  );
  const forget = db.prepare(`DELETE FROM alerts WHERE key = ? AND state = 'resolved' AND ends_at IS ?`);
  db.transaction(() => {
    for (const alert of sent) {
      if (alert.state === 'firing') {
        touch.run(now, alert.key, JSON.stringify(alert.labels), JSON.stringify(alert.annotations));
      } else {
        forget.run(alert.key, alert.endsAt);
      }
    }
  })();
}
