import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { SourceConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import {
  bodySnippet,
  endpointFromConfig,
  type HttpAnswer,
  type HttpEndpoint,
  parseJsonOrUndefined,
  readBuildVersion,
  type SourceDeps,
  sendRequest,
  statusError,
} from './http.js';
import { createSourceGuard } from './resilience.js';
import {
  matrixSchema,
  pickSingleSeries,
  scalarSchema,
  shorten,
  toInstantValue,
  toSamples,
  vectorSchema,
} from './series.js';
import { QueryError, type SliSource, SourceUnavailableError } from './types.js';

/*
 * Loki HTTP API client for LogQL metric queries (REFERENCE §2, recorded answers in test/fixtures/loki).
 * Loki quirks handled here: bare integer timestamps are nanoseconds (sent as strings, never floats);
 * errors are plain text even under a JSON content type; steps with no data are absent from a matrix.
 */

const successSchema = z.looseObject({
  status: z.literal('success'),
  data: z.discriminatedUnion('resultType', [
    z.looseObject({ resultType: z.literal('vector'), result: vectorSchema }),
    z.looseObject({ resultType: z.literal('matrix'), result: matrixSchema }),
    z.looseObject({ resultType: z.literal('scalar'), result: scalarSchema }),
    z.looseObject({ resultType: z.literal('streams'), result: z.array(z.unknown()) }),
  ]),
});
type LokiData = z.infer<typeof successSchema>['data'];

/** One stream of a log query: labels and `[unix ns string, line, structured metadata?]` entries. */
const streamsSchema = z.array(
  z.looseObject({
    stream: z.record(z.string(), z.string()).default({}),
    values: z.array(z.tuple([z.string().regex(/^\d+$/), z.string()], z.unknown())),
  }),
);

/** Some Loki versions and gateways wrap errors in JSON; 2.8 sends the bare message. */
const errorBodySchema = z.looseObject({ message: z.string().optional(), error: z.string().optional() });

/** Loki's own range guard, mirrored so a long window raises the step instead of failing (REFERENCE §2.3). */
const MAX_RANGE_POINTS = 11_000;

/**
 * Creates the Loki SLI source (metric queries only: a log query is a QueryError).
 *
 * @example
 *   const loki = createLokiSource({ url: 'http://127.0.0.1:3100', timeout: 10_000, headers: {} }, { dispatcher });
 *   const { value } = await loki.query('sum(count_over_time({app="prep-api"} |= "error" [5m]))', Date.now());
 */
export function createLokiSource(config: SourceConfig, deps: SourceDeps): SliSource {
  const endpoint = endpointFromConfig(config);
  const guard = createSourceGuard('loki', deps);

  const call = (path: string, params: Record<string, string>, signal?: AbortSignal) =>
    guard.run(async (attemptSignal) => {
      const answer = await sendRequest(
        endpoint,
        deps.dispatcher,
        { method: 'GET', path, params },
        attemptSignal,
      );
      return readAnswer(endpoint, answer);
    }, signal);

  return {
    kind: 'loki',
    scrapeIntervalMs: config.scrapeInterval,

    async query(query, at, signal) {
      const data = await call('/loki/api/v1/query', { query, time: toNanos(at) }, signal);
      if (data.resultType === 'scalar') return toInstantValue(data.result);
      if (data.resultType === 'vector') return toInstantValue(pickSingleSeries(data.result, query).value);
      throw notMetric(query);
    },

    async queryRange(query, start, end, stepMs, signal) {
      if (!(end >= start)) throw new QueryError(`the range ends (${end}) before it starts (${start})`);
      const step = Math.max(1, Math.ceil(stepMs), Math.ceil((end - start) / MAX_RANGE_POINTS));
      const params = { query, start: toNanos(start), end: toNanos(end), step: (step / 1000).toString() };
      const data = await call('/loki/api/v1/query_range', params, signal);
      if (data.resultType === 'matrix') return toSamples(pickSingleSeries(data.result, query).values);
      if (data.resultType === 'streams') throw notMetric(query);
      throw new QueryError(`a range query returned a ${data.resultType}, not a matrix: ${shorten(query)}`);
    },

    async isOnline(signal) {
      const started = performance.now();
      try {
        const ready = await sendRequest(endpoint, deps.dispatcher, { method: 'GET', path: '/ready' }, signal);
        const latencyMs = performance.now() - started;
        if (ready.status !== 200)
          return { online: false, latencyMs, error: statusError('Loki', endpoint, ready).message };
        const version = await readBuildVersion(
          endpoint,
          deps.dispatcher,
          '/loki/api/v1/status/buildinfo',
          signal,
        );
        return version === undefined ? { online: true, latencyMs } : { online: true, latencyMs, version };
      } catch (error) {
        return { online: false, latencyMs: performance.now() - started, error: errorMessage(error) };
      }
    },
  };
}

/**
 * Maps a Loki answer to its data or a typed error. Loki answers 400 for a query it cannot parse or run,
 * with the message as plain text; anything else non-2xx is the source's problem.
 */
export function readAnswer(endpoint: HttpEndpoint, answer: HttpAnswer): LokiData {
  const json = parseJsonOrUndefined(answer.text);
  if (answer.status >= 200 && answer.status < 300) {
    const parsed = successSchema.safeParse(json);
    if (!parsed.success) {
      throw new SourceUnavailableError(
        'bad_response',
        `Loki at ${endpoint.origin} answered a body that is not its JSON envelope`,
      );
    }
    return parsed.data.data;
  }
  if (answer.status === 400 || answer.status === 422) {
    const wrapped = errorBodySchema.safeParse(json);
    const detail =
      (wrapped.success ? (wrapped.data.message ?? wrapped.data.error) : undefined) ??
      bodySnippet(answer.text);
    throw new QueryError(`Loki rejected the query: ${detail}`);
  }
  throw statusError('Loki', endpoint, answer);
}

function notMetric(query: string): QueryError {
  return new QueryError(
    `this is a log query, not a metric query; wrap it in a range aggregation such as ` +
      `sum(count_over_time(<selector> [5m])): ${shorten(query)}`,
  );
}

/**
 * Milliseconds as the integer nanosecond string Loki reads (a float would lose precision).
 *
 * @example toNanos(1795763520000) // '1795763520000000000'
 */
export function toNanos(ms: number): string {
  return (BigInt(Math.round(ms)) * 1_000_000n).toString();
}

/** One log line: time (ms), the line, and its stream labels (with `| json`, every extracted field). */
export interface LogEntry {
  at: number;
  line: string;
  labels: Record<string, string>;
}

/** What a paged read of log lines returned. */
export interface LogRead {
  /** Oldest first. */
  lines: LogEntry[];
  /** True when the range held more than `maxLines`: the read stopped early (the first `maxLines` lines). */
  sampled: boolean;
  pages: number;
  /** Wall time of the whole read, ms. */
  durationMs: number;
}

/** Reads the lines of a LogQL log query (DESIGN §5 log signatures), paging by timestamp. */
export interface LogReader {
  readLines(
    query: string,
    start: number,
    end: number,
    options: { maxLines: number; signal?: AbortSignal },
  ): Promise<LogRead>;
}

/** Loki's default `max_entries_limit_per_query`: the most lines one query may ask for. */
export const LOKI_MAX_ENTRIES_PER_QUERY = 5_000;

const MAX_ENTRIES_ERROR = /max entries limit per query exceeded.*\((\d+) > (\d+)\)/;

interface RawEntry {
  ns: bigint;
  entry: LogEntry;
}

function pageEntries(data: LokiData, query: string): RawEntry[] {
  if (data.resultType !== 'streams') {
    throw new QueryError(`a patterns check needs a log query, not a metric query: ${shorten(query)}`);
  }
  const parsed = streamsSchema.safeParse(data.result);
  if (!parsed.success) throw new QueryError('Loki answered streams that are not [timestamp, line] pairs');
  const out: RawEntry[] = [];
  for (const stream of parsed.data) {
    for (const value of stream.values) {
      const ns = BigInt(value[0]);
      out.push({ ns, entry: { at: Number(ns / 1_000_000n), line: value[1], labels: stream.stream } });
    }
  }
  // Streams come one after another; a page is read in time order whatever the stream.
  out.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
  return out;
}

/**
 * Creates a reader of log lines from Loki's `query_range` (REFERENCE §2.3). Pages go forward in time,
 * each asking at most `pageSize` lines (Loki refuses more than its `max_entries_limit_per_query`, 5,000 by
 * default; a Loki configured lower says so in its 400, and the reader retries with its number). The next
 * page starts at the last timestamp seen (`start` is inclusive), skipping the lines of that instant it
 * already has; `end` is exclusive. Stops at `maxLines` and says it sampled.
 *
 * @example
 *   const logs = createLokiLogReader({ url: 'http://127.0.0.1:3100', timeout: 10_000, headers: {} }, { dispatcher });
 *   const { lines, sampled } = await logs.readLines('{app="prep-api"} | json | level="error"', from, to, { maxLines: 20_000 });
 */
export function createLokiLogReader(
  config: SourceConfig,
  deps: SourceDeps,
  options: { pageSize?: number } = {},
): LogReader {
  const endpoint = endpointFromConfig(config);
  const guard = createSourceGuard('loki', deps);
  let pageSize = options.pageSize ?? LOKI_MAX_ENTRIES_PER_QUERY;

  const page = (params: Record<string, string>, signal?: AbortSignal) =>
    guard.run(async (attemptSignal) => {
      const answer = await sendRequest(
        endpoint,
        deps.dispatcher,
        { method: 'GET', path: '/loki/api/v1/query_range', params },
        attemptSignal,
      );
      return readAnswer(endpoint, answer);
    }, signal);

  const fetchPage = async (
    query: string,
    startNs: bigint,
    endNs: bigint,
    limit: number,
    signal?: AbortSignal,
  ): Promise<{ entries: RawEntry[]; limit: number }> => {
    const params = {
      query,
      start: startNs.toString(),
      end: endNs.toString(),
      limit: String(limit),
      direction: 'forward',
    };
    try {
      return { entries: pageEntries(await page(params, signal), query), limit };
    } catch (error) {
      const lower = error instanceof QueryError ? MAX_ENTRIES_ERROR.exec(error.message) : null;
      const allowed = lower ? Number(lower[2]) : Number.NaN;
      if (!(allowed > 0 && allowed < limit)) throw error;
      pageSize = allowed;
      return {
        entries: pageEntries(await page({ ...params, limit: String(allowed) }, signal), query),
        limit: allowed,
      };
    }
  };

  return {
    async readLines(query, start, end, { maxLines, signal }) {
      const started = performance.now();
      const lines: LogEntry[] = [];
      const endNs = BigInt(toNanos(end));
      let startNs = BigInt(toNanos(start));
      // Lines already taken at the page boundary's instant, so the next page (starting there) skips them.
      let boundary = new Map<string, number>();
      let pages = 0;
      let sampled = false;
      while (startNs < endNs) {
        const wanted = Math.min(pageSize, maxLines - lines.length + sumOf(boundary));
        const { entries, limit } = await fetchPage(query, startNs, endNs, Math.max(1, wanted), signal);
        pages++;
        const skip = new Map(boundary);
        let added = 0;
        for (const { ns, entry } of entries) {
          if (ns === startNs) {
            const key = entryKey(entry);
            const left = skip.get(key) ?? 0;
            if (left > 0) {
              skip.set(key, left - 1);
              continue;
            }
          }
          if (lines.length >= maxLines) {
            sampled = true;
            break;
          }
          lines.push(entry);
          added++;
        }
        if (sampled || entries.length < limit) break;
        const lastNs = (entries[entries.length - 1] as RawEntry).ns;
        if (lastNs === startNs && added === 0) {
          // A whole page at one instant, all seen before: more lines share it than a page holds.
          sampled = true;
          startNs += 1n;
          boundary = new Map();
          continue;
        }
        if (lines.length >= maxLines) {
          sampled = true;
          break;
        }
        boundary =
          lastNs === startNs
            ? addBoundary(boundary, entries, lastNs)
            : addBoundary(new Map(), entries, lastNs);
        startNs = lastNs;
      }
      return { lines, sampled, pages, durationMs: performance.now() - started };
    },
  };
}

function entryKey(entry: LogEntry): string {
  return `${entry.line}\u0000${JSON.stringify(entry.labels)}`;
}

function sumOf(counts: Map<string, number>): number {
  let sum = 0;
  for (const n of counts.values()) sum += n;
  return sum;
}

function addBoundary(
  into: Map<string, number>,
  entries: readonly RawEntry[],
  ns: bigint,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const { ns: at, entry } of entries) {
    if (at !== ns) continue;
    const key = entryKey(entry);
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  // A page that started and ended on one instant saw only part of it: the earlier pages' lines stay skipped.
  for (const [key, n] of into) out.set(key, Math.max(out.get(key) ?? 0, n));
  return out;
}
