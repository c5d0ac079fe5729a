import { accountEvaluation, type CheckState, reduceVerdict } from '../evaluator/accounting.js';
import type { CheckResult } from '../evaluator/types.js';
import type { VerdictValue, WatchSettings, WatchState } from './types.js';

/*
 * The watch's side of DESIGN §6, pure. Failure accounting and the reduction itself are the evaluator's
 * (src/evaluator/accounting.ts, one way to do each thing); this file only adds what a watch knows and
 * a single evaluation does not: results that are final for their phase (smoke, load) and missed
 * evaluations.
 */

/** A fresh state for a new watch. */
export function emptyState(): WatchState {
  return { checks: {}, results: {}, nextEvaluation: null, missedEvaluations: 0, blind: false };
}

/**
 * Folds one bake evaluation into the state. Returns the new state and the names of checks whose
 * result differs from their previous one (those make timeline events).
 *
 * @example const { state, changed } = accountBake(watch.state, results, { at, deployedAt, settings });
 */
export function accountBake(
  previous: WatchState,
  results: readonly CheckResult[],
  context: { at: number; deployedAt: number; settings: WatchSettings },
): { state: WatchState; changed: string[] } {
  const { settings } = context;
  const accounted = accountEvaluation(previous.checks, results, {
    at: context.at,
    deployedAt: context.deployedAt,
    failureLimit: settings.failureLimit,
    inconclusiveLimitMs: settings.inconclusiveLimitMs,
    ...(settings.initialDelayMs !== undefined ? { initialDelayMs: settings.initialDelayMs } : {}),
  });
  const resultsByName = { ...previous.results };
  const changed: string[] = [];
  for (const result of accounted.results) {
    if (resultsByName[result.name]?.result !== result.result) changed.push(result.name);
    resultsByName[result.name] = result;
  }
  return { state: { ...previous, checks: accounted.states, results: resultsByName }, changed };
}

/**
 * Records a result that is final for its phase (a smoke probe, the load run): a fail trips the watch at
 * once, and an inconclusive one never counts towards blindness (it will not be evaluated again).
 *
 * @example state = recordPhaseResult(state, smokeCheck)
 */
export function recordPhaseResult(previous: WatchState, result: CheckResult): WatchState {
  const failed = result.result === 'fail' && !result.shadow;
  const accounted: CheckResult = { ...result, consecutiveFailures: failed ? 1 : 0 };
  const check: CheckState = {
    consecutiveFailures: accounted.consecutiveFailures,
    evaluations: 1,
    lastResult: result.result,
    inconclusiveSince: null,
    trippedReason: failed ? `${result.name} ${result.violation ?? result.explanation}` : null,
  };
  return {
    ...previous,
    checks: { ...previous.checks, [result.name]: check },
    results: { ...previous.results, [result.name]: accounted },
  };
}

/**
 * The watch verdict and its reasons (DESIGN §6): the evaluator's reduction over the latest results,
 * with missed evaluations turning a pass into a warn (a watch with holes is not a clean pass).
 *
 * @example reduceWatchVerdict(watch.state, now, settings) // { verdict: 'pass', reasons: [] }
 */
export function reduceWatchVerdict(
  state: WatchState,
  at: number,
  settings: Pick<WatchSettings, 'inconclusiveLimitMs' | 'failureLimit'>,
): { verdict: VerdictValue; reasons: string[] } {
  const reduced = reduceVerdict(Object.values(state.results), state.checks, {
    at,
    inconclusiveLimitMs: settings.inconclusiveLimitMs,
    failureLimit: settings.failureLimit,
  });
  if (state.missedEvaluations === 0 || (reduced.verdict !== 'pass' && reduced.verdict !== 'warn'))
    return reduced;
  return {
    verdict: 'warn',
    reasons: [
      ...reduced.reasons,
      `${state.missedEvaluations} evaluation(s) missed (see the gap events in the timeline)`,
    ],
  };
}
