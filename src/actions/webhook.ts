import type { z } from 'zod';
import type { actionsSchema, WebhookTargetConfig } from '../config/schema.js';
import { signPayload } from './sign.js';
import { type BodyTemplate, compileBodyTemplate } from './template.js';
import type { ActionEvent, ManualTrigger, NotifyEvent, VerdictObject, WatchRef } from './types.js';

/** `actions` of the root config (DESIGN §4), parsed. */
export type ActionsConfig = z.infer<typeof actionsSchema>;

/** Which list a target comes from. */
export type TargetKind = 'rollback' | 'notify';

/** A configured, enabled webhook target with its template compiled. */
export interface WebhookTarget {
  /** Stable outbox key: `rollback:<name>` or `rollback:<index>` when unnamed (likewise `notify:`). */
  key: string;
  kind: TargetKind;
  url: string;
  secret: string;
  method: 'POST' | 'PUT' | 'PATCH';
  headers: Readonly<Record<string, string>>;
  timeoutMs: number;
  dryRun: boolean;
  template: BodyTemplate | null;
  /** Notification targets: the events they take (all when the config lists none). */
  events: readonly NotifyEvent[] | null;
}

/** A config problem in the actions section, with its path (`actions.rollback.0.secret`). */
export interface TargetProblem {
  path: string;
  message: string;
}

export interface ResolvedTargets {
  targets: WebhookTarget[];
  /** Keys of targets whose url is empty (off): shown as warnings at start and in /health. */
  disabled: string[];
  problems: TargetProblem[];
}

const MIN_SECRET_LENGTH = 16;

/**
 * Turns `actions.rollback[]` and `actions.notify[]` into enabled targets, listing the disabled ones and
 * every problem (short secret, bad template). Global `actions.dryRun` is folded into each target.
 *
 * @example
 *   const { targets, disabled, problems } = resolveTargets(config.root.actions);
 */
export function resolveTargets(actions: ActionsConfig): ResolvedTargets {
  const result: ResolvedTargets = { targets: [], disabled: [], problems: [] };
  const lists: [TargetKind, readonly (WebhookTargetConfig & { events?: NotifyEvent[] })[]][] = [
    ['rollback', actions.rollback],
    ['notify', actions.notify],
  ];
  for (const [kind, list] of lists) {
    list.forEach((config, index) => {
      const key = `${kind}:${config.name ?? index}`;
      const path = `actions.${kind}.${index}`;
      if (config.url === '') {
        result.disabled.push(key);
        return;
      }
      if (config.secret.length < MIN_SECRET_LENGTH) {
        result.problems.push({
          path: `${path}.secret`,
          message: `a target with a url needs a secret of ${MIN_SECRET_LENGTH}+ characters (from the environment)`,
        });
      }
      let template: BodyTemplate | null = null;
      if (config.bodyTemplate !== undefined) {
        const compiled = compileBodyTemplate(config.bodyTemplate);
        if (compiled.ok) template = compiled.template;
        else
          for (const message of compiled.problems)
            result.problems.push({ path: `${path}.bodyTemplate`, message });
      }
      result.targets.push({
        key,
        kind,
        url: config.url,
        secret: config.secret,
        method: config.method ?? 'POST',
        headers: config.headers,
        timeoutMs: config.timeout,
        dryRun: actions.dryRun || config.dryRun === true,
        template,
        events: kind === 'notify' ? (config.events ?? null) : null,
      });
    });
  }
  const keys = result.targets.map((t) => t.key);
  for (const key of new Set(keys.filter((k, i) => keys.indexOf(k) !== i))) {
    result.problems.push({
      path: 'actions',
      message: `two targets share the name ${key}; names must be unique`,
    });
  }
  return result;
}

/** The standard body of DESIGN §7 (`manual` is an addition, present only on operator rollbacks). */
export interface WebhookPayload {
  event: ActionEvent;
  deliveryId: string;
  dryRun: boolean;
  watch: WatchRef;
  verdict: VerdictObject;
  triggeredAt: string;
  manual?: ManualTrigger;
}

/**
 * Builds the standard payload. `watch` is copied field by field so extra fields of the caller's
 * object do not leak into `watch`; the verdict goes in whole.
 *
 * @example buildPayload({ event: 'rollback', deliveryId, dryRun: false, watch, verdict, triggeredAt })
 */
export function buildPayload(input: WebhookPayload): WebhookPayload {
  const { watch } = input;
  return {
    event: input.event,
    deliveryId: input.deliveryId,
    dryRun: input.dryRun,
    watch: {
      id: watch.id,
      service: watch.service,
      version: watch.version,
      previousVersion: watch.previousVersion ?? null,
      startedAt: watch.startedAt,
    },
    verdict: input.verdict,
    triggeredAt: input.triggeredAt,
    ...(input.manual ? { manual: input.manual } : {}),
  };
}

/** The raw body a target receives: its template rendered over the payload, or the payload as JSON. */
export function renderBody(target: Pick<WebhookTarget, 'template'>, payload: WebhookPayload): string {
  return target.template ? target.template.render({ ...payload }) : JSON.stringify(payload);
}

/** Headers a target's own config may not override: they carry the contract. */
const RESERVED = new Set([
  'x-vigil-event',
  'x-vigil-delivery',
  'idempotency-key',
  'x-vigil-timestamp',
  'x-vigil-signature',
]);

export interface SignedHeadersInput {
  target: Pick<WebhookTarget, 'secret' | 'headers'>;
  event: ActionEvent;
  deliveryId: string;
  idempotencyKey: string;
  timestampSec: number;
  body: string;
  userAgent: string;
}

/**
 * The headers of DESIGN §7, signed at send time (each retry gets a fresh timestamp and signature over
 * the same stored body). A target's own headers come first; they may set `Authorization`, `Accept` or
 * `Content-Type` (Kubernetes wants `application/merge-patch+json`) but never the X-Vigil-* headers.
 *
 * @example buildSignedHeaders({ target, event: 'rollback', deliveryId, idempotencyKey, timestampSec, body, userAgent })
 */
export function buildSignedHeaders(input: SignedHeadersInput): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': input.userAgent,
  };
  for (const [name, value] of Object.entries(input.target.headers)) {
    const lower = name.toLowerCase();
    if (!RESERVED.has(lower)) headers[lower] = value;
  }
  headers['x-vigil-event'] = input.event;
  headers['x-vigil-delivery'] = input.deliveryId;
  headers['idempotency-key'] = input.idempotencyKey;
  headers['x-vigil-timestamp'] = String(input.timestampSec);
  headers['x-vigil-signature'] = signPayload(input.target.secret, input.timestampSec, input.body);
  return headers;
}

/** Idempotency key of the one rollback of a watch, whichever path decided it (DESIGN §6, §7). */
export function rollbackKey(watchId: string): string {
  return `${watchId}:rollback`;
}

/**
 * Idempotency key of a notification: one per watch and event; `watch.phase` once per phase entered.
 *
 * @example notifyKey('w_1', 'watch.phase', 'bake') // 'w_1:watch.phase:bake'
 */
export function notifyKey(watchId: string, event: NotifyEvent, phase: string): string {
  return event === 'watch.phase' ? `${watchId}:${event}:${phase}` : `${watchId}:${event}`;
}
