import { formatDuration } from '../config/units.js';
import {
  accountEvaluation,
  type CheckState,
  type Reduction,
  reduceVerdict,
} from '../evaluator/accounting.js';
import type { CheckResult } from '../evaluator/types.js';
import type { BlindSpan, WatchSettings, WatchState } from './types.js';

/*
 * The watch's side of DESIGN §6, pure. Failure accounting and the reduction itself are the evaluator's
 * (src/evaluator/accounting.ts, one way to do each thing); this file only adds what a watch knows and
 * a single evaluation does not: results that are final for their phase (smoke, load) and missed
 * evaluations.
 */

/** A fresh state for a new watch. */
export function emptyState(): WatchState {
  return {
    checks: {},
    results: {},
    nextEvaluation: null,
    missedEvaluations: 0,
    blind: false,
    blindSpans: [],
  };
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
    ...(settings.enforce !== undefined ? { enforce: settings.enforce } : {}),
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

/** "blind for 10h (04:00–14:00Z): error-rate: prometheus unavailable …" — one reason per span. */
export function describeBlindSpan(span: BlindSpan, at: number): string {
  const to = span.to ?? at;
  const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 16);
  const still = span.to === null ? ', still blind' : '';
  return `blind for ${formatDuration(Math.max(0, to - span.from))} (${clock(span.from)}–${clock(to)}Z${still}): ${span.reason}`;
}

/**
 * The watch verdict and its reasons (DESIGN §6): the evaluator's reduction over the latest results;
 * missed evaluations and past blind spans turn a pass into a warn while the watch runs (a watch with
 * holes is not a clean pass; at its end a blind span makes it inconclusive, see finishWatch).
 *
 * @example reduceWatchVerdict(watch.state, now, settings) // { verdict: 'pass', reasons: [], decision: null, … }
 */
export function reduceWatchVerdict(
  state: WatchState,
  at: number,
  settings: Pick<WatchSettings, 'inconclusiveLimitMs' | 'failureLimit' | 'enforce'>,
): Reduction {
  const reduced = reduceVerdict(Object.values(state.results), state.checks, {
    at,
    inconclusiveLimitMs: settings.inconclusiveLimitMs,
    failureLimit: settings.failureLimit,
    ...(settings.enforce !== undefined ? { enforce: settings.enforce } : {}),
  });
  if (reduced.verdict !== 'pass' && reduced.verdict !== 'warn') return reduced;
  const closed = (state.blindSpans ?? []).filter((span) => span.to !== null);
  const extra = [
    ...closed.map((span) => `was ${describeBlindSpan(span, at)}`),
    ...(state.missedEvaluations > 0
      ? [`${state.missedEvaluations} evaluation(s) missed (see the gap events in the timeline)`]
      : []),
  ];
  if (extra.length === 0) return reduced;
  return { ...reduced, verdict: 'warn', reasons: [...reduced.reasons, ...extra] };
}
