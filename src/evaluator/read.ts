import { errorMessage, VigilError } from '../errors.js';
import { shorten } from '../sources/series.js';
import type { Sample, SliSource } from '../sources/types.js';
import { NoDataError, QueryError, SourceUnavailableError } from '../sources/types.js';
import { unionByLabel } from './sli.js';

/*
 * Source reads as typed outcomes (DESIGN §6): a query error or an unreachable source is `error` (the check
 * is inconclusive, onNoData does not apply); an empty answer or NaN is `nodata` (onNoData applies). ±Inf is a
 * value (+Inf from a division by zero is the worst value there is, not missing data).
 * An aborted evaluation rethrows: the caller is shutting down, not judging.
 */

export type Read<T> = { ok: true; value: T } | { ok: false; kind: 'nodata' | 'error'; reason: string };

async function guarded<T>(
  source: SliSource,
  signal: AbortSignal | undefined,
  run: () => Promise<T>,
): Promise<Read<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    if (signal?.aborted) throw error;
    if (error instanceof NoDataError) return { ok: false, kind: 'nodata', reason: error.message };
    if (error instanceof QueryError)
      return { ok: false, kind: 'error', reason: `query error: ${error.message}` };
    if (error instanceof SourceUnavailableError) {
      return { ok: false, kind: 'error', reason: `${source.kind} unavailable: ${error.message}` };
    }
    if (error instanceof VigilError && error.code === 'QUERY_TEMPLATE') {
      return { ok: false, kind: 'error', reason: error.message };
    }
    return { ok: false, kind: 'error', reason: `${source.kind} query failed: ${errorMessage(error)}` };
  }
}

/**
 * One instant value; NaN counts as no data even if the source let it through; ±Inf is returned as a value.
 *
 * @example const read = await readValue(prometheus, 'up', Date.now(), signal);
 */
export async function readValue(
  source: SliSource,
  query: string,
  at: number,
  signal?: AbortSignal,
): Promise<Read<number>> {
  const read = await guarded(source, signal, () => source.query(query, at, signal));
  if (!read.ok) return read;
  if (Number.isNaN(read.value.value)) return { ok: false, kind: 'nodata', reason: 'value is NaN' };
  return { ok: true, value: read.value.value };
}

/** The label that carries each read's key in a joined query; Vigil's own, so no SLI query sets it. */
export const READ_LABEL = 'vigil_read';

/**
 * Several instant values at the same `at`, in the order of `reads`, each as `readValue` would give it. A
 * source with `queryByLabel` (Prometheus) answers them in one request (`unionByLabel`): a read with no
 * series is no data, NaN is no data, ±Inf a value. When the joined query is a query error (a read that is a
 * scalar, or returns several series) every read is sent alone, so each gets today's own outcome; an
 * unreachable source is the same error for every read.
 *
 * @example const [fast, slow] = await readValues(prometheus, [{ key: '5m', query: q5 }, { key: '1h', query: q1 }], at);
 */
export async function readValues(
  source: SliSource,
  reads: readonly { key: string; query: string }[],
  at: number,
  signal?: AbortSignal,
): Promise<Read<number>[]> {
  const eachAlone = () => Promise.all(reads.map((r) => readValue(source, r.query, at, signal)));
  if (source.queryByLabel === undefined || reads.length < 2) return eachAlone();
  let values: Map<string, number>;
  try {
    values = await source.queryByLabel(unionByLabel(reads, READ_LABEL), at, READ_LABEL, signal);
  } catch (error) {
    if (signal?.aborted) throw error;
    if (error instanceof QueryError) return eachAlone();
    const failed = await guarded<number>(source, signal, () => Promise.reject(error));
    return reads.map(() => failed);
  }
  return reads.map((r): Read<number> => {
    const value = values.get(r.key);
    if (value === undefined)
      return { ok: false, kind: 'nodata', reason: `the query returned no series: ${shorten(r.query)}` };
    if (Number.isNaN(value))
      return {
        ok: false,
        kind: 'nodata',
        reason: 'the query returned NaN (often 0/0: no traffic in the window)',
      };
    return { ok: true, value };
  });
}

/**
 * Samples of a range query, without NaN points (±Inf ones stay: they are values); none left is no data.
 *
 * @example const read = await readSamples(prometheus, q, at - 300_000, at, 30_000, signal);
 */
export async function readSamples(
  source: SliSource,
  query: string,
  start: number,
  end: number,
  stepMs: number,
  signal?: AbortSignal,
): Promise<Read<number[]>> {
  const read = await guarded<Sample[]>(source, signal, () =>
    source.queryRange(query, start, end, stepMs, signal),
  );
  if (!read.ok) return read;
  const values = read.value.map((s) => s.value).filter((v) => !Number.isNaN(v));
  if (values.length === 0) return { ok: false, kind: 'nodata', reason: 'no samples in the range but NaN' };
  return { ok: true, value: values };
}
