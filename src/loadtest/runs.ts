import { z } from 'zod';
import type { CheckOutcome } from '../evaluator/types.js';
import type {
  LoadRunRepo,
  LoadRunTrigger,
  NewLoadRun,
  StoredLoadRun as StoredRunRow,
} from '../store/port.js';
import type { LoadComparison } from './compare.js';
import type { LoadSummary } from './summary.js';

/*
 * One service's k6 runs in the store (LoadRunRepo): a run is inserted when it starts (so a crash leaves a
 * trace) and completed when it ends. Its document holds the normalized summary, the comparison and the
 * profile's fingerprint — runs are only compared with runs of the same profile definition.
 */

export type { LoadRunTrigger } from '../store/port.js';

export interface StoredLoadRun {
  id: string;
  watchId: string | null;
  profile: string;
  trigger: LoadRunTrigger;
  startedAt: number;
  endedAt: number | null;
  exitCode: number | null;
  result: CheckOutcome | null;
  explanation: string | null;
  summary: LoadSummary | null;
  comparison: LoadComparison | null;
  fingerprint: string | null;
  /** Status of the watch the run belonged to, when it still exists. */
  watchStatus: string | null;
}

/** What a run's document holds. Parsed loosely: a row written by an older build must not break reads. */
const documentSchema = z.object({
  summary: z.custom<LoadSummary>((v) => typeof v === 'object' && v !== null).nullable(),
  comparison: z
    .custom<LoadComparison>((v) => typeof v === 'object' && v !== null)
    .nullable()
    .optional(),
  fingerprint: z.string().nullable().optional(),
});

function toRun(row: StoredRunRow): StoredLoadRun {
  const parsed = row.document === null ? undefined : documentSchema.safeParse(row.document);
  const document = parsed?.success ? parsed.data : undefined;
  return {
    id: row.id,
    watchId: row.watchId,
    profile: row.profile,
    trigger: row.trigger,
    startedAt: row.startedAt,
    endedAt: row.endedAt,
    exitCode: row.exitCode,
    result: row.result,
    explanation: row.explanation,
    summary: document?.summary ?? null,
    comparison: document?.comparison ?? null,
    fingerprint: document?.fingerprint ?? null,
    watchStatus: row.watchStatus,
  };
}

/** How many passed runs of a profile findPrevious looks through for one with the same fingerprint. */
const PREVIOUS_CANDIDATES = 100;

export interface LoadRunStore {
  /** The run's service is the store's. */
  insert(run: Omit<NewLoadRun, 'service'>): Promise<void>;
  finish(
    id: string,
    end: {
      endedAt: number;
      exitCode: number | null;
      result: CheckOutcome;
      explanation: string;
      summary: LoadSummary | null;
      comparison: LoadComparison | null;
      fingerprint: string;
    },
  ): Promise<void>;
  get(id: string): Promise<StoredLoadRun | undefined>;
  /** Newest first; 50 unless `limit` says otherwise. */
  list(filter?: { profile?: string; watchId?: string; limit?: number }): Promise<StoredLoadRun[]>;
  /**
   * The run to compare with: the latest passed run of the profile with the same fingerprint,
   * preferring one from a watch that passed; runs of failed or aborted watches are never used.
   */
  findPrevious(
    profile: string,
    options: { fingerprint: string; excludeId?: string },
  ): Promise<StoredLoadRun | undefined>;
  /** Closes runs left open by a daemon that stopped mid-run (of every service); returns how many. */
  closeInterrupted(now: number): Promise<number>;
}

/**
 * The runs of one service on an open store (profile names repeat across the services of a fleet: runs
 * are only compared within a service). Closing interrupted runs is for every service.
 *
 * @example const runs = createLoadRunStore(store, 'prep-api'); await runs.list({ profile: 'smoke' });
 */
export function createLoadRunStore(store: { readonly loadRuns: LoadRunRepo }, service = ''): LoadRunStore {
  const repo = store.loadRuns;
  return {
    insert: (run) => repo.insert({ ...run, service }),
    finish: (id, end) =>
      repo.finish(id, {
        endedAt: end.endedAt,
        exitCode: end.exitCode,
        result: end.result,
        explanation: end.explanation,
        document: { summary: end.summary, comparison: end.comparison, fingerprint: end.fingerprint },
      }),
    async get(id) {
      const row = await repo.get(id);
      return row ? toRun(row) : undefined;
    },
    async list(filter = {}) {
      return (await repo.list(service, { ...filter, limit: filter.limit ?? 50 })).map(toRun);
    },
    async findPrevious(profile, { fingerprint, excludeId }) {
      const runs = (await repo.passedRuns(service, profile, excludeId ?? '', PREVIOUS_CANDIDATES))
        .map(toRun)
        .filter((r) => r.summary !== null && r.fingerprint === fingerprint);
      return runs.find((r) => r.watchStatus === 'passed') ?? runs[0];
    },
    closeInterrupted: (now) =>
      repo.closeInterrupted(now, 'the daemon stopped while this k6 run was in progress'),
  };
}
