import type { SloConfig } from '../config/schema.js';
import type { PatternsContext } from '../patterns/check.js';
import type { SliSource } from '../sources/types.js';
import type { Judgement } from './objective.js';
import type { Read } from './read.js';
import type { EvaluationVars } from './sli.js';
import type { CheckResult, SnapshotReader } from './types.js';

/** What one evaluation of SLO checks needs: sources, times, template variables and the snapshot store. */
export interface EvaluationContext {
  /** Configured sources by kind; a missing one makes its checks inconclusive ("source loki is not configured"). */
  sources: Partial<Record<SliSource['kind'], SliSource>>;
  /** Evaluation time, ms since epoch: every query is evaluated at this instant. */
  at: number;
  /** The deploy (watch start), ms since epoch: `pre-deploy` baselines end here. */
  deployedAt: number;
  /** The range each SLI query covers (`{{window}}`) unless the SLO sets its own `window`. */
  windowMs: number;
  /**
   * True during a watch (and `vigil evaluate`): every window that judges the new version starts no earlier
   * than `deployedAt`, and a check with less than its minWindow of post-deploy data is inconclusive with
   * `warmingUp` (DESIGN §6). False or absent (continuous evaluation): the configured windows, as they are.
   */
  postDeployOnly?: boolean;
  /**
   * `watch.minWindow` in ms: the post-deploy data a check needs before it judges, unless the SLO sets its
   * own `minWindow`. Absent: twice the check's source's scrape interval (`SliSource.scrapeIntervalMs`).
   */
  minWindowMs?: number;
  vars: EvaluationVars;
  /** The current watch, excluded from `previous-watch` baselines. */
  watchId?: string;
  snapshots?: SnapshotReader;
  signal?: AbortSignal;
  /** Whether to evaluate error budgets and burn rates (SLOs with target and budgetWindow); default true. */
  burnRates?: boolean;
  /** How many SLOs are evaluated at once; default 4. */
  concurrency?: number;
  /** Log reads and stored signatures for `patterns` checks (absent: they are inconclusive). */
  patterns?: PatternsContext;
}

/** The fields of a check that do not depend on what the queries answered. */
export function checkShell(
  slo: SloConfig,
  ctx: EvaluationContext,
  kind: CheckResult['kind'],
  name: string,
): CheckResult {
  const shell: CheckResult = {
    name,
    kind,
    result: 'inconclusive',
    value: null,
    objective: kind === 'slo' ? (slo.objective ?? null) : null,
    baseline: null,
    samples: null,
    query: null,
    explanation: '',
    consecutiveFailures: 0,
    evaluatedAt: new Date(ctx.at).toISOString(),
    shadow: slo.enforce === 'shadow' || (slo.enforce === undefined && slo.mode === 'shadow'),
  };
  // `critical` is about the SLO's own SLI. A burn-rate check reads long windows (1h … 3d) whose data is
  // mostly the old version's early in a watch: one failing evaluation of it is not enough to roll back.
  if (kind === 'slo') shell.critical = slo.critical;
  const enforce = slo.enforce ?? (slo.mode === 'shadow' ? 'shadow' : undefined);
  if (enforce !== undefined) shell.enforce = enforce;
  if (slo.failureLimit !== undefined) shell.failureLimit = slo.failureLimit;
  if (slo.initialDelay !== undefined) shell.initialDelayMs = slo.initialDelay;
  return shell;
}

/** Applies a judgement to a check shell. */
export function withJudgement(
  shell: CheckResult,
  judgement: Judgement,
  extra: Partial<CheckResult> = {},
): CheckResult {
  const out: CheckResult = {
    ...shell,
    ...extra,
    result: judgement.result,
    explanation: judgement.explanation,
  };
  if (judgement.violation !== undefined) out.violation = judgement.violation;
  else delete out.violation;
  return out;
}

/**
 * The judgement when the SLI itself could not be read: an error is inconclusive whatever onNoData says;
 * no data follows `onNoData`.
 */
export function judgeMissingValue(
  read: Extract<Read<unknown>, { ok: false }>,
  onNoData: SloConfig['onNoData'],
): Judgement {
  if (read.kind === 'error') return { result: 'inconclusive', explanation: read.reason };
  if (onNoData === 'pass') return { result: 'pass', explanation: `no data (onNoData: pass): ${read.reason}` };
  if (onNoData === 'fail') {
    return {
      result: 'fail',
      explanation: `no data (onNoData: fail): ${read.reason}`,
      violation: 'has no data',
    };
  }
  return { result: 'inconclusive', explanation: `no data: ${read.reason}` };
}
