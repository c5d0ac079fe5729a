import type { CheckResult } from '../evaluator/types.js';
import type { StoredCheckResult, StoredEvent, StoredWatch, WatchRepo } from '../store/port.js';
import type {
  PhaseRecord,
  TimelineEvent,
  TimelineType,
  WatchRecord,
  WatchState,
  WatchStatus,
} from './types.js';

/*
 * The watch engine's typed view of the store's watch repository. The store keeps a watch's phases and
 * state as documents it does not read; this is the one place that gives them their types back (and
 * fills what older rows lack, e.g. `blindSpans`).
 */

/**
 * The stored row as the engine's record.
 *
 * @example fromStored(await tx.watches.getForUpdate(id))
 */
export function fromStored(row: StoredWatch): WatchRecord {
  const state = row.state as WatchState;
  return {
    id: row.id,
    service: row.service,
    version: row.version,
    previousVersion: row.previousVersion,
    // A store that keeps a held watch as `running` with `state.held` (the SQLite schema's CHECK
    // constraint predates `held`) reads back as held: a held watch always has `state.held`.
    status: row.status === 'running' && state.held ? 'held' : row.status,
    verdict: row.verdict,
    phase: row.phase as WatchRecord['phase'],
    startedAt: row.startedAt,
    updatedAt: row.updatedAt,
    endedAt: row.endedAt,
    durationMs: row.durationMs,
    phases: row.phases as PhaseRecord[],
    reasons: [...row.reasons],
    state: { ...state, blindSpans: state.blindSpans ?? [] },
    supersededBy: row.supersededBy,
  };
}

/** The engine's record as the store's row. */
export function toStored(watch: WatchRecord): StoredWatch {
  return {
    id: watch.id,
    service: watch.service,
    version: watch.version,
    previousVersion: watch.previousVersion,
    status: watch.status,
    verdict: watch.verdict,
    phase: watch.phase,
    startedAt: watch.startedAt,
    updatedAt: watch.updatedAt,
    endedAt: watch.endedAt,
    durationMs: watch.durationMs,
    phases: watch.phases,
    reasons: watch.reasons,
    state: watch.state,
    supersededBy: watch.supersededBy,
  };
}

function fromStoredEvent(event: StoredEvent): TimelineEvent {
  return {
    at: event.at,
    type: event.type as TimelineType,
    message: event.message,
    ...(event.data ? { data: event.data } : {}),
  };
}

const finiteOrNull = (value: number | null): number | null =>
  value !== null && Number.isFinite(value) ? value : null;

/** One check result as stored: the whole result is the document; value and baseline only when finite. */
export function toStoredResult(result: CheckResult): StoredCheckResult {
  return {
    name: result.name,
    kind: result.kind,
    evaluatedAt: Date.parse(result.evaluatedAt),
    result: result.result,
    value: finiteOrNull(result.value),
    baseline: finiteOrNull(result.baseline),
    explanation: result.explanation,
    data: result,
  };
}

/**
 * The typed watch repository over the store's (`store.watches`) or a transaction's (`tx.watches`).
 *
 * @example
 *   await store.transaction(async (tx) => {
 *     const watches = watchRecords(tx.watches);
 *     const watch = await watches.getForUpdate(id);
 *   });
 */
export function watchRecords(repo: WatchRepo) {
  const one = (row: StoredWatch | undefined): WatchRecord | undefined => (row ? fromStored(row) : undefined);
  return {
    insert: (watch: WatchRecord): Promise<void> => repo.insert(toStored(watch)),
    /** Writes every mutable field of the watch. */
    update: (watch: WatchRecord): Promise<void> => repo.update(toStored(watch)),
    get: async (id: string): Promise<WatchRecord | undefined> => one(await repo.get(id)),
    /** Inside a transaction: the watch, its row locked until the transaction ends. */
    getForUpdate: async (id: string): Promise<WatchRecord | undefined> => one(await repo.getForUpdate(id)),
    /** Inside a transaction: the service's lock, until the transaction ends. */
    lockService: (service: string): Promise<void> => repo.lockService(service),
    /** Running and held watches, oldest first. */
    running: async (): Promise<WatchRecord[]> => (await repo.running()).map(fromStored),
    /** Running and held watches of a service, newest first. */
    runningForService: async (service: string): Promise<WatchRecord[]> =>
      (await repo.runningForService(service)).map(fromStored),
    /** The most recent watch of a service, whatever its status. */
    last: async (service: string): Promise<WatchRecord | undefined> => one(await repo.last(service)),
    /** Newest first, optionally filtered; at most `limit` (default 100). */
    list: async (filter: {
      service?: string;
      status?: WatchStatus;
      limit?: number;
    }): Promise<WatchRecord[]> => (await repo.list(filter)).map(fromStored),
    appendEvent: (watchId: string, event: TimelineEvent): Promise<void> => repo.appendEvent(watchId, event),
    /** Oldest first. */
    events: async (watchId: string): Promise<TimelineEvent[]> =>
      (await repo.events(watchId)).map(fromStoredEvent),
    /** Stores one evaluation's results; a replay is a no-op. Returns how many rows were new. */
    saveResults: (watchId: string, evaluation: number, results: readonly CheckResult[]): Promise<number> =>
      repo.saveResults(watchId, evaluation, results.map(toStoredResult)),
    /** Distinct evaluations and rows stored for a watch (tests and diagnostics). */
    resultCounts: (watchId: string): Promise<{ evaluations: number; rows: number }> =>
      repo.resultCounts(watchId),
  };
}

export type WatchRecords = ReturnType<typeof watchRecords>;
