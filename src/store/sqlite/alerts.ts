import type { AlertRepo } from '../port.js';
import { type RawAlert, toHeld } from '../rows.js';
import type { Db } from './database.js';
import type { Sync } from './sync.js';

/*
 * `alerts`: the alerts Vigil holds towards Alertmanager. A firing row's ends_at is an optional
 * auto-resolve deadline, a resolved one's when it ended; last_sent_at NULL means still to send.
 */

/**
 * The held-alert repository over an open database.
 *
 * @example createAlertRepo(db).upsertFiring({ key: 'slo:error-rate', labels, annotations, generatorUrl: null, now, autoResolveAt: null })
 */
export function createAlertRepo(db: Db): Sync<AlertRepo> {
  const upsert = db.prepare(
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
  );
  const resolve = db.prepare(
    `UPDATE alerts SET state = 'resolved', ends_at = ?, last_sent_at = NULL WHERE key = ? AND state = 'firing'`,
  );
  const resolveExpired = db.prepare(
    `UPDATE alerts SET state = 'resolved', last_sent_at = NULL
     WHERE state = 'firing' AND ends_at IS NOT NULL AND ends_at <= ?`,
  );
  const list = db.prepare<[], RawAlert>('SELECT * FROM alerts ORDER BY starts_at, key');
  const touch = db.prepare(
    `UPDATE alerts SET last_sent_at = ? WHERE key = ? AND state = 'firing' AND labels_json = ? AND annotations_json = ?`,
  );
  const forget = db.prepare(`DELETE FROM alerts WHERE key = ? AND state = 'resolved' AND ends_at IS ?`);

  return {
    upsertFiring(input) {
      upsert.run({
        key: input.key,
        labels: JSON.stringify(input.labels),
        annotations: JSON.stringify(input.annotations),
        generatorUrl: input.generatorUrl,
        now: input.now,
        endsAt: input.autoResolveAt,
      });
    },
    resolve: (key, now) => resolve.run(now, key).changes === 1,
    resolveByLabels(match, now) {
      const entries = Object.entries(match);
      if (entries.length === 0) return 0;
      const where = entries.map(() => 'json_extract(labels_json, ?) = ?').join(' AND ');
      const params = entries.flatMap(([name, value]) => [`$."${name.replaceAll('"', '')}"`, value]);
      return db
        .prepare(
          `UPDATE alerts SET state = 'resolved', ends_at = ?, last_sent_at = NULL WHERE state = 'firing' AND ${where}`,
        )
        .run(now, ...params).changes;
    },
    // A firing alert past its auto-resolve deadline ends at that deadline.
    resolveExpired: (now) => resolveExpired.run(now).changes,
    list: () => list.all().map(toHeld),
    // Guarded on the content sent, so an alert changed while the post was in flight stays due.
    markSent(sent, now) {
      for (const alert of sent) {
        if (alert.state === 'firing') {
          touch.run(now, alert.key, JSON.stringify(alert.labels), JSON.stringify(alert.annotations));
        } else {
          forget.run(alert.key, alert.endsAt);
        }
      }
    },
  };
}
