import type { AlertRepo } from '../port.js';
import { type RawAlert, toHeld } from '../rows.js';
import type { Sql } from './sql.js';

/* `alerts`: the Alertmanager alerts Vigil holds, keyed by the caller's key (their identity across leaders). */

/**
 * The held-alert repository over an executor.
 *
 * @example await createAlertRepo(sql).resolve('slo:error-rate', Date.now())
 */
export function createAlertRepo(sql: Sql): AlertRepo {
  return {
    async upsertFiring(input) {
      // Every SET expression reads the row as it was before this statement.
      await sql.run(
        `INSERT INTO alerts (key, labels_json, annotations_json, generator_url, starts_at, ends_at, last_sent_at,
           state)
         VALUES ($1, $2, $3, $4, $5, $6, NULL, 'firing')
         ON CONFLICT (key) DO UPDATE SET
           last_sent_at = CASE WHEN alerts.state = 'firing' AND alerts.labels_json = excluded.labels_json
                                AND alerts.annotations_json = excluded.annotations_json
                                AND alerts.generator_url IS NOT DISTINCT FROM excluded.generator_url
                               THEN alerts.last_sent_at ELSE NULL END,
           starts_at = CASE WHEN alerts.state = 'firing' THEN alerts.starts_at ELSE excluded.starts_at END,
           labels_json = excluded.labels_json,
           annotations_json = excluded.annotations_json,
           generator_url = excluded.generator_url,
           ends_at = excluded.ends_at,
           state = 'firing'`,
        [
          input.key,
          JSON.stringify(input.labels),
          JSON.stringify(input.annotations),
          input.generatorUrl,
          input.now,
          input.autoResolveAt,
        ],
      );
    },
    async resolve(key, now) {
      const changed = await sql.run(
        `UPDATE alerts SET state = 'resolved', ends_at = $1, last_sent_at = NULL WHERE key = $2 AND state = 'firing'`,
        [now, key],
      );
      return changed === 1;
    },
    resolveByLabels(match, now) {
      if (Object.keys(match).length === 0) return Promise.resolve(0);
      // Containment of a flat object of strings: every label of `match` present with that value.
      return sql.run(
        `UPDATE alerts SET state = 'resolved', ends_at = $1, last_sent_at = NULL
         WHERE state = 'firing' AND labels_json::jsonb @> $2::jsonb`,
        [now, JSON.stringify(match)],
      );
    },
    // A firing alert past its auto-resolve deadline ends at that deadline.
    resolveExpired: (now) =>
      sql.run(
        `UPDATE alerts SET state = 'resolved', last_sent_at = NULL
         WHERE state = 'firing' AND ends_at IS NOT NULL AND ends_at <= $1`,
        [now],
      ),
    async list() {
      const rows = await sql.rows<RawAlert>('SELECT * FROM alerts ORDER BY starts_at, key COLLATE "C"');
      return rows.map(toHeld);
    },
    // Guarded on the content sent, so an alert changed while the post was in flight stays due.
    markSent: (sent, now) =>
      sql.atomic(async (tx) => {
        for (const alert of sent) {
          if (alert.state === 'firing') {
            await tx.run(
              `UPDATE alerts SET last_sent_at = $1
               WHERE key = $2 AND state = 'firing' AND labels_json = $3 AND annotations_json = $4`,
              [now, alert.key, JSON.stringify(alert.labels), JSON.stringify(alert.annotations)],
            );
          } else {
            await tx.run(
              `DELETE FROM alerts WHERE key = $1 AND state = 'resolved' AND ends_at IS NOT DISTINCT FROM $2`,
              [alert.key, alert.endsAt],
            );
          }
        }
      }),
  };
}
