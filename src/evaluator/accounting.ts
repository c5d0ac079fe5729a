import type { Enforcement } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
import type { CheckOutcome, CheckResult } from './types.js';

/*
 * Failure accounting and verdict reduction (DESIGN §6), pure: the watch folds each evaluation's results
 * into per-check state with `accountCheck`, then asks `reduceVerdict` for the verdict and its reasons.
 *
 * - A failing evaluation counts toward `failureLimit` (`critical` → 1) only when the range of data it
 *   judged does not overlap the range of the previous counted failure of that check: one bad minute seen
 *   through five overlapping 5m windows is one piece of evidence, not five. So `failureLimit: 3` means
 *   three windows' worth of bad data. Results without a range (nothing to overlap) count each time.
 * - A pass or warn resets the streak (but an overlapping failure after it is still the same evidence);
 *   an inconclusive evaluation neither counts nor resets — "no information" must not wipe out two
 *   failures, nor invent a third.
 * - Once tripped, a check stays tripped (`trippedReason`): a failed watch does not un-fail on the next pass.
 * - Evaluations before `initialDelay` has elapsed since the deploy are recorded but not counted.
 * - A check inconclusive for `inconclusiveLimit` or longer (warm-up excluded) makes the watch blind.
 * - What a tripped check does depends on its enforcement: shadow (nothing), alert (warn), hold, rollback.
 */

/** What the watch remembers about one check between evaluations. Plain JSON, safe to persist. */
export interface CheckState {
  /** Counted failures of the current streak (independent windows). */
  consecutiveFailures: number;
  /** Evaluations that counted (after initialDelay). */
  evaluations: number;
  lastResult: CheckOutcome | null;
  /**
   * ms since epoch when the current unbroken run of inconclusive results began; null when not
   * inconclusive, or inconclusive only for warm-up (not enough post-deploy data yet).
   */
  inconclusiveSince: number | null;
  /** Set once the check reached its failure limit: the verdict reason, kept for good. */
  trippedReason: string | null;
  /** End (ms) of the range of the last counted failure; a later failure overlapping it is not new evidence. */
  lastCountedTo?: number | null;
  /** Length (ms) of each counted window of the current streak, for the reason ("15m of data"). */
  streakWindowsMs?: number[];
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
  /** The watch's default enforcement (DESIGN: rollback). */
  enforce?: Enforcement;
}

export const INITIAL_CHECK_STATE: CheckState = Object.freeze({
  consecutiveFailures: 0,
  evaluations: 0,
  lastResult: null,
  inconclusiveSince: null,
  trippedReason: null,
  lastCountedTo: null,
  streakWindowsMs: [],
});

/** The failure limit that applies to a check: 1 when critical, else its own, else the watch's. */
export function effectiveFailureLimit(result: CheckResult, defaultLimit: number): number {
  if (result.critical) return 1;
  return result.failureLimit ?? defaultLimit;
}

/**
 * What a failure of this check does (DESIGN §6): its own `enforce`, `shadow` for shadow checks, else the
 * watch's default, else rollback.
 *
 * @example enforcementOf({ ...check, enforce: 'alert' }, 'rollback') // 'alert'
 */
export function enforcementOf(result: CheckResult, fallback: Enforcement = 'rollback'): Enforcement {
  if (result.shadow) return 'shadow';
  return result.enforce ?? fallback;
}

function rangeOf(result: CheckResult): { from: number; to: number } | undefined {
  if (!result.range) return undefined;
  const from = Date.parse(result.range.from);
  const to = Date.parse(result.range.to);
  return Number.isFinite(from) && Number.isFinite(to) && to >= from ? { from, to } : undefined;
}

/** "over 3 independent 5m windows (15m of data)", or "for 3 consecutive evaluations" without ranges. */
function describeStreak(count: number, windowsMs: readonly number[]): string {
  if (windowsMs.length < count || windowsMs.length === 0) {
    return `for ${count} consecutive evaluation${count === 1 ? '' : 's'}`;
  }
  const total = windowsMs.reduce((sum, ms) => sum + ms, 0);
  const same = windowsMs.every((ms) => ms === windowsMs[0]);
  const data = formatDuration(total);
  if (count === 1) return `over 1 ${formatDuration(windowsMs[0] as number)} window`;
  return same
    ? `over ${count} independent ${formatDuration(windowsMs[0] as number)} windows (${data} of data)`
    : `over ${count} independent windows (${data} of data)`;
}

/**
 * Folds one evaluation of one check into its state; returns the new state and the result with
 * `consecutiveFailures` (and `counted: false` inside initialDelay) filled in, and `enforce` resolved.
 *
 * @example
 *   const ctx = { at, deployedAt, failureLimit: 3, inconclusiveLimitMs: 900_000 };
 *   const { state, result } = accountCheck(INITIAL_CHECK_STATE, failing, ctx);
 *   state.consecutiveFailures // 1
 */
export function accountCheck(
  state: CheckState | undefined,
  input: CheckResult,
  ctx: AccountingContext,
): { state: CheckState; result: CheckResult } {
  const prior = { ...INITIAL_CHECK_STATE, ...state };
  const result: CheckResult = { ...input, enforce: enforcementOf(input, ctx.enforce) };
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
  let lastCountedTo = prior.lastCountedTo ?? null;
  let streakWindowsMs = prior.streakWindowsMs ?? [];
  let explanation = result.explanation;
  const range = rangeOf(result);
  if (result.result === 'fail') {
    if (range !== undefined && lastCountedTo !== null && range.from < lastCountedTo) {
      explanation = `${explanation} (its window overlaps the failure counted up to ${new Date(lastCountedTo).toISOString()}: same evidence, not counted again)`;
    } else {
      consecutiveFailures += 1;
      if (range !== undefined) {
        lastCountedTo = range.to;
        streakWindowsMs = [...streakWindowsMs, range.to - range.from];
      }
    }
  } else if (result.result !== 'inconclusive') {
    consecutiveFailures = 0;
    streakWindowsMs = [];
  }
  const blindCandidate = result.result === 'inconclusive' && result.warmingUp !== true;
  const inconclusiveSince = blindCandidate ? (prior.inconclusiveSince ?? ctx.at) : null;
  let trippedReason = prior.trippedReason;
  const limit = effectiveFailureLimit(result, ctx.failureLimit);
  if (trippedReason === null && result.result === 'fail' && consecutiveFailures >= limit) {
    const what = result.violation ?? result.explanation;
    const windows = range !== undefined ? streakWindowsMs : [];
    trippedReason = `${result.name} ${what} ${describeStreak(consecutiveFailures, windows)}`;
  }
  return {
    state: {
      consecutiveFailures,
      evaluations: prior.evaluations + 1,
      lastResult: result.result,
      inconclusiveSince,
      trippedReason,
      lastCountedTo,
      streakWindowsMs,
    },
    result: { ...result, explanation, consecutiveFailures, counted: true },
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

/** A check that is blind now: inconclusive (not for warm-up) for inconclusiveLimit or longer. */
export interface BlindCheck {
  check: string;
  /** ms since epoch when its inconclusive run began. */
  since: number;
  reason: string;
}

/** The reduction of a watch's checks (DESIGN §6). */
export interface Reduction {
  verdict: Verdict;
  reasons: string[];
  /** What tripped checks ask of the watch: `rollback` beats `hold`; null when neither. */
  decision: 'rollback' | 'hold' | null;
  /** Checks tripped under `enforce: alert`: the watch warns and pages, never rolls back. */
  alerting: { check: string; reason: string }[];
  blind: BlindCheck[];
}

/**
 * The verdict of a watch from the latest accounted results and the check states. Precedence:
 * fail (a `rollback` or `hold` check tripped) > inconclusive (a check blind now) > warn (an `alert` check
 * tripped, a warn, a failure below its limit, or a short inconclusive run) > pass; `pending` before any
 * result counted. Shadow checks never contribute.
 *
 * @example
 *   reduceVerdict(results, states, { at, inconclusiveLimitMs: 900_000 })
 *   // { verdict: 'fail', decision: 'rollback', reasons: ['error-rate 0.034 ≥ objective 0.01 over 1 5m window'], … }
 */
export function reduceVerdict(
  checks: readonly CheckResult[],
  states: Readonly<Record<string, CheckState>>,
  ctx: { at: number; inconclusiveLimitMs: number; failureLimit?: number; enforce?: Enforcement },
): Reduction {
  const enforced = checks.filter((c) => enforcementOf(c, ctx.enforce) !== 'shadow');
  const trippedUnder = (level: Enforcement): { check: string; reason: string }[] =>
    enforced.flatMap((c) => {
      const reason = states[c.name]?.trippedReason;
      return reason && enforcementOf(c, ctx.enforce) === level ? [{ check: c.name, reason }] : [];
    });
  const rollback = trippedUnder('rollback');
  const hold = trippedUnder('hold');
  const alerting = trippedUnder('alert');
  const blind = enforced.flatMap((c): BlindCheck[] => {
    const since = states[c.name]?.inconclusiveSince;
    if (since === null || since === undefined || ctx.at - since < ctx.inconclusiveLimitMs) return [];
    return [{ check: c.name, since, reason: c.explanation }];
  });
  const base = { alerting, blind };
  if (rollback.length > 0) {
    return {
      ...base,
      verdict: 'fail',
      decision: 'rollback',
      reasons: [...rollback, ...hold].map((t) => t.reason),
    };
  }
  if (hold.length > 0) {
    return {
      ...base,
      verdict: 'fail',
      decision: 'hold',
      reasons: hold.map((t) => `${t.reason} (enforce: hold)`),
    };
  }
  if (blind.length > 0) {
    return {
      ...base,
      verdict: 'inconclusive',
      decision: null,
      reasons: blind.map(
        (b) =>
          `${b.check} inconclusive for ${formatDuration(ctx.at - b.since)} (limit ${formatDuration(ctx.inconclusiveLimitMs)}): ${b.reason}`,
      ),
    };
  }
  const counted = enforced.filter((c) => c.counted !== false);
  if (counted.length === 0) {
    return {
      ...base,
      verdict: 'pending',
      decision: null,
      reasons: enforced.length === 0 ? [] : ['waiting for initialDelay to pass'],
    };
  }
  const alerted = new Set(alerting.map((a) => a.check));
  const concerns = [
    ...alerting.map((a) => `${a.reason} (enforce: alert: alerted, no rollback)`),
    ...counted.flatMap((c) => {
      if (alerted.has(c.name)) return [];
      if (c.result === 'warn') return [`${c.name} warn: ${c.violation ?? c.explanation}`];
      if (c.result === 'fail') {
        const limit = effectiveFailureLimit(c, ctx.failureLimit ?? 3);
        return [
          `${c.name} ${c.violation ?? c.explanation} (failing, ${c.consecutiveFailures} of ${limit} ${c.range ? 'independent windows' : 'failing evaluations'})`,
        ];
      }
      if (c.result === 'inconclusive') {
        const since = states[c.name]?.inconclusiveSince;
        const how =
          since === null || since === undefined ? '' : ` for ${formatDuration(Math.max(ctx.at - since, 0))}`;
        return [`${c.name} inconclusive${how}: ${c.explanation}`];
      }
      return [];
    }),
  ];
  if (concerns.length > 0) return { ...base, verdict: 'warn', decision: null, reasons: concerns };
  return { ...base, verdict: 'pass', decision: null, reasons: [] };
}
