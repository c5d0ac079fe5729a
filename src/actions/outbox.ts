import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';
import { countManualRollbacks, insertDelivery } from '../store/outbox.js';
import type { EnqueuedDelivery, ManualTrigger, NotifyEvent, VerdictObject, WatchRef } from './types.js';
import {
  buildPayload,
  manualRollbackKey,
  notifyKey,
  renderBody,
  rollbackKey,
  type WebhookTarget,
} from './webhook.js';

/**
 * Enqueueing into the durable outbox. Every function here is synchronous and safe inside the caller's
 * `db.transaction(...)`: it only writes rows (better-sqlite3 turns a nested transaction into a savepoint).
 * Nothing is sent here — the delivery worker picks the rows up after the transaction commits.
 */

export interface EnqueueInput {
  /** Enabled targets (see resolveTargets); only `rollback` targets take rollbacks. */
  targets: readonly WebhookTarget[];
  watch: WatchRef;
  verdict: VerdictObject;
  clock: Clock;
  /** Delivery id factory, for deterministic tests. */
  newId?: () => string;
}

/**
 * Enqueues the automatic rollback of a failed watch, one delivery per rollback target, keyed
 * `<watch id>:rollback`. Enqueueing again for the same watch is a no-op (`created: false`), so a watch
 * never fires a second rollback on its own — even when the engine replays its failure after a restart.
 *
 * @example
 *   db.transaction(() => {
 *     markWatchFailed(db, watch.id, verdict);                    // the watch engine's own write
 *     enqueueRollback(db, { targets, watch, verdict, clock });   // same transaction
 *   })();
 */
export function enqueueRollback(db: Db, input: EnqueueInput): EnqueuedDelivery[] {
  return enqueue(db, input, 'rollback', rollbackKey(input.watch.id), undefined, (t) => t.kind === 'rollback');
}

/**
 * Enqueues an operator's rollback (`POST /api/v1/watches/{id}/rollback`): always one more, keyed
 * `<watch id>:rollback:manual:<n>` (n = 1, 2, …), recorded with `manual = 1` and carrying `manual:
 * {who, reason}` in the standard body. Run it in a transaction so two concurrent calls get distinct n.
 *
 * @example enqueueManualRollback(db, { targets, watch, verdict, clock }, { who: 'api', reason: 'p95 regressed' })
 */
export function enqueueManualRollback(
  db: Db,
  input: EnqueueInput,
  trigger: ManualTrigger,
): EnqueuedDelivery[] {
  return db.transaction(() => {
    const n = countManualRollbacks(db, input.watch.id) + 1;
    return enqueue(
      db,
      input,
      'rollback',
      manualRollbackKey(input.watch.id, n),
      trigger,
      (t) => t.kind === 'rollback',
    );
  })();
}

/**
 * Enqueues a notification to every `notify` target subscribed to the event. One per watch and event
 * (`watch.phase`: one per phase), so a replayed event is a no-op.
 *
 * @example enqueueNotification(db, { targets, watch, verdict, clock }, 'watch.passed')
 */
export function enqueueNotification(db: Db, input: EnqueueInput, event: NotifyEvent): EnqueuedDelivery[] {
  const key = notifyKey(input.watch.id, event, input.verdict.phase);
  return enqueue(
    db,
    input,
    event,
    key,
    undefined,
    (t) => t.kind === 'notify' && (t.events === null || t.events.includes(event)),
  );
}

function enqueue(
  db: Db,
  input: EnqueueInput,
  event: EnqueuedDelivery['event'],
  idempotencyKey: string,
  manual: ManualTrigger | undefined,
  accepts: (target: WebhookTarget) => boolean,
): EnqueuedDelivery[] {
  const newId = input.newId ?? (() => `d_${randomUUID()}`);
  const now = input.clock.now();
  const triggeredAt = new Date(now).toISOString();
  return db.transaction(() =>
    input.targets.filter(accepts).map((target): EnqueuedDelivery => {
      const deliveryId = newId();
      const payload = buildPayload({
        event,
        deliveryId,
        dryRun: target.dryRun,
        watch: input.watch,
        verdict: input.verdict,
        triggeredAt,
        ...(manual ? { manual } : {}),
      });
      const { row, created } = insertDelivery(db, {
        id: deliveryId,
        watchId: input.watch.id,
        event,
        target: target.key,
        url: target.url,
        idempotencyKey,
        body: renderBody(target, payload),
        dryRun: target.dryRun,
        manual: manual !== undefined,
        createdAt: now,
      });
      return {
        deliveryId: row.id,
        target: target.key,
        event,
        idempotencyKey,
        created,
        dryRun: row.dryRun,
        manual: row.manual,
      };
    }),
  )();
}
