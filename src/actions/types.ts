import type { CheckResult } from '../evaluator/types.js';

/**
 * The minimal shapes the actions layer needs from the watch engine. The watch engine passes its own
 * objects; any extra fields of the verdict travel into the webhook body untouched (DESIGN §6, §7).
 */

/** The watch as it appears in every webhook body (`watch: {...}`, DESIGN §7). */
export interface WatchRef {
  id: string;
  service: string;
  version: string;
  previousVersion: string | null;
  /** ISO 8601. */
  startedAt: string;
}

/** The verdict object of DESIGN §6; serialised as-is into `verdict` of the body. */
export interface VerdictObject extends WatchRef {
  status: 'running' | 'held' | 'passed' | 'failed' | 'inconclusive' | 'aborted';
  phase: string;
  verdict: 'pending' | 'pass' | 'warn' | 'fail' | 'inconclusive';
  updatedAt: string;
  reasons: string[];
  checks: CheckResult[];
}

/** Notification events a `actions.notify[]` target may subscribe to. */
export type NotifyEvent =
  | 'watch.started'
  | 'watch.phase'
  | 'watch.passed'
  | 'watch.failed'
  | 'watch.inconclusive';

/** Every event the outbox delivers: the rollback itself and the notifications. */
export type ActionEvent = 'rollback' | NotifyEvent;

/** Who asked for a manual rollback (`POST /api/v1/watches/{id}/rollback`) and why. */
export interface ManualTrigger {
  who: string;
  reason: string;
}

/** One outbox row created (or found already present) by an enqueue. */
export interface EnqueuedDelivery {
  deliveryId: string;
  target: string;
  event: ActionEvent;
  idempotencyKey: string;
  /** False when the row already existed: the enqueue was a no-op for this target. */
  created: boolean;
  dryRun: boolean;
  manual: boolean;
}

/** How one delivery attempt ended, as reported to the `onAttempt` hook and stored in `delivery_attempts`. */
export type AttemptOutcome = 'delivered' | 'retrying' | 'failed';

/** Reported after every delivery attempt, so the watch engine can put it in the watch timeline. */
export interface DeliveryAttemptEvent {
  deliveryId: string;
  watchId: string | null;
  event: ActionEvent;
  target: string;
  /** 1-based attempt number. */
  attempt: number;
  /** Epoch ms when the attempt started. */
  at: number;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  outcome: AttemptOutcome;
  /** Epoch ms of the next try when `outcome` is `retrying`. */
  nextAttemptAt: number | null;
  dryRun: boolean;
  manual: boolean;
}

/**
 * Callback for attempts (e.g. the watch timeline); awaited before the attempt counts as done, so a flush
 * sees it. A throw or rejection is logged and ignored.
 */
export type AttemptHook = (event: DeliveryAttemptEvent) => void | Promise<void>;
