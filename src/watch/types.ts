import type { Clock } from '../clock.js';
import type { Enforcement, Phase } from '../config/schema.js';
import type { CheckState } from '../evaluator/accounting.js';
import type { CheckResult } from '../evaluator/types.js';
import type { ProbeResult } from '../prober/types.js';
import type { Store, StoreTx } from '../store/port.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';

/** Where a watch stands (DESIGN §6). Every value but `running` is an end state. */
export type WatchStatus = 'running' | 'held' | 'passed' | 'failed' | 'inconclusive' | 'aborted';
/** The watch's current judgement (DESIGN §6). */
export type VerdictValue = 'pending' | 'pass' | 'warn' | 'fail' | 'inconclusive';
export type PhaseState = 'pending' | 'running' | 'passed' | 'failed' | 'skipped' | 'inconclusive' | 'aborted';

export const WATCH_STATUSES = ['running', 'held', 'passed', 'failed', 'inconclusive', 'aborted'] as const;
export const VERDICT_VALUES = ['pending', 'pass', 'warn', 'fail', 'inconclusive'] as const;
export const PHASE_ORDER: readonly Phase[] = ['smoke', 'load', 'bake'];

/** One phase of one watch, with its state and times (ms since epoch in the store, ISO in the API). */
export interface PhaseRecord {
  name: Phase;
  state: PhaseState;
  startedAt: number | null;
  endedAt: number | null;
  reason?: string;
}

/** Everything a running watch needs to resume where it was; stored as JSON beside the watch row. */
export interface WatchState {
  /** Failure accounting per check (the evaluator's accounting state), enough to carry on after a restart. */
  checks: Record<string, CheckState>;
  /** The last accounted result per check, smoke and load included: the `checks` of the verdict object. */
  results: Record<string, CheckResult>;
  /** Index of the next bake evaluation (floor(elapsed / evaluationInterval)); null before bake. */
  nextEvaluation: number | null;
  /** The interval the bake started with: it numbers the evaluations, so a reload does not change it. */
  evaluationIntervalMs?: number;
  /** Evaluations that never ran (daemon down or an overrun), summed over every gap. */
  missedEvaluations: number;
  /** True while the watch is blind (a check inconclusive longer than inconclusiveLimit). */
  blind: boolean;
  /** Every span during which the watch was blind, the open one last (`to: null`). Never forgotten. */
  blindSpans: BlindSpan[];
  /** Set while the watch waits in `held` for an operator (DESIGN §6). */
  held?: { since: number; until: number; reasons: string[] };
  /** The one rollback of this watch, once decided (DESIGN §6: one per watch, whatever path decided it). */
  rollback?: { at: number; trigger: RollbackTrigger; who?: string; reason: string };
  /** Operator decision that ended the watch, if any. */
  override?: { action: OverrideAction; who: string; reason: string };
  /** Latest live progress of the running load phase (k6), shown by `vigil wait`. */
  progress?: string;
  /**
   * Set by a replica that created the watch without leading (DESIGN §13): no loop has driven it yet, so
   * the leader starts it fresh instead of resuming it. Cleared when the leader takes it up.
   */
  awaitingLeader?: true;
}

/** A span of blindness: from when its checks stopped giving answers to when they came back (null: still blind). */
export interface BlindSpan {
  from: number;
  to: number | null;
  checks: string[];
  reason: string;
}

/** What decided a rollback. */
export type RollbackTrigger = 'automatic' | 'hold-timeout' | 'operator';

/** The stored watch. */
export interface WatchRecord {
  id: string;
  service: string;
  version: string;
  previousVersion: string | null;
  status: WatchStatus;
  verdict: VerdictValue;
  phase: Phase;
  startedAt: number;
  updatedAt: number;
  endedAt: number | null;
  durationMs: number;
  phases: PhaseRecord[];
  reasons: string[];
  state: WatchState;
  supersededBy: string | null;
}

/** One timeline entry: phase changes, evaluations that changed a result, gaps, actions, overrides. */
export interface TimelineEvent {
  at: number;
  type: TimelineType;
  message: string;
  data?: Record<string, unknown>;
}
export type TimelineType =
  | 'created'
  | 'phase'
  | 'evaluation'
  | 'gap'
  | 'blind'
  | 'superseded'
  | 'override'
  | 'action'
  | 'resumed'
  | 'progress'
  | 'held'
  | 'config'
  | 'ended';

/** The verdict object of DESIGN §6 (contract), plus `durationMs` and `endedAt`. */
export interface Verdict {
  id: string;
  service: string;
  version: string;
  previousVersion: string | null;
  status: WatchStatus;
  phase: Phase;
  verdict: VerdictValue;
  startedAt: string;
  updatedAt: string;
  endedAt: string | null;
  durationMs: number;
  reasons: string[];
  checks: CheckResult[];
  /** Every span the watch was blind (DESIGN §6), ISO times; `to` null while it still is. */
  blindSpans: { from: string; to: string | null; checks: string[]; reason: string }[];
  /** While `held`: when the hold began and when `onHoldTimeout` happens without a decision. */
  held?: { since: string; until: string; reasons: string[] };
  /** Live progress of the load phase while it runs (e.g. k6 elapsed, VUs, requests, p95). */
  progress?: string;
}

/** The watch object of DESIGN §6: the verdict plus duration, phases and timeline. */
export interface WatchView extends Verdict {
  duration: string;
  /** Things the caller should know at start, e.g. that no previous version is known. */
  warnings?: string[];
  supersededBy: string | null;
  phases: {
    name: Phase;
    state: PhaseState;
    startedAt: string | null;
    endedAt: string | null;
    reason?: string;
  }[];
  timeline: ({ at: string; type: TimelineType; message: string } & Record<string, unknown>)[];
}

export type OverrideAction = 'abort' | 'promote' | 'rollback';

/** Notification events of `actions.notify[].events` (config notifyEventSchema). */
export type WatchEventName =
  | 'watch.started'
  | 'watch.phase'
  | 'watch.passed'
  | 'watch.failed'
  | 'watch.inconclusive';

/** Alerts a watch raises itself (DESIGN §7 alertnames). */
export interface WatchAlert {
  alertname: 'VigilBlind' | 'VigilWatchFailed' | 'VigilWatchHeld' | 'VigilSLOViolation';
  watch: Verdict;
  /** The check an `enforce: alert` VigilSLOViolation is about. */
  check?: string;
  summary: string;
  description: string;
}

/** What the evaluator needs to evaluate one bake evaluation of a watch. */
export interface EvaluationContext {
  /** Evaluation time, ms since epoch. */
  at: number;
  /** The watch's start (the deploy), ms since epoch: `pre-deploy` baselines end here. */
  deployedAt: number;
  elapsedMs: number;
  watchId: string;
  /** Query template variables. */
  vars: { service: string; version: string; previousVersion: string };
}

/**
 * What the watch engine needs from the rest of the daemon. The lead wires the real implementations in
 * main.ts; tests pass small in-memory ones.
 */
export interface WatchDeps {
  /** Where watches live; the engine reads and writes it only through src/watch/records.ts. */
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /**
   * Runs the service's smoke probes once (only the named ones when `only` is given). Never throws for a
   * failing probe.
   */
  runSmokeProbes(
    signal: AbortSignal,
    only: readonly string[] | undefined,
    service: string,
  ): Promise<ProbeResult[]>;
  /**
   * The names of the checks a bake evaluation judges (SLO, burn-rate and probe checks): a bake with none
   * is refused at watch start, and an evaluation that throws makes each of them inconclusive.
   */
  bakeChecks?(service: string): readonly string[];
  /** One bake evaluation: SLO checks, synthetic probes, burn rates. Throws only on bugs. */
  evaluate(context: EvaluationContext, signal: AbortSignal): Promise<CheckResult[]>;
  /** The load phase; absent when no load runner is wired (the phase is then skipped, never passed). */
  runLoad?(
    watchId: string,
    signal: AbortSignal,
    onProgress: (line: string) => void,
    service: string,
  ): Promise<CheckResult>;
  /** Stores SLI values by elapsed time, inside the evaluation's transaction (the store's snapshots). */
  saveSnapshots?(
    tx: StoreTx,
    snapshot: {
      watchId: string;
      service: string;
      version: string;
      elapsedMs: number;
      at: number;
      values: { slo: string; value: number }[];
    },
  ): Promise<void>;
  /**
   * Fires the rollback actions. Called exactly once per failed watch, inside the transaction that marks
   * it failed (a failing check, or a hold that timed out); returns the number of rollback targets.
   */
  onFailed?(
    tx: StoreTx,
    watch: Verdict,
    trigger: Exclude<RollbackTrigger, 'operator'>,
  ): Promise<number | undefined>;
  /** Operator-requested rollback, inside the transaction that records it. */
  manualRollback?(
    tx: StoreTx,
    watch: Verdict,
    request: { who: string; reason: string },
  ): Promise<
    | {
        /** The watch's one rollback when it already had one (decided before this state knew of it). */
        existing?: { at: number; trigger: RollbackTrigger; who: string | null; reason: string | null };
      }
    | undefined
  >;
  /** Notification webhooks; called after commit. Must not throw (errors are logged). */
  onEvent?(event: WatchEventName, watch: Verdict): void;
  alerts?: { fire(alert: WatchAlert): void; resolve(alert: WatchAlert): void };
  /** Any end (passed, failed, inconclusive, aborted, superseded); after commit, e.g. to resolve its alerts. */
  onEnded?(watch: Verdict): void;
}

/** Watch settings: the `watch:` config section in milliseconds, plus what main derives from the definitions. */
export interface WatchSettings {
  durationMs: number;
  phases: readonly Phase[];
  loadProfile?: string;
  evaluationIntervalMs: number;
  smokeTimeoutMs: number;
  failureLimit: number;
  inconclusiveLimitMs: number;
  initialDelayMs?: number;
  /** How long to wait between smoke attempts: the shortest smoke probe interval (default 15s). */
  smokeRetryMs?: number;
  /** Blind longer than inconclusiveLimit: end `inconclusive` (default) or `warn` with the spans as reasons. */
  onBlind?: 'inconclusive' | 'warn';
  /** What a failing check does when it does not say (default rollback). */
  enforce?: Enforcement;
  /** How long a held watch waits for an operator (default 30m), and what happens then (default rollback). */
  holdTimeoutMs?: number;
  onHoldTimeout?: 'rollback' | 'promote';
  /** An inconclusive load phase ends the watch inconclusive (default) or only warns. */
  onLoadInconclusive?: 'inconclusive' | 'warn';
}
