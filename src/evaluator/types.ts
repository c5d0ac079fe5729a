import type { Enforcement, Objective } from '../config/schema.js';

/** The four outcomes of any evaluation (DESIGN §6). */
export type CheckOutcome = 'pass' | 'warn' | 'fail' | 'inconclusive';

/** One check's result in one evaluation — the check object of the verdict (DESIGN §6). */
export interface CheckResult {
  name: string;
  kind: 'slo' | 'probe' | 'load' | 'burn-rate';
  result: CheckOutcome;
  value: number | null;
  objective: Objective | null;
  baseline: number | null;
  samples: number | null;
  query: string | null;
  explanation: string;
  consecutiveFailures: number;
  /** ISO 8601. */
  evaluatedAt: string;
  /** True for shadow checks (`enforce: shadow`, or the older `mode: shadow`): reported, never failing the watch. */
  shadow?: boolean;
  /**
   * What a failure of this check does to the watch (DESIGN §6); absent means the watch's `enforce`.
   * `shadow` here and `shadow: true` go together.
   */
  enforce?: Enforcement;
  /**
   * The range of data this evaluation actually judged, ISO 8601 (`{{window}}` clamped to the deploy
   * during a watch). Two failing evaluations are independent evidence only when their ranges do not
   * overlap (DESIGN §6). Absent for results that are not about a range (smoke, load).
   */
  range?: { from: string; to: string };
  /**
   * True when the result is inconclusive only for lack of post-deploy data (less than minWindow since
   * the deploy, or below minSamples while the window still fills): warm-up, not blindness.
   */
  warmingUp?: boolean;
  critical?: boolean;
  /** Per-check override of the watch's failureLimit (SLO config); `critical` means 1. */
  failureLimit?: number;
  /** Per-check override of the watch's initialDelay, in ms. */
  initialDelayMs?: number;
  /** False when the evaluation fell within initialDelay and does not count towards failures. */
  counted?: boolean;
  /** Short phrase naming the broken bound, for verdict reasons: `0.034 ≥ objective 0.01`. */
  violation?: string;
  /** Where the baseline came from (`pre-deploy`, `offset 7d`, …), when the check has one. */
  baselineFrom?: string;
  /** For checks with a target and budgetWindow: share of the error budget left (1 untouched, <0 overspent). */
  errorBudgetRemaining?: number | null;
  /** For checks with a target and budgetWindow: burn rate per window (`5m` … `3d`), null without data. */
  burnRates?: Record<string, number | null>;
}

/** A stored baseline value, or why there is none. */
export type BaselineLookup = { value: number; description: string } | { value: null; reason: string };

/**
 * Read side of the SLI snapshots (src/evaluator/snapshot-baselines.ts over the store's SnapshotRepo), for
 * `previous-watch` and `pinned` baselines: values recorded by earlier watches at the same elapsed time
 * since their deploy.
 */
export interface SnapshotReader {
  /** Aggregate of the last `count` passed watches of the service (excluding `excludeWatchId`). */
  previousWatches(query: {
    service: string;
    slo: string;
    elapsedMs: number;
    count: number;
    aggregate: 'mean' | 'median';
    excludeWatchId?: string;
  }): Promise<BaselineLookup>;
  /** The value of one named watch, or of the latest watch of one version. */
  pinned(query: {
    service: string;
    slo: string;
    elapsedMs: number;
    watchId?: string;
    version?: string;
  }): Promise<BaselineLookup>;
}
