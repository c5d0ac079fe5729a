import type { Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { AlertmanagerConfig } from '../config/schema.js';
import { ConfigError, type ConfigProblem } from '../errors.js';
import type { Db } from '../store/db.js';
import { type DeliveryView, listDeliveries } from '../store/outbox.js';
import { getRollback, type RollbackRecord, type RollbackTrigger } from '../store/rollbacks.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { type AlertState, createAlertState } from './alert-state.js';
import {
  actionFailedAlert,
  createAlertmanagerClient,
  type DependencyHealth,
  watchFailedAlert,
} from './alertmanager.js';
import { type BackoffOptions, createDeliveryWorker } from './delivery-worker.js';
import {
  enqueueNotification,
  enqueueRollback,
  type RollbackOutcome,
  type RollbackRequest,
} from './outbox.js';
import type { AttemptHook, EnqueuedDelivery, NotifyEvent, VerdictObject, WatchRef } from './types.js';
import { type ActionsConfig, resolveTargets, type WebhookTarget } from './webhook.js';

/** Keys under which the facade holds alerts, so the watch engine can fire and resolve the same ones. */
export const alertKeys = {
  watchFailed: (watchId: string) => `watch-failed:${watchId}`,
  blind: (watchId: string) => `blind:${watchId}`,
  held: (watchId: string) => `held:${watchId}`,
  /** A watch's violation of one of its checks. */
  slo: (sloName: string, watchId: string) => `slo:${sloName}:${watchId}`,
  /** A continuous SLO violation, outside watches: per service (SLO names repeat across a fleet). */
  serviceSlo: (service: string, sloName: string) => `slo:${service}/${sloName}`,
  actionFailed: (watchId: string, event: string) => `action-failed:${watchId}:${event}`,
};

/** VigilWatchFailed and VigilActionFailed describe events, not conditions: they resolve by themselves. */
const EVENT_ALERT_TTL_MS = 24 * 3_600_000;

/**
 * Webhook targets: one `actions` section for every service, or one per service of a fleet (each with the
 * root's defaults merged in). In a fleet of several, target keys are prefixed `<service>/`.
 */
export type FleetActions = ActionsConfig | ReadonlyMap<string, ActionsConfig>;

export interface ActionsDeps {
  db: Db;
  /** The service label when a delivery's watch is unknown (the first configured service). */
  service: string;
  actions: FleetActions;
  /** Absent or with an empty url: alerts are off. */
  alertmanager?: AlertmanagerConfig;
  clock: Clock;
  dispatcher: Dispatcher;
  logger: Logger;
  metrics: Pick<Metrics, 'webhookDeliveries' | 'alertsSent'>;
  /** `vigil/<version>`; GitHub's API refuses requests without a User-Agent. */
  userAgent: string;
  /** Every delivery attempt, for the watch timeline. */
  onAttempt?: AttemptHook;
  /** The root config file, named in config problems. */
  configFile?: string;
  backoff?: Partial<BackoffOptions>;
  pollIntervalMs?: number;
  alertTickIntervalMs?: number;
}

/** What the watch engine and the API call. All enqueue methods are synchronous and transaction-safe. */
export interface Actions {
  /**
   * Rolls a watch back, once, whichever path asks (DESIGN §6): records the decision and enqueues one
   * delivery per rollback target keyed `<watch id>:rollback`. When the watch was already rolled back,
   * enqueues nothing and returns the first rollback as `existing` (the API answers 409 naming it). Call it INSIDE the transaction that decides the rollback.
   */
  rollback(watch: WatchRef, verdict: VerdictObject, request: RollbackRequest): RollbackOutcome;
  /** The watch's rollback (when, which path, who), or undefined when it was never rolled back. */
  rollbackOf(watchId: string): RollbackRecord | undefined;
  /**
   * A watch failed on its own (a failing check; `hold-timeout`: a hold with no decision in time): its
   * rollback (through `rollback`, so a no-op when any path already rolled it back), its `watch.failed` notifications, VigilWatchFailed, and the end of its
   * condition alerts. Call it INSIDE the transaction that marks the watch failed.
   */
  onWatchFailed(
    watch: WatchRef,
    verdict: VerdictObject,
    trigger?: Exclude<RollbackTrigger, 'operator'>,
  ): EnqueuedDelivery[];
  /**
   * A lifecycle event for notify targets. Terminal events also resolve the watch's condition alerts;
   * `watch.failed` fires VigilWatchFailed too, but never a rollback: that is decided, once, in the
   * transaction that ended the watch.
   */
  onWatchEvent(event: NotifyEvent, watch: WatchRef, verdict: VerdictObject): EnqueuedDelivery[];
  /** Call when a watch is aborted or superseded: resolves its SLO and blind alerts. */
  onWatchEnded(watchId: string): void;
  alerts: AlertState;
  /**
   * SIGHUP: takes new webhook targets (and maxAge) for the next enqueues and attempts; throws
   * ConfigError and keeps the old ones when the new section is invalid. Pending deliveries are kept and
   * sent to the target of the same key. Alertmanager settings need a restart.
   */
  reload(actions: FleetActions): void;
  /** Every delivery of a watch with its attempts (for the watch API). */
  listDeliveries(watchId: string): DeliveryView[];
  /** Keys of targets that are off (empty url), for /health warnings. */
  disabledTargets(): string[];
  /** Whether an Alertmanager url is configured. */
  alertmanagerEnabled(): boolean;
  /** The `alertmanager` entry of `/health`: `disabled` without a url, else a `/-/ready` probe. */
  alertmanagerHealth(signal?: AbortSignal): Promise<DependencyHealth | { status: 'disabled' }>;
  /** Starts the delivery worker and the alert ticker. */
  start(): void;
  /** Stops both, waiting up to `deadlineMs` for deliveries in flight; the outbox stays intact. */
  stop(deadlineMs: number): Promise<void>;
  /** Sends what is due now (tests, the demo). */
  flush(): Promise<void>;
}

/**
 * Builds the actions layer: webhook targets from `actions`, the outbox worker, the Alertmanager client
 * and alert state. Throws ConfigError when a target is misconfigured (short secret, bad template).
 *
 * @example
 *   const actions = createActions({ db, service: root.service, actions: root.actions,
 *     alertmanager: root.alertmanager, clock: systemClock, dispatcher, logger, metrics, userAgent: 'vigil/0.1.0',
 *     onAttempt: (a) => watches.recordDelivery(a) });
 *   actions.start();
 *   db.transaction(() => { markFailed(watch); actions.onWatchFailed(watch, verdict); })();
 */
export function createActions(deps: ActionsDeps): Actions {
  let resolved = checkedTargets(deps.actions, deps.configFile);
  let maxAgeMs = maxAgeOf(deps.actions);
  warnDisabled(resolved.disabled, deps.logger);
  const am = deps.alertmanager;
  const client =
    am && am.url !== ''
      ? createAlertmanagerClient({ config: am, dispatcher: deps.dispatcher, userAgent: deps.userAgent })
      : null;
  const alerts = createAlertState({
    db: deps.db,
    client,
    runbookBaseUrl: am?.runbookBaseUrl ?? '',
    resendIntervalMs: am?.resendInterval ?? 60_000,
    clock: deps.clock,
    logger: deps.logger,
    metrics: deps.metrics,
    ...(deps.alertTickIntervalMs ? { tickIntervalMs: deps.alertTickIntervalMs } : {}),
  });

  function watchLabels(watchId: string | null): { service: string; version?: string } {
    if (watchId === null) return { service: deps.service };
    // The watches table belongs to the watch engine; read-only, and tolerant of it changing shape.
    try {
      const row = deps.db.prepare('SELECT service, version FROM watches WHERE id = ?').get(watchId) as
        | { service: string; version: string }
        | undefined;
      return row ?? { service: deps.service };
    } catch {
      return { service: deps.service };
    }
  }

  const worker = createDeliveryWorker({
    db: deps.db,
    targets: () => resolved.all,
    clock: deps.clock,
    dispatcher: deps.dispatcher,
    logger: deps.logger,
    metrics: deps.metrics,
    maxAgeMs: () => maxAgeMs,
    serviceOf: (watchId) => watchLabels(watchId).service,
    userAgent: deps.userAgent,
    ...(deps.backoff ? { backoff: deps.backoff } : {}),
    ...(deps.pollIntervalMs ? { pollIntervalMs: deps.pollIntervalMs } : {}),
    onAttempt(attempt) {
      if (attempt.outcome === 'delivered' && attempt.watchId) {
        alerts.resolve(alertKeys.actionFailed(attempt.watchId, attempt.event));
      }
      deps.onAttempt?.(attempt);
    },
    onGiveUp(delivery, lastError) {
      const labels = watchLabels(delivery.watchId);
      alerts.fire(
        alertKeys.actionFailed(delivery.watchId ?? delivery.id, delivery.event),
        actionFailedAlert({
          ...labels,
          event: delivery.event,
          target: delivery.target,
          ...(delivery.watchId ? { watchId: delivery.watchId } : {}),
          lastError,
        }),
        { autoResolveAt: deps.clock.now() + EVENT_ALERT_TTL_MS },
      );
    },
  });

  function endConditions(watchId: string): void {
    alerts.resolveMatching({ watch_id: watchId, alertname: 'VigilSLOViolation' });
    alerts.resolveMatching({ watch_id: watchId, alertname: 'VigilBlind' });
    alerts.resolveMatching({ watch_id: watchId, alertname: 'VigilWatchHeld' });
  }

  const input = (watch: WatchRef, verdict: VerdictObject) => ({
    targets: resolved.of(watch.service),
    watch,
    verdict,
    clock: deps.clock,
  });

  /** `watch.failed` for notify targets, VigilWatchFailed, and the end of the watch's condition alerts. */
  function announceFailure(watch: WatchRef, verdict: VerdictObject): EnqueuedDelivery[] {
    const deliveries = enqueueNotification(deps.db, input(watch, verdict), 'watch.failed');
    endConditions(watch.id);
    // A newer watch of the service, or a day, resolves it (see onWatchEvent('watch.started')).
    alerts.fire(alertKeys.watchFailed(watch.id), watchFailedAlert(verdict), {
      autoResolveAt: deps.clock.now() + EVENT_ALERT_TTL_MS,
    });
    return deliveries;
  }

  function rollback(watch: WatchRef, verdict: VerdictObject, request: RollbackRequest): RollbackOutcome {
    const outcome = enqueueRollback(deps.db, input(watch, verdict), request);
    if (outcome.enqueued > 0) worker.wake();
    return outcome;
  }

  return {
    rollback,
    rollbackOf: (watchId) => getRollback(deps.db, watchId),
    onWatchFailed(watch, verdict, trigger = 'automatic') {
      const deliveries = deps.db.transaction(() => [
        ...rollback(watch, verdict, { trigger }).deliveries,
        ...announceFailure(watch, verdict),
      ])();
      worker.wake();
      return deliveries;
    },
    onWatchEvent(event, watch, verdict) {
      if (event === 'watch.failed') {
        const deliveries = announceFailure(watch, verdict);
        worker.wake();
        return deliveries;
      }
      const deliveries = enqueueNotification(deps.db, input(watch, verdict), event);
      if (event === 'watch.started') {
        alerts.resolveMatching({ service: watch.service, alertname: 'VigilWatchFailed' });
      }
      if (event === 'watch.passed' || event === 'watch.inconclusive') endConditions(watch.id);
      worker.wake();
      return deliveries;
    },
    onWatchEnded: endConditions,
    alerts,
    reload(actions) {
      const next = checkedTargets(actions, deps.configFile);
      resolved = next;
      maxAgeMs = maxAgeOf(actions);
      warnDisabled(next.disabled, deps.logger);
    },
    listDeliveries: (watchId) => listDeliveries(deps.db, watchId),
    disabledTargets: () => [...resolved.disabled],
    alertmanagerEnabled: () => client !== null,
    alertmanagerHealth: async (signal) => (client ? client.health(signal) : { status: 'disabled' }),
    start() {
      worker.start();
      alerts.start();
    },
    async stop(deadlineMs) {
      await Promise.all([worker.stop(deadlineMs), alerts.stop()]);
    },
    async flush() {
      await worker.runDue();
      await alerts.tick();
    },
  };
}

/** The targets of every service, and each service's own. */
interface FleetTargets {
  all: WebhookTarget[];
  disabled: string[];
  of(service: string): WebhookTarget[];
}

/**
 * Resolves every service's targets, or throws one ConfigError with all their problems (paths under
 * `services.<name>.` in a fleet of several; a problem inherited from the root shows once per service).
 */
function checkedTargets(actions: FleetActions, configFile = 'vigil.yaml'): FleetTargets {
  const sections: [string | undefined, ActionsConfig][] =
    actions instanceof Map ? [...actions.entries()] : [[undefined, actions as ActionsConfig]];
  const prefixed = sections.length > 1;
  const byService = new Map<string | undefined, WebhookTarget[]>();
  const all: WebhookTarget[] = [];
  const disabled: string[] = [];
  const problems: ConfigProblem[] = [];
  for (const [service, section] of sections) {
    const resolved = resolveTargets(section);
    const prefix = prefixed && service !== undefined ? service : undefined;
    for (const p of resolved.problems)
      problems.push({
        file: configFile,
        path: prefix ? `services.${prefix}.${p.path}` : p.path,
        message: p.message,
      });
    const targets = resolved.targets.map((t) => (prefix ? { ...t, key: `${prefix}/${t.key}` } : t));
    byService.set(service, targets);
    all.push(...targets);
    disabled.push(...resolved.disabled.map((key) => (prefix ? `${prefix}/${key}` : key)));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const shared = actions instanceof Map ? undefined : byService.get(undefined);
  return { all, disabled, of: (service) => shared ?? byService.get(service) ?? [] };
}

/** How long a delivery is retried: the longest `maxAge` of any service (one worker sends them all). */
function maxAgeOf(actions: FleetActions): number {
  if (!(actions instanceof Map)) return (actions as ActionsConfig).maxAge;
  return Math.max(0, ...[...actions.values()].map((a) => a.maxAge));
}

function warnDisabled(disabled: readonly string[], logger: Logger): void {
  for (const key of disabled) logger.warn({ target: key }, 'webhook target has an empty url: it is off');
}

export type { RollbackRecord, RollbackTrigger } from '../store/rollbacks.js';
export type { RollbackOutcome, RollbackRequest } from './outbox.js';
export { signPayload, verifySignature } from './sign.js';
export type {
  ActionEvent,
  DeliveryAttemptEvent,
  EnqueuedDelivery,
  ManualTrigger,
  NotifyEvent,
  VerdictObject,
  WatchRef,
} from './types.js';
export { resolveTargets } from './webhook.js';
