import type { Phase } from '../config/schema.js';
import type { CheckResult } from '../evaluator/types.js';
import type { ProbeResult } from '../prober/types.js';
import type { PhaseState, TimelineEvent, WatchRecord, WatchSettings } from './types.js';
import { describeBlindSpan, reduceWatchVerdict } from './verdict.js';

/** The settings that decide how a watch ends. */
export type EndSettings = Pick<
  WatchSettings,
  'inconclusiveLimitMs' | 'failureLimit' | 'enforce' | 'onBlind' | 'onLoadInconclusive'
>;

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
  settings: EndSettings,
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
 * Ends a watch whose phases are all done (DESIGN §6): never a clean pass it did not earn. A blind span
 * at any time, or a load phase that could not judge, ends it `inconclusive` (or `warn`, with
 * `onBlind: warn` / `loadtests.onInconclusive: warn`); otherwise `passed` with verdict pass or warn.
 */
export function finishWatch(watch: WatchRecord, at: number, settings: EndSettings): TimelineEvent[] {
  const reduced = reduceWatchVerdict(watch.state, at, settings);
  if (reduced.verdict === 'fail') return [];
  watch.endedAt = at;
  const spans = [...(watch.state.blindSpans ?? [])];
  if (reduced.blind.length > 0 && !spans.some((span) => span.to === null)) {
    // Blind only from this very instant on: no evaluation has recorded the span yet.
    spans.push({
      from: Math.min(...reduced.blind.map((b) => b.since)),
      to: null,
      checks: reduced.blind.map((b) => b.check),
      reason: reduced.blind.map((b) => `${b.check}: ${b.reason}`).join('; '),
    });
  }
  for (const span of spans) span.to ??= at;
  const blindReasons = spans.map((span) => describeBlindSpan(span, at));
  const loadCheck = Object.values(watch.state.results).find((c) => c.kind === 'load');
  const loadInconclusive = watch.phases.some((p) => p.name === 'load' && p.state === 'inconclusive');
  const loadReasons = loadInconclusive
    ? [
        `${loadCheck?.name ?? 'load'} inconclusive: ${loadCheck?.explanation ?? 'the load phase could not judge'}`,
      ]
    : [];
  const hard = [
    ...(settings.onBlind === 'warn' ? [] : blindReasons),
    ...(settings.onLoadInconclusive === 'warn' ? [] : loadReasons),
  ];
  const soft = [
    ...(settings.onBlind === 'warn' ? blindReasons : []),
    ...(settings.onLoadInconclusive === 'warn' ? loadReasons : []),
  ];
  const otherReasons = reduced.reasons.filter(
    (r) =>
      !r.startsWith('was blind for ') &&
      !(loadInconclusive && loadCheck && r.startsWith(`${loadCheck.name} `)),
  );
  // Blind-now reasons are the open span's, already in blindReasons.
  const others = reduced.verdict === 'inconclusive' ? [] : otherReasons;
  if (hard.length > 0) {
    watch.status = 'inconclusive';
    watch.verdict = 'inconclusive';
    watch.reasons = [...hard, ...soft, ...others];
  } else {
    watch.status = 'passed';
    const warned = reduced.verdict !== 'pass' || soft.length > 0;
    watch.verdict = warned ? 'warn' : 'pass';
    watch.reasons =
      reduced.verdict === 'pending' && soft.length === 0
        ? ['no checks were evaluated']
        : [...soft, ...others];
  }
  watch.state = { ...watch.state, blind: false, blindSpans: spans };
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
