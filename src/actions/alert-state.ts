import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { HeldAlert, Store } from '../store/port.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import {
  type AlertmanagerClient,
  type PostableAlert,
  toAlertContent,
  type VigilAlert,
} from './alertmanager.js';

/**
 * Alert state: `fire`/`resolve` record what should be true (the store's held alerts); a ticker makes
 * Alertmanager agree. fire/resolve return at once: their writes go, in call order, through one promise
 * chain (a failed write is logged), and `settled()` waits for those queued so far. Nothing here ever
 * blocks or throws into the evaluation that called fire/resolve: an unreachable Alertmanager, or store,
 * only delays the next tick's post. The held alerts are the whole state, keyed and started as stored,
 * so a replica that takes the lead resumes posting the same alerts.
 */

/** A firing alert tells Alertmanager it ends this many resend intervals out unless re-sent. */
export const ENDS_AT_RESEND_FACTOR = 4;

/**
 * The pure core: which held alerts are due to be posted at `now`, and as what. Firing alerts are due
 * when never sent or last sent a resend interval ago, and carry `endsAt = now + 4 × resendInterval`,
 * so if Vigil dies Alertmanager resolves them by itself soon after. Resolved ones are due until sent.
 *
 * @example planAlertPosts(await store.alerts.list(), clock.now(), 60_000) // [{ held, alert: { labels, …, endsAt } }]
 */
export function planAlertPosts(
  held: readonly HeldAlert[],
  now: number,
  resendIntervalMs: number,
): { held: HeldAlert; alert: PostableAlert }[] {
  const due = held.filter((a) =>
    a.state === 'resolved'
      ? a.lastSentAt === null
      : a.lastSentAt === null || now - a.lastSentAt >= resendIntervalMs,
  );
  return due.map((a) => {
    // Alertmanager refuses endsAt ≤ startsAt ("start time must be before end time").
    const ends =
      a.state === 'resolved'
        ? Math.max(a.endsAt ?? now, a.startsAt + 1)
        : Math.min(now + ENDS_AT_RESEND_FACTOR * resendIntervalMs, a.endsAt ?? Number.POSITIVE_INFINITY);
    return {
      held: a,
      alert: {
        labels: a.labels,
        annotations: a.annotations,
        startsAt: new Date(a.startsAt).toISOString(),
        endsAt: new Date(Math.max(ends, a.startsAt + 1)).toISOString(),
        ...(a.generatorUrl ? { generatorURL: a.generatorUrl } : {}),
      },
    };
  });
}

export interface FireOptions {
  /** Resolve by itself at this epoch ms unless fired again or resolved first (e.g. VigilActionFailed). */
  autoResolveAt?: number;
}

export interface AlertState {
  /** Holds the alert as firing under `key`; sent on the next tick. Never throws (queued write). */
  fire(key: string, alert: VigilAlert, options?: FireOptions): void;
  /** Resolves the alert held under `key` (no-op when none); the resolution is sent on the next tick. */
  resolve(key: string): void;
  /** Resolves every alert of a watch (its `watch_id` label) — call when the watch ends. */
  resolveWatch(watchId: string): void;
  /** Resolves every firing alert whose labels include all of `match`. */
  resolveMatching(match: Readonly<Record<string, string>>): void;
  /**
   * Resolves once the fire/resolve writes queued so far are done (failed ones were logged); never
   * rejects. Not from inside a store transaction: the writes wait for it to end.
   */
  settled(): Promise<void>;
  /**
   * The alerts currently held (firing, or resolved and not yet sent), after the writes queued so far
   * (so, like settled, not from inside a store transaction).
   */
  held(): Promise<HeldAlert[]>;
  /** Posts what is due now, after the writes queued so far. Resolves when done; never rejects. */
  tick(): Promise<void>;
  /** Starts the ticker (the leader posts); again after a stop. No-op while running. */
  start(): void;
  /** Stops the ticker, waiting for a post in flight; queued writes still land (see settled). */
  stop(): Promise<void>;
}

export interface AlertStateDeps {
  store: Pick<Store, 'alerts'>;
  /** null when no Alertmanager is configured: fire/resolve are then no-ops. */
  client: AlertmanagerClient | null;
  runbookBaseUrl: string;
  resendIntervalMs: number;
  clock: Clock;
  logger: Logger;
  metrics: Pick<Metrics, 'alertsSent'>;
  /** How often the ticker looks for due alerts. Default min(5s, resendInterval). */
  tickIntervalMs?: number;
}

/**
 * Creates the alert state manager over the store's held alerts.
 *
 * @example
 *   const alerts = createAlertState({ store, client, runbookBaseUrl, resendIntervalMs: 60_000, clock, logger, metrics });
 *   alerts.start();
 *   alerts.fire(`watch-failed:${verdict.id}`, watchFailedAlert(verdict));
 */
export function createAlertState(deps: AlertStateDeps): AlertState {
  const tickIntervalMs = deps.tickIntervalMs ?? Math.min(5_000, deps.resendIntervalMs);
  let ticking: Promise<void> | undefined;
  /** The ticker of the current start; `halted` ends its loop. */
  let ticker: { halted: boolean; stop: AbortController; loop: Promise<void> } | undefined;
  /** The tail of the write chain: every fire/resolve runs after the previous one. */
  let writes: Promise<void> = Promise.resolve();

  async function send(signal: AbortSignal): Promise<void> {
    const client = deps.client;
    if (!client) return;
    await writes;
    const now = deps.clock.now();
    await deps.store.alerts.resolveExpired(now);
    const plan = planAlertPosts(await deps.store.alerts.list(), now, deps.resendIntervalMs);
    if (plan.length === 0) return;
    const result = await client.postAlerts(
      plan.map((p) => p.alert),
      signal,
    );
    const outcome = result.ok ? 'sent' : result.kind === 'rejected' ? 'rejected' : 'error';
    for (const { held } of plan) {
      deps.metrics.alertsSent.inc({
        service: held.labels.service ?? '',
        alertname: held.labels.alertname ?? 'unknown',
        result: outcome,
      });
    }
    if (result.ok) {
      await deps.store.alerts.markSent(
        plan.map((p) => p.held),
        deps.clock.now(),
      );
      return;
    }
    const log = { statusCode: result.statusCode, answer: result.message, alerts: plan.length };
    if (result.kind === 'rejected') {
      // Retrying the same bytes cannot succeed; take them as sent so we retry at the resend pace, not every tick.
      deps.logger.error(log, 'Alertmanager rejected alerts');
      await deps.store.alerts.markSent(
        plan.map((p) => p.held),
        deps.clock.now(),
      );
    } else {
      deps.logger.warn(log, 'Alertmanager unavailable; alerts kept for the next tick');
    }
  }

  function tick(): Promise<void> {
    // A stopping ticker aborts its own post; a manual tick (tests, flush) runs to the end.
    const signal = ticker && !ticker.halted ? ticker.stop.signal : new AbortController().signal;
    ticking ??= send(signal)
      .catch((error: unknown) => deps.logger.error({ err: errorMessage(error) }, 'alert tick failed'))
      .finally(() => {
        ticking = undefined;
      });
    return ticking;
  }

  /**
   * Queues one write after the previous ones. `now` and the content are taken at the call, so a write
   * that waits its turn records the moment it was asked for.
   */
  function queued(what: string, write: (now: number) => Promise<unknown>): void {
    if (!deps.client) return;
    const now = deps.clock.now();
    writes = writes
      .then(() => write(now))
      .then(
        () => undefined,
        // Never let alert bookkeeping break the evaluation that triggered it.
        (error: unknown) => deps.logger.error({ err: errorMessage(error) }, `alert ${what} failed`),
      );
  }

  return {
    fire(key, alert, options) {
      let content: ReturnType<typeof toAlertContent>;
      try {
        content = toAlertContent(alert, deps.runbookBaseUrl);
      } catch (error) {
        deps.logger.error({ err: errorMessage(error) }, 'alert fire failed');
        return;
      }
      queued('fire', (now) =>
        deps.store.alerts.upsertFiring({
          key,
          labels: content.labels,
          annotations: content.annotations,
          // Alertmanager refuses the whole batch (422) for one generatorURL that is not a URI.
          generatorUrl: alert.generatorUrl && URL.canParse(alert.generatorUrl) ? alert.generatorUrl : null,
          now,
          autoResolveAt: options?.autoResolveAt ?? null,
        }),
      );
    },
    resolve(key) {
      queued('resolve', (now) => deps.store.alerts.resolve(key, now));
    },
    resolveWatch(watchId) {
      queued('resolve', (now) => deps.store.alerts.resolveByLabels({ watch_id: watchId }, now));
    },
    resolveMatching(match) {
      const copy = { ...match };
      queued('resolve', (now) => deps.store.alerts.resolveByLabels(copy, now));
    },
    settled: () => writes,
    async held() {
      await writes;
      return deps.store.alerts.list();
    },
    tick,
    start() {
      if (!deps.client || (ticker && !ticker.halted)) return;
      const current = { halted: false, stop: new AbortController(), loop: Promise.resolve() };
      ticker = current;
      current.loop = (async () => {
        while (!current.halted) {
          await tick();
          await deps.clock.sleep(tickIntervalMs, current.stop.signal).catch(() => undefined);
        }
      })();
    },
    async stop() {
      const current = ticker;
      if (current) {
        current.halted = true;
        current.stop.abort();
        await current.loop;
      }
      await ticking;
    },
  };
}
