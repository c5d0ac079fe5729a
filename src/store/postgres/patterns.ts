import type {
  PatternFeedbackRow,
  PatternPassedWatch,
  PatternRepo,
  PatternSignatureCount,
  PatternSignatureOrigin,
} from '../port.js';
import {
  type BaselineRow,
  FEEDBACK_COLUMNS,
  type ObservationRow,
  toBaseline,
  toObservation,
} from '../rows.js';
import type { Sql } from './sql.js';

/*
 * The log-signature tables: baselines kept at watch start, what each watch saw, and operators' feedback
 * (one row per decision, the latest per service and signature in force).
 */

/**
 * The pattern repository over an executor.
 *
 * @example await createPatternRepo(sql).feedback('prep-api')
 */
export function createPatternRepo(sql: Sql): PatternRepo {
  return {
    async baseline(watchId, check) {
      const [row] = await sql.rows<BaselineRow>(
        `SELECT range_from, range_to, lines, sampled, volume, computed_at, signatures_json
         FROM pattern_baselines WHERE watch_id = $1 AND check_name = $2`,
        [watchId, check],
      );
      return row === undefined ? undefined : toBaseline(row);
    },
    async saveBaseline(watchId, check, service, b) {
      await sql.run(
        `INSERT INTO pattern_baselines (watch_id, check_name, service, range_from, range_to, lines, sampled,
           volume, computed_at, signatures_json)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (watch_id, check_name) DO NOTHING`,
        [
          watchId,
          check,
          service,
          b.from,
          b.to,
          b.lines,
          b.sampled,
          b.volume,
          b.computedAt,
          JSON.stringify(b.signatures),
        ],
      );
    },
    replaceObservations: (watchId, check, service, at, observed) =>
      sql.atomic(async (tx) => {
        const previous = await tx.rows<{ signature: string; first_seen: number }>(
          'DELETE FROM pattern_observations WHERE watch_id = $1 AND check_name = $2 RETURNING signature, first_seen',
          [watchId, check],
        );
        const before = new Map(previous.map((r) => [r.signature, r.first_seen]));
        for (const o of observed) {
          const firstSeen = Math.min(o.firstSeen, before.get(o.signature) ?? Number.POSITIVE_INFINITY);
          await tx.run(
            `INSERT INTO pattern_observations (watch_id, check_name, signature, service, status, level, logger,
               template, count, baseline_count, first_seen, last_seen, examples_json, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
            [
              watchId,
              check,
              o.signature,
              service,
              o.status,
              o.level,
              o.logger,
              o.template,
              o.count,
              o.baselineCount,
              firstSeen,
              o.lastSeen,
              JSON.stringify(o.examples),
              at,
            ],
          );
        }
      }),
    async observations(watchId) {
      const rows = await sql.rows<ObservationRow>(
        `SELECT check_name, signature, status, level, logger, template, count, baseline_count, first_seen,
           last_seen, examples_json, updated_at
         FROM pattern_observations WHERE watch_id = $1
         ORDER BY check_name COLLATE "C", status COLLATE "C", count DESC, first_seen, signature COLLATE "C"`,
        [watchId],
      );
      return rows.map(toObservation);
    },
    feedback: (service) =>
      sql.rows<PatternFeedbackRow>(
        `SELECT ${FEEDBACK_COLUMNS} FROM pattern_feedback f
         WHERE f.service = $1 AND f.id = (SELECT MAX(id) FROM pattern_feedback g
                                          WHERE g.service = f.service AND g.signature = f.signature)
         ORDER BY f.id`,
        [service],
      ),
    feedbackHistory: (signature) =>
      sql.rows<PatternFeedbackRow>(
        `SELECT ${FEEDBACK_COLUMNS} FROM pattern_feedback WHERE signature = $1 ORDER BY id`,
        [signature],
      ),
    async findSignature(signature) {
      const [row] = await sql.rows<PatternSignatureOrigin>(
        `SELECT service, level, logger, template FROM pattern_observations WHERE signature = $1
         ORDER BY updated_at DESC LIMIT 1`,
        [signature],
      );
      return row;
    },
    async addFeedback(f) {
      await sql.run(
        `INSERT INTO pattern_feedback (${FEEDBACK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [f.service, f.signature, f.verdict, f.level, f.logger, f.template, f.reason, f.who, f.at],
      );
    },
    prune: (before) =>
      sql.atomic(
        async (tx) =>
          (await tx.run('DELETE FROM pattern_baselines WHERE computed_at < $1', [before])) +
          (await tx.run('DELETE FROM pattern_observations WHERE updated_at < $1', [before])),
      ),
    passedWatches: (service, excludeWatchId, count) =>
      sql.rows<PatternPassedWatch>(
        `SELECT id, version, started_at AS "startedAt", COALESCE(ended_at, updated_at) AS "endedAt" FROM watches
         WHERE service = $1 AND status = 'passed' AND id <> $2
         ORDER BY started_at DESC, id COLLATE "C" DESC LIMIT $3`,
        [service, excludeWatchId, count],
      ),
    observedOf: (watchId, check) =>
      sql.rows<PatternSignatureCount>(
        `SELECT signature, level, logger, template, count FROM pattern_observations
         WHERE watch_id = $1 AND check_name = $2 ORDER BY signature COLLATE "C"`,
        [watchId, check],
      ),
  };
}
