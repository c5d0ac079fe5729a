import type {
  AttemptRow,
  DeliveryRow,
  DeliveryStatus,
  HeldAlert,
  HeldAlertState,
  LoadRunTrigger,
  PatternBaselineRow,
  PatternObservationRow,
  RollbackRecord,
  RollupMinute,
  StoredEvent,
  StoredLoadRun,
  StoredRollbackTrigger,
  StoredWatch,
  StoredWatchStatus,
} from './port.js';

/*
 * The rows both engines read, column for column, and the pure mapping of a row to the port's record.
 * Both schemas have the same tables and columns; they differ in two ways that reach a row:
 *   - a boolean column is INTEGER 0/1 in SQLite and BOOLEAN in PostgreSQL (`Flag`, read by `readFlag`);
 *   - BIGINT comes back from pg as a string unless parsed: the PostgreSQL adapter parses it to a number
 *     for every query (postgres/sql.ts `pgTypes`), so here every integer column is a number.
 * The SQL, and the writing side (parameters), stay with each engine.
 */

/** A boolean column as an engine gives it back: SQLite's 0 or 1, PostgreSQL's boolean. */
export type Flag = number | boolean;

/** Reads a boolean column of either engine. @example readFlag(1) // true (SQLite) */
export const readFlag = (value: Flag): boolean => value === true || value === 1;

/** Keeps a number's NULL, drops NaN and ±Infinity (no engine stores them). @example finite(NaN) // null */
export const finite = (value: number | null): number | null =>
  value !== null && Number.isFinite(value) ? value : null;

// ---------------------------------------------------------------------------------------------------
// watches, timeline_events

/** A `watches` row. SQLite never stores status 'held' (sqlite/watches.ts says why). */
export interface WatchRow {
  id: string;
  service: string;
  version: string;
  previous_version: string | null;
  status: StoredWatchStatus;
  verdict: StoredWatch['verdict'];
  phase: string;
  started_at: number;
  updated_at: number;
  ended_at: number | null;
  duration_ms: number;
  phases_json: string;
  reasons_json: string;
  state_json: string;
  superseded_by: string | null;
}

/** Whether a watch's state document says it is held. @example isHeld({ held: { who: 'alice' } }) // true */
export function isHeld(state: unknown): boolean {
  return typeof state === 'object' && state !== null && Boolean((state as { held?: unknown }).held);
}

/** A watch row as the port's record, its status as stored. @example toWatch(row).phases // parsed */
export function toWatch(row: WatchRow): StoredWatch {
  return {
    id: row.id,
    service: row.service,
    version: row.version,
    previousVersion: row.previous_version,
    status: row.status,
    verdict: row.verdict,
    phase: row.phase,
    startedAt: row.started_at,
    updatedAt: row.updated_at,
    endedAt: row.ended_at,
    durationMs: row.duration_ms,
    phases: JSON.parse(row.phases_json) as unknown[],
    reasons: JSON.parse(row.reasons_json) as string[],
    state: JSON.parse(row.state_json) as unknown,
    supersededBy: row.superseded_by,
  };
}

/** A `timeline_events` row, as the adapters select it. */
export interface EventRow {
  at: number;
  type: string;
  message: string;
  data_json: string | null;
}

/** A timeline row as the port's event, `data` only when stored. @example toEvent(row).data */
export function toEvent(row: EventRow): StoredEvent {
  return {
    at: row.at,
    type: row.type,
    message: row.message,
    ...(row.data_json ? { data: JSON.parse(row.data_json) as Record<string, unknown> } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// rollbacks, outbox, delivery_attempts

/** A `rollbacks` row. */
export interface RawRollback {
  watch_id: string;
  at: number;
  trigger: StoredRollbackTrigger;
  who: string | null;
  reason: string | null;
}

/** @example toRollback(raw).watchId */
export function toRollback(raw: RawRollback): RollbackRecord {
  return { watchId: raw.watch_id, at: raw.at, trigger: raw.trigger, who: raw.who, reason: raw.reason };
}

/** An `outbox` row. */
export interface RawDelivery {
  id: string;
  watch_id: string | null;
  event: string;
  target: string;
  url: string;
  idempotency_key: string;
  body: string;
  dry_run: Flag;
  manual: Flag;
  status: DeliveryStatus;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
  delivered_at: number | null;
  last_error: string | null;
}

/** @example toDelivery(raw).dryRun // a boolean on either engine */
export function toDelivery(raw: RawDelivery): DeliveryRow {
  return {
    id: raw.id,
    watchId: raw.watch_id,
    event: raw.event,
    target: raw.target,
    url: raw.url,
    idempotencyKey: raw.idempotency_key,
    body: raw.body,
    dryRun: readFlag(raw.dry_run),
    manual: readFlag(raw.manual),
    status: raw.status,
    attempts: raw.attempts,
    createdAt: raw.created_at,
    nextAttemptAt: raw.next_attempt_at,
    deliveredAt: raw.delivered_at,
    lastError: raw.last_error,
  };
}

/** The columns of a `delivery_attempts` row an attempt log shows. */
export interface RawAttempt {
  at: number;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
}

/** @example toAttempt(raw).latencyMs */
export function toAttempt(raw: RawAttempt): AttemptRow {
  return { at: raw.at, statusCode: raw.status_code, latencyMs: raw.latency_ms, error: raw.error };
}

// ---------------------------------------------------------------------------------------------------
// alerts

/** An `alerts` row. */
export interface RawAlert {
  key: string;
  labels_json: string;
  annotations_json: string;
  generator_url: string | null;
  starts_at: number;
  ends_at: number | null;
  last_sent_at: number | null;
  state: HeldAlertState;
}

/** @example toHeld(raw).labels // the parsed labels_json */
export function toHeld(raw: RawAlert): HeldAlert {
  return {
    key: raw.key,
    labels: JSON.parse(raw.labels_json) as Record<string, string>,
    annotations: JSON.parse(raw.annotations_json) as Record<string, string>,
    generatorUrl: raw.generator_url,
    startsAt: raw.starts_at,
    endsAt: raw.ends_at,
    lastSentAt: raw.last_sent_at,
    state: raw.state,
  };
}

// ---------------------------------------------------------------------------------------------------
// probe_rollups, loadtest_runs

/** The measurement columns of a `probe_rollups` row (service and probe are what was asked for). */
export interface RollupRow {
  minute: number;
  successes: number;
  total: number;
  latency_sum_ms: number;
  latency_hist: string;
}

/** @example toMinute('prep-api', 'health', row).histogram // the parsed latency_hist */
export function toMinute(service: string, probe: string, row: RollupRow): RollupMinute {
  return {
    service,
    probe,
    minute: row.minute,
    successes: row.successes,
    total: row.total,
    latencySumMs: row.latency_sum_ms,
    histogram: JSON.parse(row.latency_hist) as number[],
  };
}

/** A `loadtest_runs` row with the status of its watch (a LEFT JOIN: null when none). */
export interface RunRow {
  id: string;
  service: string;
  watch_id: string | null;
  profile: string;
  trigger: string;
  started_at: number;
  ended_at: number | null;
  exit_code: number | null;
  result: StoredLoadRun['result'];
  explanation: string | null;
  summary_json: string | null;
  watch_status: string | null;
}

/** A row written by an older build or damaged reads as having no document rather than breaking reads. */
function parseDocument(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** @example toRun(row).document // null when summary_json is missing or not JSON */
export function toRun(row: RunRow): StoredLoadRun {
  return {
    id: row.id,
    service: row.service,
    watchId: row.watch_id,
    profile: row.profile,
    trigger: row.trigger as LoadRunTrigger,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    exitCode: row.exit_code,
    result: row.result,
    explanation: row.explanation,
    document: parseDocument(row.summary_json),
    watchStatus: row.watch_status,
  };
}

// ---------------------------------------------------------------------------------------------------
// pattern_baselines, pattern_observations

/** A `pattern_baselines` row, as the adapters select it. */
export interface BaselineRow {
  range_from: number;
  range_to: number;
  lines: number;
  sampled: Flag;
  volume: number | null;
  computed_at: number;
  signatures_json: string;
}

/** @example toBaseline(row).signatures // the parsed signatures_json */
export function toBaseline(row: BaselineRow): PatternBaselineRow {
  return {
    from: row.range_from,
    to: row.range_to,
    lines: row.lines,
    sampled: readFlag(row.sampled),
    volume: row.volume,
    computedAt: row.computed_at,
    signatures: JSON.parse(row.signatures_json) as unknown[],
  };
}

/** A `pattern_observations` row, as the adapters select it. */
export interface ObservationRow {
  check_name: string;
  signature: string;
  status: PatternObservationRow['status'];
  level: string;
  logger: string;
  template: string;
  count: number;
  baseline_count: number | null;
  first_seen: number;
  last_seen: number;
  examples_json: string;
  updated_at: number;
}

/** @example toObservation(row).examples // the parsed examples_json */
export function toObservation(row: ObservationRow): PatternObservationRow {
  return {
    check: row.check_name,
    signature: row.signature,
    status: row.status,
    level: row.level,
    logger: row.logger,
    template: row.template,
    count: row.count,
    baselineCount: row.baseline_count,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    examples: JSON.parse(row.examples_json) as unknown,
    updatedAt: row.updated_at,
  };
}

/** The columns of a pattern_feedback row, in the order both engines insert and read them. */
export const FEEDBACK_COLUMNS = 'service, signature, verdict, level, logger, template, reason, who, at';
