import type { OverrideAction, PhaseState, TimelineEvent, WatchRecord } from './types.js';

/** Who asked for an override and why (recorded in the timeline). */
export interface OverrideRequest {
  who: string;
  reason: string;
}

/**
 * Applies an operator override to a stored watch, in place. `abort` and `promote` need a running or
 * held watch; `rollback` is allowed on any watch (an operator may roll back a watch that already
 * passed), and ends a running or held one as failed. The manager refuses a second rollback.
 *
 * @example applyOverride(watch, 'promote', { who: 'token holder (10.0.0.7)', reason: 'manual QA ok' }, Date.now())
 */
export function applyOverride(
  watch: WatchRecord,
  action: OverrideAction,
  request: OverrideRequest,
  at: number,
): { ok: true; events: TimelineEvent[] } | { ok: false; message: string } {
  // A held watch waits for exactly this: an operator's promote or rollback (abort works too).
  const running = watch.status === 'running' || watch.status === 'held';
  if (!running && action !== 'rollback') {
    return {
      ok: false,
      message: `watch ${watch.id} already ended (${watch.status}); ${action} needs a running or held watch`,
    };
  }
  const events: TimelineEvent[] = [
    {
      at,
      type: 'override',
      message: `${action} by ${request.who}: ${request.reason}`,
      data: { action, who: request.who, reason: request.reason },
    },
  ];
  if (!running) return { ok: true, events };
  const { held: _answered, ...state } = watch.state;
  watch.state = { ...state, override: { action, ...request } };
  watch.endedAt = at;
  if (action === 'abort') {
    watch.status = 'aborted';
    watch.reasons = [`aborted by ${request.who}: ${request.reason}`, ...watch.reasons];
    closePhases(watch, 'aborted', at, 'aborted by an operator');
  } else if (action === 'promote') {
    watch.status = 'passed';
    watch.verdict = watch.verdict === 'pass' ? 'pass' : 'warn';
    watch.reasons = [`promoted by ${request.who}: ${request.reason}`, ...watch.reasons];
    closePhases(watch, 'passed', at, 'promoted by an operator');
  } else {
    watch.status = 'failed';
    watch.verdict = 'fail';
    watch.reasons = [`rolled back by ${request.who}: ${request.reason}`, ...watch.reasons];
    closePhases(watch, 'aborted', at, 'rolled back by an operator');
  }
  events.push({
    at,
    type: 'ended',
    message: `watch ${watch.status} by ${action}`,
    data: { status: watch.status },
  });
  return { ok: true, events };
}

/** Ends the running phase with `state` and marks phases that never started as skipped. */
export function closePhases(watch: WatchRecord, state: PhaseState, at: number, reason: string): void {
  for (const phase of watch.phases) {
    if (phase.state === 'running') {
      phase.state = state;
      phase.endedAt = at;
      phase.reason ??= reason;
    } else if (phase.state === 'pending') {
      phase.state = 'skipped';
      phase.reason = reason;
    }
  }
}
