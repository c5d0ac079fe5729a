import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { fullJitterGenerator, type IExponentialBackoffOptions } from 'cockatiel';
import type { Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { DeliveryRow, Store } from '../store/port.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { sendRequest } from './http.js';
import type { ActionEvent, AttemptHook, DeliveryAttemptEvent } from './types.js';
import { buildSignedHeaders, type WebhookTarget } from './webhook.js';

export interface BackoffOptions {
  /** First retry waits up to this long (full jitter: uniformly in [0, initialDelayMs)). Default 1s. */
  initialDelayMs: number;
  /** Cap of one wait. Default 5m. */
  maxDelayMs: number;
}

export interface DeliveryWorkerDeps {
  store: Pick<Store, 'outbox'>;
  /** The current enabled targets; a getter so a config reload takes effect on the next attempt. */
  targets: () => readonly WebhookTarget[];
  clock: Clock;
  dispatcher: Dispatcher;
  logger: Logger;
  metrics: Pick<Metrics, 'webhookDeliveries'>;
  /** The service a delivery is about (its watch's), for the `service` label; '' when unknown. */
  serviceOf?: (watchId: string | null) => Promise<string>;
  /** How long a delivery is retried before it is given up (`actions.maxAge`); a getter for reloads. */
  maxAgeMs: number | (() => number);
  userAgent: string;
  onAttempt?: AttemptHook;
  /** Called once when a delivery is given up (the facade raises VigilActionFailed); awaited, never thrown. */
  onGiveUp?: (delivery: DeliveryRow, lastError: string) => void | Promise<void>;
  backoff?: Partial<BackoffOptions>;
  /** Upper bound of the idle wait between scans. Default 1s. */
  pollIntervalMs?: number;
  batchSize?: number;
}

/** Sends what the outbox holds; see createDeliveryWorker. */
export interface DeliveryWorker {
  /**
   * Claims every delivery due now, sends them (concurrently) and resolves when all attempts are
   * recorded. Sends nothing between `stop()` and the next `start()` (a replica that lost leadership).
   */
  runDue(): Promise<number>;
  /** Starts the background loop; again after a stop (leadership regained). No-op while running. */
  start(): void;
  /** Makes the loop scan now (after an enqueue, here or on another replica) instead of at its next poll. */
  wake(): void;
  /**
   * Stops the loop and waits up to `deadlineMs` (real time) for attempts in flight; then aborts them.
   * An aborted attempt is not recorded: its lease runs out and it is retried (here after a start, or by
   * the replica that leads next). Nothing is sent from the call on.
   */
  stop(deadlineMs: number): Promise<void>;
}

/** One start of the worker: stopping it halts its loop and, past the deadline, aborts its sends. */
interface Run {
  halted: boolean;
  sends: AbortController;
  wake: AbortController;
  loop?: Promise<void>;
}

/** Beyond the request timeout, how long a claimed delivery stays reserved for the worker that claimed it. */
const LEASE_MARGIN_MS = 5_000;

/**
 * The outbox delivery worker: claims due deliveries (each with a lease, so no other worker of any replica
 * takes it while this one sends it), signs and sends them with the target's timeout,
 * records every attempt (status, latency, error), retries failures with exponential backoff and full
 * jitter (cockatiel's generator) until `maxAgeMs` after the enqueue, then gives up. Any 2xx is delivered.
 * The backoff state is just the stored attempt count, so it survives restarts.
 *
 * @example
 *   const worker = createDeliveryWorker({ store, targets: () => targets, clock, dispatcher, logger, metrics,
 *     maxAgeMs: 3_600_000, userAgent: 'vigil/0.1.0' });
 *   worker.start(); … await worker.stop(10_000);
 */
export function createDeliveryWorker(deps: DeliveryWorkerDeps): DeliveryWorker {
  const serviceOf = async (row: DeliveryRow): Promise<string> =>
    (await deps.serviceOf?.(row.watchId).catch(() => '')) || '';
  const backoff: IExponentialBackoffOptions<number> = {
    generator: fullJitterGenerator,
    initialDelay: deps.backoff?.initialDelayMs ?? 1_000,
    maxDelay: deps.backoff?.maxDelayMs ?? 300_000,
    exponent: 2,
  };
  const pollIntervalMs = deps.pollIntervalMs ?? 1_000;
  const batchSize = deps.batchSize ?? 16;
  const inFlight = new Map<string, Promise<void>>();
  /** A run's sends listen on one signal, a batch of them at once: not a leak. */
  const newRun = (): Run => {
    const sends = new AbortController();
    setMaxListeners(0, sends.signal);
    return { halted: false, sends, wake: new AbortController() };
  };
  /** The current run; before the first start it is not halted, so runDue works for tests and the demo. */
  let run = newRun();

  async function report(event: DeliveryAttemptEvent): Promise<void> {
    if (!deps.onAttempt) return;
    try {
      await deps.onAttempt(event);
    } catch (error) {
      deps.logger.error({ err: errorMessage(error) }, 'onAttempt hook threw');
    }
  }

  async function giveUp(row: DeliveryRow, lastError: string): Promise<void> {
    try {
      await deps.onGiveUp?.(row, lastError);
    } catch (error) {
      deps.logger.error({ err: errorMessage(error) }, 'onGiveUp hook threw');
    }
  }

  async function attempt(row: DeliveryRow, target: WebhookTarget, current: Run): Promise<void> {
    const at = deps.clock.now();
    if (row.dryRun && target.template && !target.template.usesDryRun) {
      await skipDryRun(row, at);
      return;
    }
    const headers = buildSignedHeaders({
      target,
      event: row.event as ActionEvent,
      deliveryId: row.id,
      idempotencyKey: row.idempotencyKey,
      timestampSec: Math.floor(at / 1000),
      body: row.body,
      userAgent: deps.userAgent,
    });
    const result = await sendRequest({
      dispatcher: deps.dispatcher,
      url: target.url,
      method: target.method,
      headers,
      body: row.body,
      timeoutMs: target.timeoutMs,
      signal: current.sends.signal,
    });
    if (current.sends.signal.aborted) return; // stopped: leave the lease, retried when it runs out
    const delivered = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    const error = delivered
      ? null
      : (result.error ??
        `HTTP ${result.statusCode}${result.answer ? `: ${result.answer.slice(0, 200)}` : ''}`);
    const now = deps.clock.now();
    const giveUpAt = row.createdAt + (typeof deps.maxAgeMs === 'number' ? deps.maxAgeMs : deps.maxAgeMs());
    const [waitMs] = fullJitterGenerator(row.attempts, backoff);
    const outcome = delivered ? 'delivered' : now >= giveUpAt ? 'failed' : 'retrying';
    const nextAttemptAt = outcome === 'retrying' ? Math.min(now + waitMs, giveUpAt) : now;
    const attemptNo = await deps.store.outbox.recordAttempt({
      deliveryId: row.id,
      at,
      statusCode: result.statusCode,
      latencyMs: result.latencyMs,
      error,
      status: outcome === 'retrying' ? 'pending' : outcome,
      nextAttemptAt,
    });
    const metricResult = outcome === 'retrying' ? 'retried' : outcome;
    deps.metrics.webhookDeliveries.inc({
      service: await serviceOf(row),
      event: row.event,
      result: metricResult,
    });
    const log = deps.logger.child({
      deliveryId: row.id,
      watchId: row.watchId,
      event: row.event,
      target: row.target,
    });
    if (outcome === 'delivered')
      log.info({ statusCode: result.statusCode, attempt: attemptNo }, 'webhook delivered');
    else if (outcome === 'retrying')
      log.warn({ error, attempt: attemptNo, nextAttemptAt }, 'webhook attempt failed');
    else log.error({ error, attempt: attemptNo }, 'webhook delivery given up');
    await report({
      deliveryId: row.id,
      watchId: row.watchId,
      event: row.event as ActionEvent,
      target: row.target,
      attempt: attemptNo,
      at,
      statusCode: result.statusCode,
      latencyMs: result.latencyMs,
      error,
      outcome,
      nextAttemptAt: outcome === 'retrying' ? nextAttemptAt : null,
      dryRun: row.dryRun,
      manual: row.manual,
    });
    if (outcome === 'failed') await giveUp(row, error ?? 'failed');
  }

  /**
   * A dry run must perform nothing, but a templated body without {{dryRun}} (an Argo abort, say) would
   * act for real: such a delivery is recorded as done without calling the target.
   */
  async function skipDryRun(row: DeliveryRow, at: number): Promise<void> {
    const attemptNo = await deps.store.outbox.recordAttempt({
      deliveryId: row.id,
      at,
      statusCode: null,
      latencyMs: 0,
      error: null,
      status: 'delivered',
      nextAttemptAt: at,
    });
    deps.metrics.webhookDeliveries.inc({
      service: await serviceOf(row),
      event: row.event,
      result: 'skipped',
    });
    deps.logger.info(
      { deliveryId: row.id, target: row.target },
      'dry run: target not called, its bodyTemplate does not carry {{dryRun}}',
    );
    await report({
      deliveryId: row.id,
      watchId: row.watchId,
      event: row.event as ActionEvent,
      target: row.target,
      attempt: attemptNo,
      at,
      statusCode: null,
      latencyMs: 0,
      error: null,
      outcome: 'delivered',
      nextAttemptAt: null,
      dryRun: true,
      manual: row.manual,
    });
  }

  /** One scan for `current`: the loop's own run, or (runDue) whichever run is current. */
  async function scan(current: Run): Promise<number> {
    if (current.halted) return 0;
    const now = deps.clock.now();
    const targets = new Map(deps.targets().map((t) => [t.key, t]));
    // The lease: the target's timeout and a margin, so the attempt is recorded before anyone may retry it.
    const leaseUntil = (row: DeliveryRow): number =>
      now + (targets.get(row.target)?.timeoutMs ?? 0) + LEASE_MARGIN_MS;
    const claimed = await deps.store.outbox.claimDue(now, batchSize, leaseUntil);
    // Stopped while claiming: send nothing; the leases run out and the rows are retried.
    if (current.halted) return 0;
    const started: Promise<void>[] = [];
    for (const row of claimed) {
      if (inFlight.has(row.id)) continue;
      const target = targets.get(row.target);
      if (!target) {
        const reason = `target ${row.target} is no longer configured (or its url is empty)`;
        await deps.store.outbox.fail(row.id, reason);
        deps.metrics.webhookDeliveries.inc({
          service: await serviceOf(row),
          event: row.event,
          result: 'failed',
        });
        deps.logger.error({ deliveryId: row.id, target: row.target }, reason);
        await giveUp(row, reason);
        continue;
      }
      const job = attempt(row, target, current)
        .catch((error: unknown) => {
          deps.logger.error({ deliveryId: row.id, err: errorMessage(error) }, 'delivery attempt crashed');
        })
        .finally(() => inFlight.delete(row.id));
      inFlight.set(row.id, job);
      started.push(job);
    }
    await Promise.all(started);
    return started.length;
  }

  async function nextWaitMs(): Promise<number> {
    const next = await deps.store.outbox.nextDueAt();
    if (next === null) return pollIntervalMs;
    return Math.max(10, Math.min(pollIntervalMs, next - deps.clock.now()));
  }

  async function loop(current: Run): Promise<void> {
    while (!current.halted) {
      let waitMs = pollIntervalMs;
      try {
        await scan(current);
        if (current.halted) break;
        waitMs = await nextWaitMs();
      } catch (error) {
        // A store error (disk full, locked, the database away) must not kill the loop; the rows stay.
        deps.logger.error({ err: errorMessage(error) }, 'outbox scan failed');
      }
      if (current.halted) break;
      try {
        await deps.clock.sleep(waitMs, current.wake.signal);
      } catch {
        current.wake = new AbortController();
      }
    }
  }

  return {
    runDue: () => scan(run),
    start() {
      if (run.loop && !run.halted) return;
      run = newRun();
      run.loop = loop(run);
    },
    wake() {
      run.wake.abort();
    },
    async stop(deadlineMs) {
      const stopped = run;
      stopped.halted = true;
      stopped.wake.abort();
      const inFlightNow = [...inFlight.values()];
      const pending = Promise.allSettled([stopped.loop, ...inFlightNow]);
      const timer = new AbortController();
      await Promise.race([
        pending,
        delay(deadlineMs, undefined, { signal: timer.signal }).catch(() => undefined),
      ]);
      timer.abort();
      stopped.sends.abort();
      await pending;
    },
  };
}
