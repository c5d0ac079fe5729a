import { VigilError } from '../errors.js';

/** One sample of an SLI: time (ms since epoch) and value. */
export interface Sample {
  at: number;
  value: number;
}

/** The answer of an instant query: one value, and where it came from. */
export interface InstantValue {
  value: number;
  at: number;
}

/**
 * Where SLI values come from (DESIGN §11): Prometheus, Loki, or Vigil's own probe results.
 * Implementations throw NoDataError for "the query matched nothing / NaN" (never for ±Inf), QueryError for a bad
 * query, and SourceUnavailableError when the backend cannot be reached or failed.
 */
export interface SliSource {
  readonly kind: 'prometheus' | 'loki' | 'probes';
  /**
   * How often the source gets a new point, ms (`sources.<x>.scrapeInterval`; per-minute rollups for
   * probes). A post-deploy window holding fewer than two says nothing yet: the default minWindow is twice
   * this. Absent: the evaluator assumes 15 s (1 min for probes).
   */
  readonly scrapeIntervalMs?: number;
  /** Evaluates `query` at `at` (ms since epoch); exactly one series is expected. */
  query(query: string, at: number, signal?: AbortSignal): Promise<InstantValue>;
  /**
   * Evaluates `query` at `at` and returns the value of each series under its `label` value: several reads
   * (a burn-rate check's windows) in one request. An empty answer is an empty map; a NaN value is kept (the
   * caller reads it as no data, as `query` would). Throws QueryError when the answer is not an instant
   * vector, or a series lacks `label` or shares its value with another. Optional: a source without it is
   * read one query at a time.
   */
  queryByLabel?(query: string, at: number, label: string, signal?: AbortSignal): Promise<Map<string, number>>;
  /** Samples of `query` between `start` and `end` (ms) every `stepMs`; one series expected. */
  queryRange(
    query: string,
    start: number,
    end: number,
    stepMs: number,
    signal?: AbortSignal,
  ): Promise<Sample[]>;
  /** Whether the backend answers; used by /health. `version` when the backend reports one (buildinfo). */
  isOnline(
    signal?: AbortSignal,
  ): Promise<{ online: boolean; latencyMs: number; error?: string; version?: string }>;
}

/** The query answered, but with nothing to judge: an empty result or NaN (±Inf is a value, DESIGN §6). */
export class NoDataError extends VigilError {
  constructor(message: string) {
    super('NO_DATA', message);
    this.name = 'NoDataError';
  }
}

/** The query itself is wrong (bad syntax, several series where one is expected). */
export class QueryError extends VigilError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('QUERY_ERROR', message, options);
    this.name = 'QueryError';
  }
}

/** The backend could not be reached or failed (timeout, 5xx, refused, circuit open). */
export class SourceUnavailableError extends VigilError {
  readonly reason: string;

  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super('SOURCE_UNAVAILABLE', message, options);
    this.name = 'SourceUnavailableError';
    this.reason = reason;
  }
}
