import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { SourceConfig } from '../config/schema.js';
import { endpointFromConfig, type SourceDeps, sendRequest } from './http.js';
import { type LokiData, readAnswer, toNanos } from './loki.js';
import { createSourceGuard } from './resilience.js';
import { shorten } from './series.js';
import { QueryError } from './types.js';

/*
 * Log lines from Loki (issue 19, patterns checks): `query_range` on a LogQL log query, forward in time,
 * in pages under Loki's `max_entries_limit_per_query` (REFERENCE §2.3; recorded answers in
 * test/fixtures/loki). Metric queries are loki.ts.
 */

/** One stream of a log query: labels and `[unix ns string, line, structured metadata?]` entries. */
const streamsSchema = z.array(
  z.looseObject({
    stream: z.record(z.string(), z.string()).default({}),
    values: z.array(z.tuple([z.string().regex(/^\d+$/), z.string()], z.unknown())),
  }),
);

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
