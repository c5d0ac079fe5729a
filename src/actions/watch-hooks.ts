import type { Clock } from '../clock.js';
import type { TimelineEvent, WatchDeps } from '../watch/types.js';
import { blindAlert, watchFailedAlert } from './alertmanager.js';
import { type Actions, alertKeys } from './index.js';
import type { DeliveryAttemptEvent } from './types.js';

/** VigilWatchFailed describes an event, not a condition: it resolves by itself after a day. */
const WATCH_FAILED_TTL_MS = 24 * 3_600_000;

/**
 * Plugs the actions layer into the watch engine's `WatchDeps` hooks: the rollback enqueue inside the
 * transaction that marks the watch failed, manual rollbacks inside the override's transaction,
 * notifications after commit, and the watch's own alerts (VigilBlind, VigilWatchFailed).
 * Every hook is idempotent, so a replayed failure or event after a restart sends nothing twice.
 *
 * @example
 *   const watches = new WatchManager({ db, clock, logger, metrics, ..., ...createWatchHooks(actions, clock) }, settings);
 */
export function createWatchHooks(
  actions: Actions,
  clock: Clock,
): Required<Pick<WatchDeps, 'onFailed' | 'manualRollback' | 'onEvent' | 'alerts'>> {
  return {
    // `tx` is the same better-sqlite3 connection as the actions' db, so these writes join its transaction.
    onFailed: (_tx, watch) =>
      actions.onWatchFailed(watch, watch).filter((d) => d.event === 'rollback').length,
    manualRollback: (_tx, watch, request) => {
      actions.manualRollback(watch, watch, request);
    },
    onEvent: (event, watch) => {
      actions.onWatchEvent(event, watch, watch);
    },
    alerts: {
      fire(alert) {
        const { watch } = alert;
        if (alert.alertname === 'VigilWatchFailed') {
          // Same content as onWatchFailed fires, so this upsert changes nothing and re-sends nothing.
          actions.alerts.fire(alertKeys.watchFailed(watch.id), watchFailedAlert(watch), {
            autoResolveAt: clock.now() + WATCH_FAILED_TTL_MS,
          });
        } else {
          actions.alerts.fire(alertKeys.blind(watch.id), {
            ...blindAlert(watch),
            ...(alert.description ? { description: alert.description } : {}),
          });
        }
      },
      resolve(alert) {
        const key =
          alert.alertname === 'VigilWatchFailed'
            ? alertKeys.watchFailed(alert.watch.id)
            : alertKeys.blind(alert.watch.id);
        actions.alerts.resolve(key);
      },
    },
  };
}

/**
 * A delivery attempt as a watch timeline event (`type: 'action'`), for the `onAttempt` hook.
 *
 * @example onAttempt: (a) => a.watchId && watchStore.appendEvent(a.watchId, deliveryTimelineEvent(a))
 */
export function deliveryTimelineEvent(attempt: DeliveryAttemptEvent): TimelineEvent {
  const what = `${attempt.manual ? 'manual ' : ''}${attempt.event}${attempt.dryRun ? ' (dry run)' : ''} → ${attempt.target}`;
  const how = attempt.statusCode !== null ? `HTTP ${attempt.statusCode}` : (attempt.error ?? 'not sent');
  const message =
    attempt.outcome === 'delivered'
      ? `${what} delivered (attempt ${attempt.attempt}, ${attempt.statusCode !== null ? how : 'dry run: not sent'})`
      : attempt.outcome === 'retrying'
        ? `${what} attempt ${attempt.attempt} failed (${how}); retrying at ${new Date(attempt.nextAttemptAt ?? attempt.at).toISOString()}`
        : `${what} given up after ${attempt.attempt} attempts (${how})`;
  return {
    at: attempt.at,
    type: 'action',
    message,
    data: {
      delivery: {
        id: attempt.deliveryId,
        event: attempt.event,
        target: attempt.target,
        attempt: attempt.attempt,
        outcome: attempt.outcome,
        statusCode: attempt.statusCode,
        latencyMs: Math.round(attempt.latencyMs * 10) / 10,
        error: attempt.error,
        dryRun: attempt.dryRun,
        manual: attempt.manual,
      },
    },
  };
}
