import { errorMessage } from '../errors.js';
import type { BlindCheck } from '../evaluator/accounting.js';
import type { StoreTx } from '../store/port.js';
import { type Metrics, setOneHot } from '../telemetry/metrics.js';
import { closePhases } from './overrides.js';
import {
  type BlindSpan,
  PHASE_ORDER,
  type TimelineEvent,
  VERDICT_VALUES,
  type WatchAlert,
  type WatchDeps,
  type WatchEventName,
  type WatchRecord,
  type WatchSettings,
} from './types.js';
import { describeBlindSpan, reduceWatchVerdict } from './verdict.js';

const DEFAULT_HOLD_TIMEOUT_MS = 30 * 60_000;

import { toVerdict } from './view.js';

/** Running or held: the watch is still deciding (held waits for an operator or its hold timeout). */
export function isActive(status: WatchRecord['status']): boolean {
  return status === 'running' || status === 'held';
}

/**
 * Opens, extends or closes the watch's blind span from the checks that are blind now (DESIGN §6: every
 * span is kept, with its checks and why). Returns the timeline events of an opening or a closing.
 */
function trackBlindness(watch: WatchRecord, blind: readonly BlindCheck[], now: number): TimelineEvent[] {
  const spans = [...(watch.state.blindSpans ?? [])];
  const open = spans.at(-1)?.to === null ? spans.at(-1) : undefined;
  const describe = (b: BlindCheck): string => `${b.check}: ${b.reason}`;
  if (blind.length > 0 && !open) {
    const span: BlindSpan = {
      from: Math.min(...blind.map((b) => b.since)),
      to: null,
      checks: blind.map((b) => b.check),
      reason: blind.map(describe).join('; '),
    };
    watch.state = { ...watch.state, blind: true, blindSpans: [...spans, span] };
    return [
      {
        at: now,
        type: 'blind',
        message: `blind since ${new Date(span.from).toISOString()}: ${span.reason}`,
        data: { from: new Date(span.from).toISOString(), checks: span.checks },
      },
    ];
  }
  if (blind.length > 0 && open) {
    const added = blind.filter((b) => !open.checks.includes(b.check));
    if (added.length > 0) {
      const widened = {
        ...open,
        checks: [...open.checks, ...added.map((b) => b.check)],
        reason: [open.reason, ...added.map(describe)].join('; '),
      };
      watch.state = { ...watch.state, blind: true, blindSpans: [...spans.slice(0, -1), widened] };
    }
    return [];
  }
  if (open) {
    const closed = { ...open, to: now };
    watch.state = { ...watch.state, blind: false, blindSpans: [...spans.slice(0, -1), closed] };
    return [
      {
        at: now,
        type: 'blind',
        message: `no longer blind: checks have data again after ${describeBlindSpan(closed, now)}`,
        data: {
          from: new Date(closed.from).toISOString(),
          to: new Date(now).toISOString(),
          checks: closed.checks,
        },
      },
    ];
  }
  return [];
}

/**
 * Inside the transaction of a change: reduces the verdict of a running watch, records blindness, ends
 * it as failed when a `rollback` check tripped or holds it when a `hold` check did, and fires the
 * rollback hook exactly once when the watch just failed — unless the watch already has its rollback
 * (an operator's), since one watch rolls back once whatever path decided it.
 *
 * @example events.push(...(await settleWatch(watch, before, now, settings, deps, tx)));
 */
export async function settleWatch(
  watch: WatchRecord,
  before: WatchRecord,
  now: number,
  settings: Pick<
    WatchSettings,
    'inconclusiveLimitMs' | 'failureLimit' | 'enforce' | 'holdTimeoutMs' | 'onHoldTimeout'
  >,
  deps: Pick<WatchDeps, 'onFailed'>,
  tx: StoreTx,
): Promise<TimelineEvent[]> {
  const events: TimelineEvent[] = [];
  if (watch.status === 'running') {
    let reduced = reduceWatchVerdict(watch.state, now, settings);
    const blindness = trackBlindness(watch, reduced.blind, now);
    // A span that just closed is part of this very verdict ("was blind for …"), not the next one's.
    if (blindness.length > 0) reduced = reduceWatchVerdict(watch.state, now, settings);
    events.push(...blindness);
    watch.verdict = reduced.verdict;
    watch.reasons = reduced.reasons;
    if (reduced.decision === 'rollback') {
      watch.status = 'failed';
      watch.endedAt = now;
      closePhases(watch, 'failed', now, 'watch failed');
      events.push({
        at: now,
        type: 'ended',
        message: `watch failed: ${reduced.reasons.join('; ')}`,
        data: { status: 'failed' },
      });
    } else if (reduced.decision === 'hold') {
      const holdMs = settings.holdTimeoutMs ?? DEFAULT_HOLD_TIMEOUT_MS;
      const until = now + holdMs;
      watch.status = 'held';
      watch.state = { ...watch.state, held: { since: now, until, reasons: reduced.reasons } };
      events.push({
        at: now,
        type: 'held',
        message:
          `held for a decision: ${reduced.reasons.join('; ')}. Promote or roll back ` +
          `(vigil watch promote|rollback ${watch.id}); with no decision by ${new Date(until).toISOString()}: ` +
          `${settings.onHoldTimeout ?? 'rollback'}`,
        data: { until: new Date(until).toISOString() },
      });
    }
  }
  const justFailed = isActive(before.status) && watch.status === 'failed';
  if (justFailed && !watch.state.rollback) {
    const trigger = before.status === 'held' ? 'hold-timeout' : 'automatic';
    watch.state = {
      ...watch.state,
      rollback: { at: now, trigger, reason: watch.reasons.join('; ') || 'watch failed' },
    };
    if (deps.onFailed) {
      const targets = await deps.onFailed(
        tx,
        { ...toVerdict(watch), updatedAt: new Date(now).toISOString() },
        trigger,
      );
      const message =
        targets === undefined
          ? 'rollback actions enqueued'
          : targets === 0
            ? 'watch failed; no rollback target configured (actions.rollback), nothing rolls back on its own'
            : `rollback webhook enqueued for ${targets} target${targets === 1 ? '' : 's'}`;
      events.push({ at: now, type: 'action', message });
    } else {
      events.push({ at: now, type: 'action', message: 'watch failed; no actions configured' });
    }
  }
  return events;
}

/** The §8 watch metrics after a committed change: one-hot verdict and phase, and the end counter. */
export function publishWatchMetrics(
  metrics: Metrics,
  before: WatchRecord | undefined,
  after: WatchRecord,
): void {
  const labels = { service: after.service, version: after.version };
  setOneHot(metrics.watchVerdict, labels, 'verdict', VERDICT_VALUES, after.verdict);
  setOneHot(metrics.watchPhase, labels, 'phase', PHASE_ORDER, after.status === 'running' ? after.phase : '');
  if (before && isActive(before.status) && !isActive(after.status)) {
    metrics.watchesTotal.inc({ service: after.service, result: after.status });
  }
}

/** Drops the series of a superseded version, so `version` labels stay bounded (one live version per service). */
export function forgetWatchSeries(metrics: Metrics, watch: Pick<WatchRecord, 'service' | 'version'>): void {
  const labels = { service: watch.service, version: watch.version };
  for (const verdict of VERDICT_VALUES) metrics.watchVerdict.remove({ ...labels, verdict });
  for (const phase of PHASE_ORDER) metrics.watchPhase.remove({ ...labels, phase });
}

const END_EVENTS: Partial<Record<WatchRecord['status'], WatchEventName>> = {
  passed: 'watch.passed',
  failed: 'watch.failed',
  inconclusive: 'watch.inconclusive',
};

/**
 * After a committed change: notification events (started, phase, passed/failed/inconclusive) and the
 * watch's own alerts (VigilBlind while blind, VigilWatchFailed on failure). Errors are logged, never
 * thrown: the change is already stored.
 *
 * @example publishWatchEffects(deps, before, after)
 */
export function publishWatchEffects(
  deps: Pick<WatchDeps, 'onEvent' | 'alerts' | 'logger' | 'onEnded'>,
  before: WatchRecord | undefined,
  after: WatchRecord,
): void {
  const verdict = toVerdict(after);
  const guard = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (error) {
      deps.logger.error({ watchId: after.id, err: errorMessage(error) }, `${what} failed`);
    }
  };
  const notify = (event: WatchEventName): void => guard(event, () => deps.onEvent?.(event, verdict));
  const ended = before !== undefined && isActive(before.status) && !isActive(after.status);
  const log = deps.logger.child({ watchId: after.id, service: after.service, version: after.version });
  if (!before) log.info({ previousVersion: after.previousVersion }, 'watch started');
  else if (after.status === 'running' && before.phase !== after.phase)
    log.info({ phase: after.phase }, 'watch phase');
  if (ended) {
    const level = after.status === 'failed' || after.status === 'inconclusive' ? 'warn' : 'info';
    log[level]({ status: after.status, verdict: after.verdict, reasons: after.reasons }, 'watch ended');
  }
  if (!before) notify('watch.started');
  else if (after.status === 'running' && before.phase !== after.phase) notify('watch.phase');
  const endEvent = END_EVENTS[after.status];
  if (ended && endEvent) notify(endEvent);
  if (ended) guard('onEnded', () => deps.onEnded?.(verdict));

  const alerts = deps.alerts;
  if (!alerts || !before) return;
  // enforce: alert — a check that just tripped pages, and the watch goes on (warn).
  for (const [name, state] of Object.entries(after.state.checks)) {
    const result = after.state.results[name];
    if (!state.trippedReason || before.state.checks[name]?.trippedReason || result?.enforce !== 'alert')
      continue;
    const reason = state.trippedReason;
    guard('VigilSLOViolation alert', () =>
      alerts.fire({
        alertname: 'VigilSLOViolation',
        watch: verdict,
        check: name,
        summary: `${name} failing on ${after.service} ${after.version} (enforce: alert, no rollback)`,
        description: reason,
      }),
    );
  }
  const heldAlert = (): WatchAlert => ({
    alertname: 'VigilWatchHeld',
    watch: verdict,
    summary: `watch of ${after.service} ${after.version} is held for a decision`,
    description: (after.state.held?.reasons ?? before.state.held?.reasons ?? []).join('; '),
  });
  if (after.status === 'held' && before.status !== 'held')
    guard('VigilWatchHeld alert', () => alerts.fire(heldAlert()));
  if (before.status === 'held' && after.status !== 'held')
    guard('VigilWatchHeld resolve', () => alerts.resolve(heldAlert()));
  const wasBlind = before.state.blind && before.status === 'running';
  const isBlind = after.state.blind && after.status === 'running';
  const blindAlert = (): WatchAlert => ({
    alertname: 'VigilBlind',
    watch: verdict,
    summary: `Vigil is blind on ${after.service} ${after.version}`,
    description: (isBlind ? after.reasons : before.reasons).join('; '),
  });
  if (isBlind && !wasBlind) guard('VigilBlind alert', () => alerts.fire(blindAlert()));
  if (wasBlind && !isBlind) guard('VigilBlind resolve', () => alerts.resolve(blindAlert()));
  if (ended && after.status === 'failed') {
    guard('VigilWatchFailed alert', () =>
      alerts.fire({
        alertname: 'VigilWatchFailed',
        watch: verdict,
        summary: `watch of ${after.service} ${after.version} failed`,
        description: after.reasons.join('; '),
      }),
    );
  }
}
