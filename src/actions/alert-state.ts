import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import {
  type HeldAlert,
  listHeld,
  markHeldSent,
  resolveExpiredHeld,
  resolveHeld,
  resolveHeldByLabels,
  upsertFiring,
} from '../store/alerts.js';
import type { Db } from '../store/db.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import {
  type AlertmanagerClient,
  type PostableAlert,
  toAlertContent,
  type VigilAlert,
} from './alertmanager.js';

/**
 * Alert state: `fire`/`resolve` record what should be true (in the `alerts` table, synchronously);
 * a ticker makes Alertmanager agree. Nothing here ever blocks or throws into the evaluation that
 * called fire/resolve: an unreachable Alertmanager only delays the next tick's post.
 */

/** A firing alert tells Alertmanager it ends this many resend intervals out unless re-sent. */
export const ENDS_AT_RESEND_FACTOR = 4;

/**
 * The pure core: which held alerts are due to be posted at `now`, and as what. Firing alerts are due
 * when never sent or last sent a resend interval ago, and carry `endsAt = now + 4 × resendInterval`,
 * so if Vigil dies Alertmanager resolves them by itself soon after. Resolved ones are due until sent.
 *
 * @example planAlertPosts(listHeld(db), clock.now(), 60_000) // [{ held, alert: { labels, …, endsAt } }]
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
  /** Holds the alert as firing under `key`; sent on the next tick. Never throws for Alertmanager trouble. */
  fire(key: string, alert: VigilAlert, options?: FireOptions): void;
  /** Resolves the alert held under `key` (no-op when none); the resolution is sent on the next tick. */
  resolve(key: string): void;
  /** Resolves every alert of a watch (its `watch_id` label) — call when the watch ends. */
  resolveWatch(watchId: string): void;
  /** Resolves every firing alert whose labels include all of `match`. */
  resolveMatching(match: Readonly<Record<string, string>>): void;
  /** The alerts currently held (firing, or resolved and not yet sent). */
  held(): HeldAlert[];
  /** Posts what is due now. Resolves when done; never rejects. */
  tick(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

export interface AlertStateDeps {
  db: Db;
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
 * Creates the alert state manager over the `alerts` table.
 *
 * @example
 *   const alerts = createAlertState({ db, client, runbookBaseUrl, resendIntervalMs: 60_000, clock, logger, metrics });
 *   alerts.start();
 *   alerts.fire(`watch-failed:${verdict.id}`, watchFailedAlert(verdict));
 */
export function createAlertState(deps: AlertStateDeps): AlertState {
  const tickIntervalMs = deps.tickIntervalMs ?? Math.min(5_000, deps.resendIntervalMs);
  let ticking: Promise<void> | undefined;
  let loop: Promise<void> | undefined;
  let stopping = false;
  const stopController = new AbortController();

  async function send(): Promise<void> {
    const client = deps.client;
    if (!client) return;
    const now = deps.clock.now();
    resolveExpiredHeld(deps.db, now);
    const plan = planAlertPosts(listHeld(deps.db), now, deps.resendIntervalMs);
    if (plan.length === 0) return;
    const result = await client.postAlerts(
      plan.map((p) => p.alert),
      stopController.signal,
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
      markHeldSent(
        deps.db,
        plan.map((p) => p.held),
        deps.clock.now(),
      );
      return;
    }
    const log = { statusCode: result.statusCode, answer: result.message, alerts: plan.length };
    if (result.kind === 'rejected') {
      // Retrying the same bytes cannot succeed; take them as sent so we retry at the resend pace, not every tick.
      deps.logger.error(log, 'Alertmanager rejected alerts');
      markHeldSent(
        deps.db,
        plan.map((p) => p.held),
        deps.clock.now(),
      );
    } else {
      deps.logger.warn(log, 'Alertmanager unavailable; alerts kept for the next tick');
    }
  }

  function tick(): Promise<void> {
    ticking ??= send()
      .catch((error: unknown) => deps.logger.error({ err: errorMessage(error) }, 'alert tick failed'))
      .finally(() => {
        ticking = undefined;
      });
    return ticking;
  }

  function guarded(what: string, fn: () => void): void {
    if (!deps.client) return;
    try {
      fn();
    } catch (error) {
      // Never let alert bookkeeping break the evaluation that triggered it.
      deps.logger.error({ err: errorMessage(error) }, `alert ${what} failed`);
    }
  }

  return {
    fire(key, alert, options) {
      guarded('fire', () => {
        const { labels, annotations } = toAlertContent(alert, deps.runbookBaseUrl);
        upsertFiring(deps.db, {
          key,
          labels,
          annotations,
          // Alertmanager refuses the whole batch (422) for one generatorURL that is not a URI.
          generatorUrl: alert.generatorUrl && URL.canParse(alert.generatorUrl) ? alert.generatorUrl : null,
          now: deps.clock.now(),
          autoResolveAt: options?.autoResolveAt ?? null,
        });
      });
    },
    resolve(key) {
      guarded('resolve', () => resolveHeld(deps.db, key, deps.clock.now()));
    },
    resolveWatch(watchId) {
      guarded('resolve', () => resolveHeldByLabels(deps.db, { watch_id: watchId }, deps.clock.now()));
    },
    resolveMatching(match) {
      guarded('resolve', () => resolveHeldByLabels(deps.db, match, deps.clock.now()));
    },
    held: () => listHeld(deps.db),
    tick,
    start() {
      if (loop || !deps.client) return;
      loop = (async () => {
        while (!stopping) {
          await tick();
          await deps.clock.sleep(tickIntervalMs, stopController.signal).catch(() => undefined);
        }
      })();
    },
    async stop() {
      stopping = true;
      stopController.abort();
      await loop;
      await ticking;
    },
  };
}
