import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { RollbackRecord, StoredRollbackTrigger, StoreRepos } from '../store/port.js';
import type { EnqueuedDelivery, ManualTrigger, NotifyEvent, VerdictObject, WatchRef } from './types.js';
import { buildPayload, notifyKey, renderBody, rollbackKey, type WebhookTarget } from './webhook.js';

/**
 * Enqueueing into the durable outbox. Every function here writes through the repositories it is given —
 * the caller's transaction (`StoreTx`), so the rows commit or roll back with the caller's own writes.
 * Nothing is sent here: the delivery worker picks the rows up after the transaction commits.
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

/** Who asked for a rollback and through which path (DESIGN §6: a failing check, a hold timeout, an operator). */
export interface RollbackRequest {
  trigger: StoredRollbackTrigger;
  /** The operator (for `operator`); recorded and sent in the body's `manual`. */
  who?: string;
  reason?: string;
}

/** What a rollback request did. */
export interface RollbackOutcome {
  /** Outbox rows created now, one per rollback target: 0 when already rolled back or no target is configured. */
  enqueued: number;
  /** The rollback's deliveries: the new ones, or the first rollback's (`created: false`). */
  deliveries: EnqueuedDelivery[];
  /** The first rollback when the watch had already been rolled back: then this request enqueued nothing. */
  existing?: RollbackRecord;
}

/**
 * Rolls a watch back, once (DESIGN §6, §7): records the decision (when, which path, who) and enqueues one
 * delivery per rollback target, every one keyed `<watch id>:rollback` — the Idempotency-Key receivers
 * see. A second request for the same watch, by any path, enqueues nothing and returns the first as
 * `existing`, so an operator's rollback after a failure (or a failure replayed after a restart) never
 * fires a second webhook. An operator's rollback carries `manual: {who, reason}` in its body.
 *
 * @example
 *   await store.transaction(async (tx) => {
 *     await tx.watches.update(failed);                                                        // the watch engine's own write
 *     await enqueueRollback(tx, { targets, watch, verdict, clock }, { trigger: 'automatic' }); // same transaction
 *   });
 */
export async function enqueueRollback(
  tx: StoreRepos,
  input: EnqueueInput,
  request: RollbackRequest,
): Promise<RollbackOutcome> {
  const { record, created } = await tx.rollbacks.record({
    watchId: input.watch.id,
    at: input.clock.now(),
    trigger: request.trigger,
    who: request.who ?? null,
    reason: request.reason ?? null,
  });
  if (!created) return { enqueued: 0, deliveries: await rollbackDeliveries(tx, input), existing: record };
  const manual =
    request.trigger === 'operator'
      ? { who: request.who ?? 'operator', reason: request.reason ?? '' }
      : undefined;
  const deliveries = await enqueue(
    tx,
    input,
    'rollback',
    rollbackKey(input.watch.id),
    manual,
    (t) => t.kind === 'rollback',
  );
  return { enqueued: deliveries.filter((d) => d.created).length, deliveries };
}

/** The rollback deliveries already in the outbox for a watch, in target order, as a no-op enqueue reports them. */
async function rollbackDeliveries(tx: StoreRepos, input: EnqueueInput): Promise<EnqueuedDelivery[]> {
  const order = (target: string): number => {
    const index = input.targets.findIndex((t) => t.key === target);
    return index === -1 ? input.targets.length : index;
  };
  return (await tx.outbox.listForWatch(input.watch.id))
    .filter((d) => d.event === 'rollback')
    .sort((a, b) => order(a.target) - order(b.target))
    .map((d) => ({
      deliveryId: d.id,
      target: d.target,
      event: 'rollback',
      idempotencyKey: d.idempotencyKey,
      created: false,
      dryRun: d.dryRun,
      manual: d.manual,
    }));
}

/**
 * Enqueues a notification to every `notify` target subscribed to the event. One per watch and event
 * (`watch.phase`: one per phase), so a replayed event is a no-op.
 *
 * @example await enqueueNotification(tx, { targets, watch, verdict, clock }, 'watch.passed')
 */
export function enqueueNotification(
  tx: StoreRepos,
  input: EnqueueInput,
  event: NotifyEvent,
): Promise<EnqueuedDelivery[]> {
  const key = notifyKey(input.watch.id, event, input.verdict.phase);
  return enqueue(
    tx,
    input,
    event,
    key,
    undefined,
    (t) => t.kind === 'notify' && (t.events === null || t.events.includes(event)),
  );
}

/** One row per accepted target, in target order (one insert after another, inside the caller's transaction). */
async function enqueue(
  tx: StoreRepos,
  input: EnqueueInput,
  event: EnqueuedDelivery['event'],
  idempotencyKey: string,
  manual: ManualTrigger | undefined,
  accepts: (target: WebhookTarget) => boolean,
): Promise<EnqueuedDelivery[]> {
  const newId = input.newId ?? (() => `d_${randomUUID()}`);
  const now = input.clock.now();
  const triggeredAt = new Date(now).toISOString();
  const enqueued: EnqueuedDelivery[] = [];
  for (const target of input.targets.filter(accepts)) {
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
    const { row, created } = await tx.outbox.insert({
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
    enqueued.push({
      deliveryId: row.id,
      target: target.key,
      event,
      idempotencyKey,
      created,
      dryRun: row.dryRun,
      manual: row.manual,
    });
  }
  return enqueued;
}
