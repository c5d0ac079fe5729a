import { setTimeout as delay } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { AlertmanagerConfig } from '../config/schema.js';
import { ConfigError, type ConfigProblem, errorMessage } from '../errors.js';
import type {
  DeliveryView,
  RollbackRecord,
  StoredRollbackTrigger as RollbackTrigger,
  Store,
  StoreTx,
} from '../store/port.js';
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
  store: Store;
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

/**
 * What the watch engine, the API and the daemon call. Rollbacks and failures write inside the caller's
 * transaction; every committed enqueue wakes this replica's worker and is told to the other replicas
 * (`store.publish({ kind: 'outbox' })`), whose daemon calls `wake()` on the leader.
 */
export interface Actions {
  /**
   * Rolls a watch back, once, whichever path asks (DESIGN §6): records the decision and enqueues one
   * delivery per rollback target keyed `<watch id>:rollback`. When the watch was already rolled back,
   * enqueues nothing and returns the first rollback as `existing` (the API answers 409 naming it). Call
   * it INSIDE the transaction that decides the rollback: a transaction that rolls back leaves no row and
   * wakes nobody.
   */
  rollback(
    tx: StoreTx,
    watch: WatchRef,
    verdict: VerdictObject,
    request: RollbackRequest,
  ): Promise<RollbackOutcome>;
  /** The watch's rollback (when, which path, who), or undefined when it was never rolled back. */
  rollbackOf(watchId: string): Promise<RollbackRecord | undefined>;
  /**
   * A watch failed on its own (a failing check; `hold-timeout`: a hold with no decision in time): its
   * rollback (through `rollback`, so a no-op when any path already rolled it back), its `watch.failed`
   * notifications, and once committed VigilWatchFailed and the end of its condition alerts. Call it
   * INSIDE the transaction that marks the watch failed.
   */
  onWatchFailed(
    tx: StoreTx,
    watch: WatchRef,
    verdict: VerdictObject,
    trigger?: Exclude<RollbackTrigger, 'operator'>,
  ): Promise<EnqueuedDelivery[]>;
  /**
   * A lifecycle event for notify targets, after the commit that made it (its own transaction). Terminal
   * events also resolve the watch's condition alerts; `watch.failed` fires VigilWatchFailed too, but
   * never a rollback: that is decided, once, in the transaction that ended the watch. The alert writes
   * are queued at the call; a failed enqueue is logged and rejects.
   */
  onWatchEvent(event: NotifyEvent, watch: WatchRef, verdict: VerdictObject): Promise<EnqueuedDelivery[]>;
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
  listDeliveries(watchId: string): Promise<DeliveryView[]>;
  /** Keys of targets that are off (empty url), for /health warnings. */
  disabledTargets(): string[];
  /** Whether an Alertmanager url is configured. */
  alertmanagerEnabled(): boolean;
  /** The `alertmanager` entry of `/health`: `disabled` without a url, else a `/-/ready` probe. */
  alertmanagerHealth(signal?: AbortSignal): Promise<DependencyHealth | { status: 'disabled' }>;
  /**
   * Starts the delivery worker and the alert ticker: the leader's work (a lone daemon always leads).
   * Again after a stop, when a replica regains leadership.
   */
  start(): void;
  /**
   * Stops both (shutdown, or leadership lost): nothing is sent from the call on; waits up to
   * `deadlineMs` for deliveries in flight and for the enqueues and alert writes asked for so far. The
   * outbox stays intact: an unrecorded attempt is retried when its lease runs out.
   */
  stop(deadlineMs: number): Promise<void>;
  /** Makes the worker scan now: another replica enqueued (its `outbox` change). */
  wake(): void;
  /** Resolves once the event enqueues started and the alert writes queued so far are done; never rejects. */
  settled(): Promise<void>;
  /** Sends what is due now (tests, the demo), after the enqueues and alert writes asked for so far. */
  flush(): Promise<void>;
}

/**
 * Builds the actions layer: webhook targets from `actions`, the outbox worker, the Alertmanager client
 * and alert state. Throws ConfigError when a target is misconfigured (short secret, bad template).
 * Reads and writes only through the store port.
 *
 * @example
 *   const actions = createActions({ store, service: root.service, actions: root.actions,
 *     alertmanager: root.alertmanager, clock: systemClock, dispatcher, logger, metrics, userAgent: 'vigil/0.1.0',
 *     onAttempt: (a) => watches.recordDelivery(a) });
 *   actions.start();
 *   await store.transaction(async (tx) => { await markFailed(tx, watch); await actions.onWatchFailed(tx, watch, verdict); });
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
    store: deps.store,
    client,
    runbookBaseUrl: am?.runbookBaseUrl ?? '',
    resendIntervalMs: am?.resendInterval ?? 60_000,
    clock: deps.clock,
    logger: deps.logger,
    metrics: deps.metrics,
    ...(deps.alertTickIntervalMs ? { tickIntervalMs: deps.alertTickIntervalMs } : {}),
  });

  async function watchLabels(watchId: string | null): Promise<{ service: string; version?: string }> {
    if (watchId === null) return { service: deps.service };
    // The watch belongs to the watch engine; read-only, and a delivery outliving its watch still names a service.
    try {
      const watch = await deps.store.watches.get(watchId);
      return watch ? { service: watch.service, version: watch.version } : { service: deps.service };
    } catch {
      return { service: deps.service };
    }
  }

  const worker = createDeliveryWorker({
    store: deps.store,
    targets: () => resolved.all,
    clock: deps.clock,
    dispatcher: deps.dispatcher,
    logger: deps.logger,
    metrics: deps.metrics,
    maxAgeMs: () => maxAgeMs,
    serviceOf: async (watchId) => (await watchLabels(watchId)).service,
    userAgent: deps.userAgent,
    ...(deps.backoff ? { backoff: deps.backoff } : {}),
    ...(deps.pollIntervalMs ? { pollIntervalMs: deps.pollIntervalMs } : {}),
    async onAttempt(attempt) {
      if (attempt.outcome === 'delivered' && attempt.watchId) {
        alerts.resolve(alertKeys.actionFailed(attempt.watchId, attempt.event));
      }
      await deps.onAttempt?.(attempt);
    },
    async onGiveUp(delivery, lastError) {
      const labels = await watchLabels(delivery.watchId);
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

  /** Transactions that already wake the worker and tell the replicas once they commit. */
  const announcing = new WeakSet<StoreTx>();

  /** Once `tx` commits with a new row: wake this worker, and tell the other replicas (their leader's worker). */
  function wakeAfterCommit(tx: StoreTx, deliveries: readonly EnqueuedDelivery[]): void {
    if (!deliveries.some((d) => d.created) || announcing.has(tx)) return;
    announcing.add(tx);
    tx.afterCommit(() => {
      worker.wake();
      deps.store.publish({ kind: 'outbox', id: '' }).catch((error: unknown) => {
        deps.logger.warn({ err: errorMessage(error) }, 'cannot tell the other replicas about an enqueue');
      });
    });
  }

  /** Event enqueues running in their own transactions, for settled(). */
  const enqueuing = new Set<Promise<void>>();

  function tracked<T>(work: Promise<T>, what: string): Promise<T> {
    const done = work.then(
      () => undefined,
      (error: unknown) => deps.logger.error({ err: errorMessage(error) }, `${what} failed`),
    );
    enqueuing.add(done);
    void done.finally(() => enqueuing.delete(done));
    return work;
  }

  async function settled(): Promise<void> {
    await Promise.all([...enqueuing]);
    await alerts.settled();
  }

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

  /** The alerts of a failure: VigilWatchFailed, and the end of the watch's condition alerts. */
  function failureAlerts(watch: WatchRef, verdict: VerdictObject): void {
    endConditions(watch.id);
    // A newer watch of the service, or a day, resolves it (see onWatchEvent('watch.started')).
    alerts.fire(alertKeys.watchFailed(watch.id), watchFailedAlert(verdict), {
      autoResolveAt: deps.clock.now() + EVENT_ALERT_TTL_MS,
    });
  }

  async function notify(
    tx: StoreTx,
    event: NotifyEvent,
    watch: WatchRef,
    verdict: VerdictObject,
  ): Promise<EnqueuedDelivery[]> {
    const deliveries = await enqueueNotification(tx, input(watch, verdict), event);
    wakeAfterCommit(tx, deliveries);
    return deliveries;
  }

  async function rollback(
    tx: StoreTx,
    watch: WatchRef,
    verdict: VerdictObject,
    request: RollbackRequest,
  ): Promise<RollbackOutcome> {
    const outcome = await enqueueRollback(tx, input(watch, verdict), request);
    wakeAfterCommit(tx, outcome.deliveries);
    return outcome;
  }

  return {
    rollback,
    rollbackOf: (watchId) => deps.store.rollbacks.get(watchId),
    async onWatchFailed(tx, watch, verdict, trigger = 'automatic') {
      const rolledBack = await rollback(tx, watch, verdict, { trigger });
      const notified = await notify(tx, 'watch.failed', watch, verdict);
      tx.afterCommit(() => {
        // The commit stands whatever happens here: an alert that cannot be built is logged, never thrown.
        try {
          failureAlerts(watch, verdict);
        } catch (error) {
          deps.logger.error({ err: errorMessage(error), watchId: watch.id }, 'failure alerts failed');
        }
      });
      return [...rolledBack.deliveries, ...notified];
    },
    onWatchEvent(event, watch, verdict) {
      // The event follows a commit: its alerts are queued now, in call order with the engine's own.
      if (event === 'watch.failed') failureAlerts(watch, verdict);
      if (event === 'watch.started') {
        alerts.resolveMatching({ service: watch.service, alertname: 'VigilWatchFailed' });
      }
      if (event === 'watch.passed' || event === 'watch.inconclusive') endConditions(watch.id);
      return tracked(
        deps.store.transaction((tx) => notify(tx, event, watch, verdict)),
        `enqueueing ${event} of ${watch.id}`,
      );
    },
    onWatchEnded: endConditions,
    alerts,
    reload(actions) {
      const next = checkedTargets(actions, deps.configFile);
      resolved = next;
      maxAgeMs = maxAgeOf(actions);
      warnDisabled(next.disabled, deps.logger);
    },
    listDeliveries: (watchId) => deps.store.outbox.listForWatch(watchId),
    disabledTargets: () => [...resolved.disabled],
    alertmanagerEnabled: () => client !== null,
    alertmanagerHealth: async (signal) => (client ? client.health(signal) : { status: 'disabled' }),
    start() {
      worker.start();
      alerts.start();
    },
    async stop(deadlineMs) {
      const timer = new AbortController();
      const writes = Promise.race([
        settled(),
        delay(deadlineMs, undefined, { signal: timer.signal }).catch(() => undefined),
      ]);
      await Promise.all([worker.stop(deadlineMs), alerts.stop(), writes]);
      timer.abort();
    },
    wake: () => worker.wake(),
    settled,
    async flush() {
      await settled();
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

export type { RollbackRecord, StoredRollbackTrigger as RollbackTrigger } from '../store/port.js';
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
