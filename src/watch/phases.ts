import type { Phase } from '../config/schema.js';
import type { CheckResult } from '../evaluator/types.js';
import type { ProbeResult } from '../prober/types.js';
import type { PhaseState, TimelineEvent, WatchRecord, WatchSettings } from './types.js';
import { reduceWatchVerdict } from './verdict.js';

/*
 * Pure transitions of a stored watch: start a phase, end it (starting the next one in the same step so a
 * reader never sees a watch between phases), finish the watch. They mutate the record in place and
 * return the timeline events to append; the manager persists both in one transaction.
 */

/** Evaluation numbers for results that are not bake evaluations (UNIQUE key of check_results). */
export const SMOKE_EVALUATION = -1;
export const LOAD_EVALUATION = -2;

/** Marks `name` running and makes it the watch's phase. */
export function beginPhase(watch: WatchRecord, name: Phase, at: number): TimelineEvent[] {
  const phase = watch.phases.find((p) => p.name === name);
  if (!phase) return [];
  phase.state = 'running';
  phase.startedAt = at;
  phase.endedAt = null;
  watch.phase = name;
  return [{ at, type: 'phase', message: `${name} phase started`, data: { phase: name } }];
}

/**
 * Ends the running phase with `state`, then starts the next pending phase, or finishes the watch when
 * none is left.
 */
export function endPhase(
  watch: WatchRecord,
  state: PhaseState,
  at: number,
  settings: Pick<WatchSettings, 'inconclusiveLimitMs' | 'failureLimit'>,
  reason?: string,
): TimelineEvent[] {
  const phase = watch.phases.find((p) => p.state === 'running');
  if (!phase) return [];
  phase.state = state;
  phase.endedAt = at;
  if (reason) phase.reason = reason;
  const events: TimelineEvent[] = [
    {
      at,
      type: 'phase',
      message: `${phase.name} phase ${state}${reason ? `: ${reason}` : ''}`,
      data: { phase: phase.name, state },
    },
  ];
  if (state === 'failed') return events;
  const next = watch.phases.find((p) => p.state === 'pending');
  if (next) return [...events, ...beginPhase(watch, next.name, at)];
  return [...events, ...finishWatch(watch, at, settings)];
}

/**
 * Ends a watch whose phases are all done: `inconclusive` when it is blind at the end, otherwise
 * `passed` with verdict pass or warn.
 */
export function finishWatch(
  watch: WatchRecord,
  at: number,
  settings: Pick<WatchSettings, 'inconclusiveLimitMs' | 'failureLimit'>,
): TimelineEvent[] {
  const reduced = reduceWatchVerdict(watch.state, at, settings);
  if (reduced.verdict === 'fail') return [];
  watch.endedAt = at;
  if (reduced.verdict === 'inconclusive') {
    watch.status = 'inconclusive';
    watch.verdict = 'inconclusive';
    watch.reasons = reduced.reasons;
  } else {
    watch.status = 'passed';
    watch.verdict = reduced.verdict === 'pending' ? 'warn' : reduced.verdict;
    watch.reasons = reduced.verdict === 'pending' ? ['no checks were evaluated'] : reduced.reasons;
  }
  return [
    {
      at,
      type: 'ended',
      message: `watch ${watch.status} (verdict ${watch.verdict})${watch.reasons.length ? `: ${watch.reasons.join('; ')}` : ''}`,
      data: { status: watch.status, verdict: watch.verdict },
    },
  ];
}

/** A smoke probe run as a check of the verdict, named `smoke:<probe>`. */
export function smokeCheck(
  result: ProbeResult,
  outcome: CheckResult['result'],
  explanation: string,
): CheckResult {
  return {
    name: `smoke:${result.probe}`,
    kind: 'probe',
    result: outcome,
    value: result.durationMs,
    objective: null,
    baseline: null,
    samples: result.attempts ?? 1,
    query: null,
    explanation,
    consecutiveFailures: 0,
    evaluatedAt: result.startedAt,
  };
}

/** Why a smoke probe failed, with its numbers. */
export function describeProbeFailure(result: ProbeResult): string {
  const failed = result.assertions
    .filter((a) => !a.passed)
    .map((a) => `${a.description} (actual ${String(a.actual)})`);
  const cause = result.failure ? `${result.failure.class}: ${result.failure.message}` : 'failed';
  return failed.length > 0 && result.failure?.class === 'assertion' ? failed.join(', ') : cause;
}

/** A check for a phase that could not produce a result (a runner that threw). */
export function inconclusiveCheck(
  name: string,
  kind: CheckResult['kind'],
  at: number,
  explanation: string,
): CheckResult {
  return {
    name,
    kind,
    result: 'inconclusive',
    value: null,
    objective: null,
    baseline: null,
    samples: null,
    query: null,
    explanation,
    consecutiveFailures: 0,
    evaluatedAt: new Date(at).toISOString(),
  };
}
