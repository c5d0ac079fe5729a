import { formatDuration } from '../config/units.js';
import type { CheckOutcome, CheckResult } from './types.js';

/*
 * Failure accounting and verdict reduction (DESIGN §6), pure: the watch folds each evaluation's results
 * into per-check state with `accountCheck`, then asks `reduceVerdict` for the verdict and its reasons.
 *
 * - A check trips after `failureLimit` consecutive failing evaluations (`critical` → 1). A pass or warn
 *   resets the streak; an inconclusive evaluation neither counts nor resets it — "no information" must not
 *   wipe out two failures in a row, nor invent a third.
 * - Once tripped, a check stays tripped (`trippedReason`): a failed watch does not un-fail on the next pass.
 * - Evaluations before `initialDelay` has elapsed since the deploy are recorded but not counted.
 * - A check inconclusive for `inconclusiveLimit` or longer makes the watch blind: verdict `inconclusive`.
 * - Shadow checks are accounted (so their history is visible) but never change the verdict.
 */

/** What the watch remembers about one check between evaluations. Plain JSON, safe to persist. */
export interface CheckState {
  consecutiveFailures: number;
  /** Evaluations that counted (after initialDelay). */
  evaluations: number;
  lastResult: CheckOutcome | null;
  /** ms since epoch when the current unbroken run of inconclusive results began; null when not inconclusive. */
  inconclusiveSince: number | null;
  /** Set once the check reached its failure limit: the verdict reason, kept for good. */
  trippedReason: string | null;
}

export interface AccountingContext {
  /** Evaluation time, ms since epoch. */
  at: number;
  /** When the deploy (the watch) started, ms since epoch. */
  deployedAt: number;
  /** The watch's default failureLimit (DESIGN: 3). */
  failureLimit: number;
  /** The watch's default initialDelay in ms (0 when unset). */
  initialDelayMs?: number;
  /** How long a check may stay inconclusive before the watch is blind (DESIGN: 15m). */
  inconclusiveLimitMs: number;
}

export const INITIAL_CHECK_STATE: CheckState = Object.freeze({
  consecutiveFailures: 0,
  evaluations: 0,
  lastResult: null,
  inconclusiveSince: null,
  trippedReason: null,
});

/** The failure limit that applies to a check: 1 when critical, else its own, else the watch's. */
export function effectiveFailureLimit(result: CheckResult, defaultLimit: number): number {
  if (result.critical) return 1;
  return result.failureLimit ?? defaultLimit;
}

function plural(n: number, word: string): string {
  return `${n} consecutive ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Folds one evaluation of one check into its state; returns the new state and the result with
 * `consecutiveFailures` (and `counted: false` inside initialDelay) filled in.
 *
 * @example
 *   const ctx = { at, deployedAt, failureLimit: 3, inconclusiveLimitMs: 900_000 };
 *   const { state, result } = accountCheck(INITIAL_CHECK_STATE, failing, ctx);
 *   state.consecutiveFailures // 1
 */
export function accountCheck(
  state: CheckState | undefined,
  result: CheckResult,
  ctx: AccountingContext,
): { state: CheckState; result: CheckResult } {
  const prior = state ?? INITIAL_CHECK_STATE;
  const delayMs = result.initialDelayMs ?? ctx.initialDelayMs ?? 0;
  if (ctx.at - ctx.deployedAt < delayMs) {
    return {
      state: { ...prior, lastResult: result.result },
      result: {
        ...result,
        consecutiveFailures: prior.consecutiveFailures,
        counted: false,
        explanation: `${result.explanation} (within initialDelay ${formatDuration(delayMs)}: not counted)`,
      },
    };
  }
  let consecutiveFailures = prior.consecutiveFailures;
  if (result.result === 'fail') consecutiveFailures += 1;
  else if (result.result !== 'inconclusive') consecutiveFailures = 0;
  const inconclusiveSince = result.result === 'inconclusive' ? (prior.inconclusiveSince ?? ctx.at) : null;
  let trippedReason = prior.trippedReason;
  const limit = effectiveFailureLimit(result, ctx.failureLimit);
  if (trippedReason === null && result.result === 'fail' && consecutiveFailures >= limit) {
    const what = result.violation ?? result.explanation;
    trippedReason = `${result.name} ${what} for ${plural(consecutiveFailures, 'evaluation')}`;
  }
  return {
    state: {
      consecutiveFailures,
      evaluations: prior.evaluations + 1,
      lastResult: result.result,
      inconclusiveSince,
      trippedReason,
    },
    result: { ...result, consecutiveFailures, counted: true },
  };
}

/**
 * Folds a whole evaluation (every check's result) into the state map.
 *
 * @example const next = accountEvaluation({}, results, ctx); next.states['error-rate'].consecutiveFailures
 */
export function accountEvaluation(
  states: Readonly<Record<string, CheckState>>,
  results: readonly CheckResult[],
  ctx: AccountingContext,
): { states: Record<string, CheckState>; results: CheckResult[] } {
  const next: Record<string, CheckState> = { ...states };
  const accounted = results.map((r) => {
    const out = accountCheck(states[r.name], r, ctx);
    next[r.name] = out.state;
    return out.result;
  });
  return { states: next, results: accounted };
}

export type Verdict = 'pending' | 'pass' | 'warn' | 'fail' | 'inconclusive';

/**
 * The verdict of a watch from the latest accounted results and the check states. Precedence:
 * fail (a check tripped) > inconclusive (a check blind for inconclusiveLimit) > warn (a warn, a failure
 * below its limit, or a short inconclusive run) > pass; `pending` before any result counted. Shadow
 * checks never contribute.
 *
 * @example
 *   reduceVerdict(results, states, { at, inconclusiveLimitMs: 900_000 })
 *   // { verdict: 'fail', reasons: ['error-rate 0.034 ≥ objective 0.01 for 3 consecutive evaluations'] }
 */
export function reduceVerdict(
  checks: readonly CheckResult[],
  states: Readonly<Record<string, CheckState>>,
  ctx: { at: number; inconclusiveLimitMs: number; failureLimit?: number },
): { verdict: Verdict; reasons: string[] } {
  const enforced = checks.filter((c) => !c.shadow);
  const tripped = enforced.flatMap((c) => states[c.name]?.trippedReason ?? []);
  if (tripped.length > 0) return { verdict: 'fail', reasons: tripped };

  const blind = enforced.flatMap((c) => {
    const since = states[c.name]?.inconclusiveSince;
    if (since === null || since === undefined || ctx.at - since < ctx.inconclusiveLimitMs) return [];
    return [
      `${c.name} inconclusive for ${formatDuration(ctx.at - since)} (limit ${formatDuration(ctx.inconclusiveLimitMs)}): ${c.explanation}`,
    ];
  });
  if (blind.length > 0) return { verdict: 'inconclusive', reasons: blind };

  const counted = enforced.filter((c) => c.counted !== false);
  if (counted.length === 0) {
    return { verdict: 'pending', reasons: enforced.length === 0 ? [] : ['waiting for initialDelay to pass'] };
  }
  const concerns = counted.flatMap((c) => {
    if (c.result === 'warn') return [`${c.name} warn: ${c.violation ?? c.explanation}`];
    if (c.result === 'fail') {
      const limit = effectiveFailureLimit(c, ctx.failureLimit ?? 3);
      return [
        `${c.name} ${c.violation ?? c.explanation} (${c.consecutiveFailures} of ${limit} failing evaluations)`,
      ];
    }
    if (c.result === 'inconclusive') {
      const since = states[c.name]?.inconclusiveSince ?? ctx.at;
      return [`${c.name} inconclusive for ${formatDuration(Math.max(ctx.at - since, 0))}: ${c.explanation}`];
    }
    return [];
  });
  if (concerns.length > 0) return { verdict: 'warn', reasons: concerns };
  return { verdict: 'pass', reasons: [] };
}
