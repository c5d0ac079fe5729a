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
import type { Db } from './database.js';
import type { Sync } from './sync.js';

/*
 * The log-signature tables of migration 3: baselines kept at watch start, what each watch saw, and
 * operators' feedback (one row per decision, the latest per service and signature in force).
 */

/**
 * The pattern repository over an open database.
 *
 * @example createPatternRepo(db).feedback('prep-api')
 */
export function createPatternRepo(db: Db): Sync<PatternRepo> {
  const getBaseline = db.prepare<[string, string], BaselineRow>(
    `SELECT range_from, range_to, lines, sampled, volume, computed_at, signatures_json
     FROM pattern_baselines WHERE watch_id = ? AND check_name = ?`,
  );
  const putBaseline = db.prepare(
    `INSERT INTO pattern_baselines (watch_id, check_name, service, range_from, range_to, lines, sampled, volume,
       computed_at, signatures_json)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (watch_id, check_name) DO NOTHING`,
  );
  const previousFirstSeen = db.prepare<[string, string], { signature: string; first_seen: number }>(
    'SELECT signature, first_seen FROM pattern_observations WHERE watch_id = ? AND check_name = ?',
  );
  const clearCheck = db.prepare('DELETE FROM pattern_observations WHERE watch_id = ? AND check_name = ?');
  const putObservation = db.prepare(
    `INSERT INTO pattern_observations (watch_id, check_name, signature, service, status, level, logger, template,
       count, baseline_count, first_seen, last_seen, examples_json, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const listObservations = db.prepare<[string], ObservationRow>(
    `SELECT check_name, signature, status, level, logger, template, count, baseline_count, first_seen, last_seen,
       examples_json, updated_at
     FROM pattern_observations WHERE watch_id = ? ORDER BY check_name, status, count DESC, first_seen, signature`,
  );
  const currentFeedback = db.prepare<[string], PatternFeedbackRow>(
    `SELECT ${FEEDBACK_COLUMNS} FROM pattern_feedback f
     WHERE f.service = ? AND f.id = (SELECT MAX(id) FROM pattern_feedback g
                                     WHERE g.service = f.service AND g.signature = f.signature)
     ORDER BY f.id`,
  );
  const history = db.prepare<[string], PatternFeedbackRow>(
    `SELECT ${FEEDBACK_COLUMNS} FROM pattern_feedback WHERE signature = ? ORDER BY id`,
  );
  const lookup = db.prepare<[string], PatternSignatureOrigin>(
    `SELECT service, level, logger, template FROM pattern_observations WHERE signature = ?
     ORDER BY updated_at DESC LIMIT 1`,
  );
  const insertFeedback = db.prepare(
    `INSERT INTO pattern_feedback (${FEEDBACK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const passedWatches = db.prepare<[string, string, number], PatternPassedWatch>(
    `SELECT id, version, started_at AS startedAt, COALESCE(ended_at, updated_at) AS endedAt FROM watches
     WHERE service = ? AND status = 'passed' AND id != ? ORDER BY started_at DESC, id DESC LIMIT ?`,
  );
  const observedOf = db.prepare<[string, string], PatternSignatureCount>(
    `SELECT signature, level, logger, template, count FROM pattern_observations
     WHERE watch_id = ? AND check_name = ? ORDER BY signature`,
  );
  const pruneBaselines = db.prepare('DELETE FROM pattern_baselines WHERE computed_at < ?');
  const pruneObservations = db.prepare('DELETE FROM pattern_observations WHERE updated_at < ?');

  return {
    baseline(watchId, check) {
      const row = getBaseline.get(watchId, check);
      return row === undefined ? undefined : toBaseline(row);
    },
    saveBaseline(watchId, check, service, b) {
      putBaseline.run(
        watchId,
        check,
        service,
        b.from,
        b.to,
        b.lines,
        b.sampled ? 1 : 0,
        b.volume,
        b.computedAt,
        JSON.stringify(b.signatures),
      );
    },
    replaceObservations(watchId, check, service, at, observed) {
      const before = new Map(previousFirstSeen.all(watchId, check).map((r) => [r.signature, r.first_seen]));
      clearCheck.run(watchId, check);
      for (const o of observed) {
        const firstSeen = Math.min(o.firstSeen, before.get(o.signature) ?? Number.POSITIVE_INFINITY);
        putObservation.run(
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
        );
      }
    },
    observations(watchId) {
      return listObservations.all(watchId).map(toObservation);
    },
    feedback: (service) => currentFeedback.all(service).map((row) => ({ ...row })),
    feedbackHistory: (signature) => history.all(signature).map((row) => ({ ...row })),
    findSignature(signature) {
      const row = lookup.get(signature);
      return row ? { ...row } : undefined;
    },
    addFeedback(f) {
      insertFeedback.run(
        f.service,
        f.signature,
        f.verdict,
        f.level,
        f.logger,
        f.template,
        f.reason,
        f.who,
        f.at,
      );
    },
    prune: (before) => pruneBaselines.run(before).changes + pruneObservations.run(before).changes,
    passedWatches: (service, excludeWatchId, count) =>
      passedWatches.all(service, excludeWatchId, count).map((row) => ({ ...row })),
    observedOf: (watchId, check) => observedOf.all(watchId, check).map((row) => ({ ...row })),
  };
}
