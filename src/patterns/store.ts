import type {
  PatternBaselineRow,
  PatternFeedbackRow,
  PatternObservationRow,
  PatternPassedWatch,
  PatternRepo,
  StoreRepos,
} from '../store/port.js';
import type { Signature, StoredSignature } from './signatures.js';

/*
 * The store side of log signatures: baselines kept at watch start, what each watch saw, and operators'
 * feedback, over the store's `PatternRepo` (SQLite or PostgreSQL). The repository keeps the signatures
 * and examples as JSON documents; this wrapper is the one place that gives them their types.
 */

/** The signatures of a baseline window, kept when the watch started, as `StoredSignature` objects. */
export interface StoredBaseline extends Omit<PatternBaselineRow, 'signatures'> {
  signatures: StoredSignature[];
}

/** How a signature of the new version stands against what was known. */
export type SignatureStatus = PatternObservationRow['status'];

/** A signature as a watch saw it in its latest evaluation (first seen: its earliest in the watch). */
export interface ObservedSignature
  extends Signature,
    Pick<PatternObservationRow, 'check' | 'status' | 'baselineCount' | 'updatedAt'> {}

/** An operator's decision on a signature, for the service's later watches. */
export type Feedback = PatternFeedbackRow;

/**
 * What the patterns check and routes use; `createPatternStore` builds it over the store's `PatternRepo`.
 * Feedback is the repository's own; baselines and observations come back with their documents typed.
 */
export interface PatternStore
  extends Pick<PatternRepo, 'feedback' | 'feedbackHistory' | 'findSignature' | 'addFeedback' | 'prune'> {
  baseline(watchId: string, check: string): Promise<StoredBaseline | undefined>;
  /** Keeps a watch's baseline of a check; the first one saved stays. */
  saveBaseline(watchId: string, check: string, service: string, baseline: StoredBaseline): Promise<void>;
  /** Replaces a watch's view of a check with one evaluation's signatures (first seen kept from before). */
  saveObservations(
    watchId: string,
    check: string,
    service: string,
    at: number,
    observed: readonly ObservedSignature[],
  ): Promise<void>;
  observations(watchId: string): Promise<ObservedSignature[]>;
  /**
   * What the service's last `count` passed watches knew of a check — their baselines and every signature
   * they saw — for `baseline: { from: previous-watch }`. Undefined when no passed watch recorded any.
   */
  previousWatches(query: {
    service: string;
    check: string;
    count: number;
    excludeWatchId?: string;
  }): Promise<{ watches: PatternPassedWatch[]; signatures: StoredSignature[] } | undefined>;
}

/** A baseline's signatures as stored: only what classifying needs (no examples or times). */
const storedSignature = ({ id, level, logger, template, count }: StoredSignature): StoredSignature => ({
  id,
  level,
  logger,
  template,
  count,
});

const toObservationRow = (check: string, o: ObservedSignature): PatternObservationRow => ({
  check,
  signature: o.id,
  status: o.status,
  level: o.level,
  logger: o.logger,
  template: o.template,
  count: o.count,
  baselineCount: o.baselineCount,
  firstSeen: o.firstSeen,
  lastSeen: o.lastSeen,
  examples: o.examples,
  updatedAt: o.updatedAt,
});

const toObserved = (r: PatternObservationRow): ObservedSignature => ({
  check: r.check,
  id: r.signature,
  status: r.status,
  level: r.level,
  logger: r.logger,
  template: r.template,
  count: r.count,
  baselineCount: r.baselineCount,
  firstSeen: r.firstSeen,
  lastSeen: r.lastSeen,
  // The document this wrapper wrote: a list of redacted example lines.
  examples: r.examples as string[],
  updatedAt: r.updatedAt,
});

/**
 * The pattern store over a store's `PatternRepo` (a `Store`, or a transaction's repositories).
 *
 * @example
 *   const patterns = createPatternStore(await openStore({ path: ':memory:' }));
 *   await patterns.addFeedback({ service: 'prep-api', signature: 'p0123456789ab', verdict: 'ignore', … });
 */
export function createPatternStore(store: StoreRepos): PatternStore {
  const repo = store.patterns;
  const baseline = async (watchId: string, check: string): Promise<StoredBaseline | undefined> => {
    const row = await repo.baseline(watchId, check);
    // The document saveBaseline wrote: StoredSignature objects.
    return row === undefined ? undefined : { ...row, signatures: row.signatures as StoredSignature[] };
  };
  return {
    baseline,
    async saveBaseline(watchId, check, service, b) {
      await repo.saveBaseline(watchId, check, service, {
        ...b,
        signatures: b.signatures.map(storedSignature),
      });
    },
    async saveObservations(watchId, check, service, at, observed) {
      await repo.replaceObservations(
        watchId,
        check,
        service,
        at,
        observed.map((o) => toObservationRow(check, o)),
      );
    },
    async observations(watchId) {
      return (await repo.observations(watchId)).map(toObserved);
    },
    async feedback(service) {
      return (await repo.feedback(service)).map((row) => ({ ...row }));
    },
    async feedbackHistory(signature) {
      return (await repo.feedbackHistory(signature)).map((row) => ({ ...row }));
    },
    findSignature: (signature) => repo.findSignature(signature),
    async previousWatches({ service, check, count, excludeWatchId }) {
      const watches = await repo.passedWatches(service, excludeWatchId ?? '', count);
      const merged = new Map<string, StoredSignature>();
      const add = (signature: StoredSignature): void => {
        const known = merged.get(signature.id);
        if (known === undefined) merged.set(signature.id, { ...signature });
        else known.count += signature.count;
      };
      // Read every watch at once; merged in the watches' order (newest first), as counts add up alike.
      const known = await Promise.all(
        watches.map(async (w) => ({
          baseline: await baseline(w.id, check),
          observed: await repo.observedOf(w.id, check),
        })),
      );
      for (const { baseline: kept, observed } of known) {
        for (const signature of kept?.signatures ?? []) add(signature);
        for (const o of observed)
          add({ id: o.signature, level: o.level, logger: o.logger, template: o.template, count: o.count });
      }
      if (merged.size === 0) return undefined;
      return {
        watches: watches.map(({ id, version, startedAt, endedAt }) => ({ id, version, startedAt, endedAt })),
        signatures: [...merged.values()],
      };
    },
    prune: (before) => repo.prune(before),
    addFeedback: (feedback) => repo.addFeedback({ ...feedback }),
  };
}
