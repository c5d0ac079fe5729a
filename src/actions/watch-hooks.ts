import type { Clock } from '../clock.js';
import type { TimelineEvent, WatchAlert, WatchDeps } from '../watch/types.js';
import {
  blindAlert,
  sloViolationAlert,
  type VigilAlert,
  watchFailedAlert,
  watchHeldAlert,
} from './alertmanager.js';
import { type Actions, alertKeys } from './index.js';
import type { DeliveryAttemptEvent } from './types.js';

/** VigilWatchFailed describes an event, not a condition: it resolves by itself after a day. */
const WATCH_FAILED_TTL_MS = 24 * 3_600_000;

/** How each alert a watch raises is keyed and worded; `satisfies` makes a new alertname a compile error. */
const WATCH_ALERTS = {
  VigilWatchFailed: {
    key: (a) => alertKeys.watchFailed(a.watch.id),
    // Same content as onWatchFailed fires, so this upsert changes nothing and re-sends nothing.
    content: (a) => watchFailedAlert(a.watch),
  },
  VigilBlind: {
    key: (a) => alertKeys.blind(a.watch.id),
    content: (a) => ({ ...blindAlert(a.watch), ...(a.description ? { description: a.description } : {}) }),
  },
  VigilWatchHeld: {
    key: (a) => alertKeys.held(a.watch.id),
    content: (a) => ({
      ...watchHeldAlert(a.watch),
      ...(a.description ? { description: a.description } : {}),
    }),
  },
  // An `enforce: alert` check of a watch: value, objective and baseline from its latest result.
  VigilSLOViolation: {
    key: (a) => alertKeys.slo(a.check ?? 'unknown', a.watch.id),
    content: (a) => {
      const check = a.watch.checks.find((c) => c.name === a.check);
      const context = {
        service: a.watch.service,
        severity: check?.critical ? 'page' : 'ticket',
        watchId: a.watch.id,
        version: a.watch.version,
      } as const;
      return check
        ? sloViolationAlert(check, context)
        : {
            alertname: 'VigilSLOViolation',
            ...context,
            slo: a.check ?? 'unknown',
            summary: a.summary,
            description: a.description,
          };
    },
  },
} satisfies Record<
  WatchAlert['alertname'],
  { key: (alert: WatchAlert) => string; content: (alert: WatchAlert) => VigilAlert }
>;

/**
 * Plugs the actions layer into the watch engine's `WatchDeps` hooks: the rollback of a watch that failed
 * (a failing check, or a hold that timed out) inside the transaction that marks it failed, an operator's
 * rollback inside the override's transaction, notifications after commit, and the watch's own alerts
 * (VigilBlind, VigilWatchFailed, VigilWatchHeld, and VigilSLOViolation for `enforce: alert` checks).
 * Both rollback hooks go through `actions.rollback`, so a watch rolls back once, keyed
 * `<watch id>:rollback`, whichever path asks first; the `watch.failed` event never enqueues a rollback.
 * Every hook is idempotent, so a replayed failure or event after a restart sends nothing twice.
 *
 * @example
 *   const watches = new WatchManager({ store, clock, logger, metrics, ..., ...createWatchHooks(actions, clock) }, settings);
 */
export function createWatchHooks(
  actions: Actions,
  clock: Clock,
): Required<Pick<WatchDeps, 'onFailed' | 'manualRollback' | 'onEvent' | 'alerts'>> {
  return {
    // In the engine's transaction: the rollback and the watch.failed rows commit with the failure, or neither.
    // Returns the number of rollback targets (of the first rollback, when the watch already had one).
    onFailed: async (tx, watch, trigger) =>
      (await actions.onWatchFailed(tx, watch, watch, trigger ?? 'automatic')).filter(
        (d) => d.event === 'rollback',
      ).length,
    // Returns the RollbackOutcome (`existing` when the watch already had its rollback), for an engine
    // that wants to answer 409 from the actions' record; the WatchDeps signature may ignore it.
    manualRollback: (tx, watch, request) =>
      actions.rollback(tx, watch, watch, { trigger: 'operator', who: request.who, reason: request.reason }),
    onEvent: (event, watch) => {
      // After commit, fire-and-forget: onWatchEvent logs its own failure; settled() waits for it.
      actions.onWatchEvent(event, watch, watch).catch(() => undefined);
    },
    alerts: {
      fire(alert) {
        const kind = WATCH_ALERTS[alert.alertname];
        actions.alerts.fire(
          kind.key(alert),
          kind.content(alert),
          alert.alertname === 'VigilWatchFailed'
            ? { autoResolveAt: clock.now() + WATCH_FAILED_TTL_MS }
            : undefined,
        );
      },
      resolve(alert) {
        actions.alerts.resolve(WATCH_ALERTS[alert.alertname].key(alert));
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
