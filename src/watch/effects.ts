import { errorMessage } from '../errors.js';
import type { Db } from '../store/db.js';
import { type Metrics, setOneHot } from '../telemetry/metrics.js';
import { closePhases } from './overrides.js';
import {
  PHASE_ORDER,
  type TimelineEvent,
  VERDICT_VALUES,
  type WatchAlert,
  type WatchDeps,
  type WatchEventName,
  type WatchRecord,
  type WatchSettings,
} from './types.js';
import { reduceWatchVerdict } from './verdict.js';
import { toVerdict } from './view.js';

/**
 * Inside the transaction of a change: reduces the verdict of a running watch, ends it as failed when a
 * check tripped, flags blindness, and fires the rollback hook exactly once when the watch just failed
 * (not for an operator's rollback, which has its own hook).
 *
 * @example events.push(...settleWatch(watch, before, now, settings, deps, db));
 */
export function settleWatch(
  watch: WatchRecord,
  before: WatchRecord,
  now: number,
  settings: Pick<WatchSettings, 'inconclusiveLimitMs' | 'failureLimit'>,
  deps: Pick<WatchDeps, 'onFailed'>,
  tx: Db,
): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  if (watch.status === 'running') {
    const reduced = reduceWatchVerdict(watch.state, now, settings);
    watch.verdict = reduced.verdict;
    watch.reasons = reduced.reasons;
    if (reduced.verdict === 'fail') {
      watch.status = 'failed';
      watch.endedAt = now;
      closePhases(watch, 'failed', now, 'watch failed');
      events.push({ at: now, type: 'ended', message: `watch failed: ${reduced.reasons.join('; ')}` });
    } else if ((reduced.verdict === 'inconclusive') !== watch.state.blind) {
      const blind = reduced.verdict === 'inconclusive';
      watch.state = { ...watch.state, blind };
      events.push({
        at: now,
        type: 'blind',
        message: blind ? `blind: ${reduced.reasons.join('; ')}` : 'no longer blind: checks have data again',
      });
    }
  }
  const justFailed = before.status === 'running' && watch.status === 'failed';
  if (justFailed && watch.state.override?.action !== 'rollback') {
    if (deps.onFailed) {
      const targets = deps.onFailed(tx, { ...toVerdict(watch), updatedAt: new Date(now).toISOString() });
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
  if (before?.status === 'running' && after.status !== 'running') {
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
  const ended = before?.status === 'running' && after.status !== 'running';
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
