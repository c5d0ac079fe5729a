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
/** The `data` of a successful Loki answer. */
export type LokiData = z.infer<typeof successSchema>['data'];

/** Some Loki versions and gateways wrap errors in JSON; 2.8 sends the bare message. */
const errorBodySchema = z.looseObject({ message: z.string().optional(), error: z.string().optional() });

/** Loki's own range guard, mirrored so a long window raises the step instead of failing (REFERENCE §2.3). */
const MAX_RANGE_POINTS = 11_000;

/**
 * Creates the Loki SLI source (metric queries only: a log query is a QueryError; log lines are read by
 * loki-logs.ts).
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
