import type { Db } from '../store/db.js';
import type { Signature, StoredSignature } from './signatures.js';

/*
 * The store side of log signatures (tables of migration 3): baselines kept at watch start, what each
 * watch saw, and operators' feedback. SQLite through better-sqlite3, like every adapter of src/store.
 */

/** The signatures of a baseline window, kept when the watch started. */
export interface StoredBaseline {
  /** ms since epoch: the window read. */
  from: number;
  to: number;
  lines: number;
  sampled: boolean;
  /** The request volume of the window (the check's `total` query), when it has one. */
  volume: number | null;
  computedAt: number;
  signatures: StoredSignature[];
}

/** How a signature of the new version stands against what was known. */
export type SignatureStatus = 'known' | 'new' | 'changed' | 'always-fail';

/** A signature as a watch saw it in its latest evaluation (first seen: its earliest in the watch). */
export interface ObservedSignature extends Signature {
  check: string;
  status: SignatureStatus;
  /** Its count in the baseline; null for a new signature. */
  baselineCount: number | null;
  updatedAt: number;
}

/** An operator's decision on a signature, for the service's later watches. */
export interface Feedback {
  service: string;
  signature: string;
  verdict: 'ignore' | 'always-fail';
  level: string;
  logger: string;
  template: string;
  reason: string;
  who: string;
  at: number;
}

/** The port the patterns check and routes use; `createPatternStore` is its SQLite adapter. */
export interface PatternStore {
  baseline(watchId: string, check: string): StoredBaseline | undefined;
  saveBaseline(watchId: string, check: string, service: string, baseline: StoredBaseline): void;
  /** Replaces a watch's view of a check with one evaluation's signatures (first seen kept from before). */
  saveObservations(
    watchId: string,
    check: string,
    service: string,
    at: number,
    observed: readonly ObservedSignature[],
  ): void;
  observations(watchId: string): ObservedSignature[];
  /** The feedback in force for a service: the latest decision per signature. */
  feedback(service: string): Feedback[];
  /** Every decision ever taken on a signature, oldest first (the audit). */
  feedbackHistory(signature: string): Feedback[];
  /** A signature some watch saw, for feedback on it: its service, level, logger and template. */
  findSignature(signature: string): Pick<Feedback, 'service' | 'level' | 'logger' | 'template'> | undefined;
  addFeedback(feedback: Feedback): void;
  /** Deletes baselines and observations older than `before` (ms); the feedback audit stays. Returns rows deleted. */
  prune(before: number): number;
  /**
   * What the service's last `count` passed watches knew of a check — their baselines and every signature
   * they saw — for `baseline: { from: previous-watch }`. Undefined when no passed watch recorded any.
   */
  previousWatches(query: { service: string; check: string; count: number; excludeWatchId?: string }):
    | {
        watches: { id: string; version: string; startedAt: number; endedAt: number }[];
        signatures: StoredSignature[];
      }
    | undefined;
}

interface ObservationRow {
  check_name: string;
  signature: string;
  status: SignatureStatus;
  level: string;
  logger: string;
  template: string;
  count: number;
  baseline_count: number | null;
  first_seen: number;
  last_seen: number;
  examples_json: string;
  updated_at: number;
}

/** The `pattern_feedback` columns are the Feedback fields, one for one. */
type FeedbackRow = Feedback;

const toFeedback = (row: FeedbackRow): Feedback => ({ ...row });

/**
 * The SQLite adapter of the pattern store.
 *
 * @example
 *   const patterns = createPatternStore(openDatabase(':memory:'));
 *   patterns.addFeedback({ service: 'prep-api', signature: 'p0123456789ab', verdict: 'ignore', … });
 */
export function createPatternStore(db: Db): PatternStore {
  const getBaseline = db.prepare<[string, string]>(
    `SELECT range_from, range_to, lines, sampled, volume, computed_at, signatures_json
     FROM pattern_baselines WHERE watch_id = ? AND check_name = ?`,
  );
  const putBaseline = db.prepare(
    `INSERT INTO pattern_baselines (watch_id, check_name, service, range_from, range_to, lines, sampled, volume,
       computed_at, signatures_json)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (watch_id, check_name) DO NOTHING`,
  );
  const previousFirstSeen = db.prepare<[string, string]>(
    'SELECT signature, first_seen FROM pattern_observations WHERE watch_id = ? AND check_name = ?',
  );
  const clearCheck = db.prepare('DELETE FROM pattern_observations WHERE watch_id = ? AND check_name = ?');
  const putObservation = db.prepare(
    `INSERT INTO pattern_observations (watch_id, check_name, signature, service, status, level, logger, template,
       count, baseline_count, first_seen, last_seen, examples_json, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const listObservations = db.prepare<[string]>(
    `SELECT check_name, signature, status, level, logger, template, count, baseline_count, first_seen, last_seen,
       examples_json, updated_at
     FROM pattern_observations WHERE watch_id = ? ORDER BY check_name, status, count DESC, first_seen`,
  );
  const currentFeedback = db.prepare<[string]>(
    `SELECT f.service, f.signature, f.verdict, f.level, f.logger, f.template, f.reason, f.who, f.at
     FROM pattern_feedback f
     WHERE f.service = ? AND f.id = (SELECT MAX(id) FROM pattern_feedback g
                                     WHERE g.service = f.service AND g.signature = f.signature)
     ORDER BY f.id`,
  );
  const history = db.prepare<[string]>(
    `SELECT service, signature, verdict, level, logger, template, reason, who, at
     FROM pattern_feedback WHERE signature = ? ORDER BY id`,
  );
  const lookup = db.prepare<[string]>(
    `SELECT service, level, logger, template FROM pattern_observations WHERE signature = ?
     ORDER BY updated_at DESC LIMIT 1`,
  );
  const insertFeedback = db.prepare(
    `INSERT INTO pattern_feedback (service, signature, verdict, level, logger, template, reason, who, at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );

  const passedWatches = db.prepare<[string, string, number]>(
    `SELECT id, version, started_at, COALESCE(ended_at, updated_at) AS ended_at FROM watches
     WHERE service = ? AND status = 'passed' AND id != ? ORDER BY started_at DESC LIMIT ?`,
  );
  const observedOf = db.prepare<[string, string]>(
    `SELECT signature, level, logger, template, count FROM pattern_observations
     WHERE watch_id = ? AND check_name = ?`,
  );
  const pruneBaselines = db.prepare('DELETE FROM pattern_baselines WHERE computed_at < ?');
  const pruneObservations = db.prepare('DELETE FROM pattern_observations WHERE updated_at < ?');

  const replaceObservations = db.transaction(
    (watchId: string, check: string, service: string, at: number, observed: readonly ObservedSignature[]) => {
      {
        const before = new Map(
          (previousFirstSeen.all(watchId, check) as { signature: string; first_seen: number }[]).map((r) => [
            r.signature,
            r.first_seen,
          ]),
        );
        clearCheck.run(watchId, check);
        for (const o of observed) {
          const firstSeen = Math.min(o.firstSeen, before.get(o.id) ?? Number.POSITIVE_INFINITY);
          putObservation.run(
            watchId,
            check,
            o.id,
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
      }
    },
  );

  const readBaseline = (watchId: string, check: string): StoredBaseline | undefined => {
    const row = getBaseline.get(watchId, check) as
      | {
          range_from: number;
          range_to: number;
          lines: number;
          sampled: number;
          volume: number | null;
          computed_at: number;
          signatures_json: string;
        }
      | undefined;
    if (row === undefined) return undefined;
    return {
      from: row.range_from,
      to: row.range_to,
      lines: row.lines,
      sampled: row.sampled === 1,
      volume: row.volume,
      computedAt: row.computed_at,
      signatures: JSON.parse(row.signatures_json) as StoredSignature[],
    };
  };

  return {
    baseline: readBaseline,
    saveBaseline(watchId, check, service, b) {
      const signatures = b.signatures.map(({ id, level, logger, template, count }) => ({
        id,
        level,
        logger,
        template,
        count,
      }));
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
        JSON.stringify(signatures),
      );
    },
    saveObservations(watchId, check, service, at, observed) {
      replaceObservations(watchId, check, service, at, observed);
    },
    observations(watchId) {
      return (listObservations.all(watchId) as ObservationRow[]).map((r) => ({
        check: r.check_name,
        id: r.signature,
        status: r.status,
        level: r.level,
        logger: r.logger,
        template: r.template,
        count: r.count,
        baselineCount: r.baseline_count,
        firstSeen: r.first_seen,
        lastSeen: r.last_seen,
        examples: JSON.parse(r.examples_json) as string[],
        updatedAt: r.updated_at,
      }));
    },
    feedback(service) {
      return (currentFeedback.all(service) as FeedbackRow[]).map(toFeedback);
    },
    feedbackHistory(signature) {
      return (history.all(signature) as FeedbackRow[]).map(toFeedback);
    },
    findSignature(signature) {
      return lookup.get(signature) as Pick<Feedback, 'service' | 'level' | 'logger' | 'template'> | undefined;
    },
    previousWatches({ service, check, count, excludeWatchId }) {
      const rows = passedWatches.all(service, excludeWatchId ?? '', count) as {
        id: string;
        version: string;
        started_at: number;
        ended_at: number;
      }[];
      const merged = new Map<string, StoredSignature>();
      const add = (signature: StoredSignature): void => {
        const known = merged.get(signature.id);
        if (known === undefined) merged.set(signature.id, { ...signature });
        else known.count += signature.count;
      };
      for (const row of rows) {
        for (const signature of readBaseline(row.id, check)?.signatures ?? []) add(signature);
        const observed = observedOf.all(row.id, check) as {
          signature: string;
          level: string;
          logger: string;
          template: string;
          count: number;
        }[];
        for (const o of observed)
          add({ id: o.signature, level: o.level, logger: o.logger, template: o.template, count: o.count });
      }
      if (merged.size === 0) return undefined;
      return {
        watches: rows.map((r) => ({
          id: r.id,
          version: r.version,
          startedAt: r.started_at,
          endedAt: r.ended_at,
        })),
        signatures: [...merged.values()],
      };
    },
    prune(before) {
      return pruneBaselines.run(before).changes + pruneObservations.run(before).changes;
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
  };
}
