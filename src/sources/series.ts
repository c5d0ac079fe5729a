import { z } from 'zod';
import type { InstantValue, Sample } from './types.js';
import { NoDataError, QueryError, SourceUnavailableError } from './types.js';

/*
 * The answer shapes Prometheus and Loki share (REFERENCE §1.4, §2.2–2.3): label sets, `[seconds, "value"]`
 * pairs, vectors, matrices and scalars. Sample values are strings because JSON cannot carry NaN or ±Inf.
 */

const labels = z.record(z.string(), z.string());
const samplePair = z.tuple([z.number(), z.string()]);

export const vectorSchema = z.array(z.looseObject({ metric: labels, value: samplePair }));
export const matrixSchema = z.array(z.looseObject({ metric: labels, values: z.array(samplePair) }));
export const scalarSchema = samplePair;

export type SeriesLabels = z.infer<typeof labels>;
export type SamplePair = z.infer<typeof samplePair>;

/**
 * Parses a sample value as Prometheus and Loki write it. `Number("+Inf")` is NaN in JS, so the
 * infinities are mapped first.
 *
 * @example parseSampleValue('+Inf') // Infinity
 */
export function parseSampleValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  const value = Number(text);
  // Number('') is 0: an empty or garbled value must not pass as a real zero.
  if (text.trim() === '' || Number.isNaN(value)) {
    const shown = text.slice(0, 40);
    throw new SourceUnavailableError(
      'bad_response',
      `the source answered a sample value "${shown}" that is not a number`,
    );
  }
  return value;
}

/**
 * Formats a label set the PromQL way, for messages naming series.
 *
 * @example formatLabels({ job: 'api', code: '500' }) // '{code="500",job="api"}'
 */
export function formatLabels(metric: SeriesLabels): string {
  const pairs = Object.keys(metric)
    .sort()
    .map((key) => `${key}=${JSON.stringify(metric[key])}`);
  return `{${pairs.join(',')}}`;
}

/**
 * The one series an SLI query must return: an empty result is no data; several series are a query
 * mistake (usually a missing `sum`), reported with the label sets so the user sees what to aggregate.
 *
 * @example pickSingleSeries([{ metric: {}, value: [1, '2'] }], 'sum(x)')
 */
export function pickSingleSeries<T extends { metric: SeriesLabels }>(result: readonly T[], query: string): T {
  const [first, ...rest] = result;
  if (first === undefined) throw new NoDataError(`the query returned no series: ${shorten(query)}`);
  if (rest.length > 0) {
    const shown = result.slice(0, 5).map((s) => formatLabels(s.metric));
    const more = result.length > 5 ? ` and ${result.length - 5} more` : '';
    throw new QueryError(
      `the query returned ${result.length} series where one is expected (aggregate them, e.g. with sum): ` +
        `${shown.join(', ')}${more}`,
    );
  }
  return first;
}

/**
 * The values of a vector keyed by one label, for a query that returns one series per read
 * (`queryByLabel`). A series without the label, or two with the same value, are a query mistake: the
 * second usually means a read returned several series (a missing `sum`).
 *
 * @example valuesByLabel([{ metric: { w: '5m' }, value: [1, '0.5'] }], 'w', q) // Map { '5m' => 0.5 }
 */
export function valuesByLabel(
  result: readonly { metric: SeriesLabels; value: SamplePair }[],
  label: string,
  query: string,
): Map<string, number> {
  const values = new Map<string, number>();
  for (const series of result) {
    const key = series.metric[label];
    if (key === undefined) {
      throw new QueryError(
        `the query returned a series without the label ${label}: ${formatLabels(series.metric)} (${shorten(query)})`,
      );
    }
    if (values.has(key)) {
      throw new QueryError(
        `the query returned several series for ${label}="${key}" where one is expected (aggregate them, e.g. with sum)`,
      );
    }
    values.set(key, parseSampleValue(series.value[1]));
  }
  return values;
}

/**
 * An instant sample as an SLI value; NaN (e.g. 0/0 with no traffic) is no data, with the reason. ±Inf is a
 * value (DESIGN §6): +Inf from a division by zero (or histogram_quantile of φ > 1) is the worst value there is.
 *
 * @example toInstantValue([1767225600, '0.25']) // { value: 0.25, at: 1767225600000 }
 */
export function toInstantValue(pair: SamplePair): InstantValue {
  const value = parseSampleValue(pair[1]);
  const at = Math.round(pair[0] * 1000);
  if (Number.isNaN(value))
    throw new NoDataError('the query returned NaN (often 0/0: no traffic in the window)');
  return { value, at };
}

/**
 * Range samples as SLI samples. NaN points (a 0/0 step with no traffic) are dropped: they carry no
 * measurement; ±Inf points are kept, as values. When nothing is left the range is no data.
 *
 * @example toSamples([[1, '1'], [2, 'NaN'], [3, '+Inf']]) // [{ at: 1000, value: 1 }, { at: 3000, value: Infinity }]
 */
export function toSamples(pairs: readonly SamplePair[]): Sample[] {
  const samples: Sample[] = [];
  let nan = 0;
  for (const [seconds, text] of pairs) {
    const value = parseSampleValue(text);
    if (Number.isNaN(value)) nan++;
    else samples.push({ at: Math.round(seconds * 1000), value });
  }
  if (samples.length === 0) {
    throw new NoDataError(nan > 0 ? `all ${nan} points of the range were NaN` : 'the range holds no points');
  }
  return samples;
}

/** Shortens a query for a message; queries can be many lines long. */
export function shorten(query: string, max = 160): string {
  const flat = query.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
