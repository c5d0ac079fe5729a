import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { SourceConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
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
  valuesByLabel,
  vectorSchema,
} from './series.js';
import { QueryError, type SliSource, SourceUnavailableError } from './types.js';

/*
 * Prometheus HTTP API client (REFERENCE §1), also right for Mimir, Cortex and Thanos (path prefix in the
 * URL, X-Scope-OrgID from `tenant`). Queries go as POST forms so long PromQL never hits URL limits.
 */

/** Prometheus refuses range queries with more than 11,000 points per series (REFERENCE §1.3). */
export const MAX_RANGE_POINTS = 11_000;

const envelopeSchema = z.looseObject({
  status: z.enum(['success', 'error']),
  data: z.unknown().optional(),
  errorType: z.string().optional(),
  error: z.string().optional(),
  warnings: z.array(z.string()).optional(),
});

const dataSchema = z.discriminatedUnion('resultType', [
  z.looseObject({ resultType: z.literal('vector'), result: vectorSchema }),
  z.looseObject({ resultType: z.literal('matrix'), result: matrixSchema }),
  z.looseObject({ resultType: z.literal('scalar'), result: scalarSchema }),
  z.looseObject({ resultType: z.literal('string'), result: z.unknown() }),
]);

/**
 * Creates the Prometheus SLI source.
 *
 * @example
 *   const prometheus = createPrometheusSource(config.root.sources.prometheus, { dispatcher: new Agent(), metrics });
 *   const { value } = await prometheus.query('sum(rate(http_requests_total[5m]))', Date.now());
 */
export function createPrometheusSource(config: SourceConfig, deps: SourceDeps): SliSource {
  const endpoint = endpointFromConfig(config);
  const guard = createSourceGuard('prometheus', deps);
  // Lets Prometheus stop work we will no longer wait for.
  const serverTimeout = `${endpoint.timeoutMs}ms`;

  const call = async (path: string, params: Record<string, string>, query: string, signal?: AbortSignal) =>
    guard.run(async (attemptSignal) => {
      const answer = await sendRequest(
        endpoint,
        deps.dispatcher,
        { method: 'POST', path, params },
        attemptSignal,
      );
      const data = readEnvelope(endpoint, answer, query, deps.logger);
      const parsed = dataSchema.safeParse(data);
      if (!parsed.success) {
        throw new SourceUnavailableError(
          'bad_response',
          `Prometheus answered data of an unexpected shape for ${shorten(query)}`,
        );
      }
      return parsed.data;
    }, signal);

  return {
    kind: 'prometheus',
    scrapeIntervalMs: config.scrapeInterval,

    async query(query, at, signal) {
      const data = await call(
        '/api/v1/query',
        { query, time: toSeconds(at), timeout: serverTimeout },
        query,
        signal,
      );
      if (data.resultType === 'scalar') return toInstantValue(data.result);
      if (data.resultType === 'vector') return toInstantValue(pickSingleSeries(data.result, query).value);
      throw new QueryError(`the query returned a ${data.resultType}, not a number: ${shorten(query)}`);
    },

    async queryByLabel(query, at, label, signal) {
      const data = await call(
        '/api/v1/query',
        { query, time: toSeconds(at), timeout: serverTimeout },
        query,
        signal,
      );
      if (data.resultType !== 'vector') {
        throw new QueryError(
          `the query returned a ${data.resultType}, not one series per ${label}: ${shorten(query)}`,
        );
      }
      return valuesByLabel(data.result, label, query);
    },

    async queryRange(query, start, end, stepMs, signal) {
      const range = planRange(start, end, stepMs);
      const params = {
        query,
        start: toSeconds(range.start),
        end: toSeconds(range.end),
        step: toSeconds(range.stepMs),
        timeout: serverTimeout,
      };
      const data = await call('/api/v1/query_range', params, query, signal);
      if (data.resultType !== 'matrix') {
        throw new QueryError(`a range query returned a ${data.resultType}, not a matrix: ${shorten(query)}`);
      }
      return toSamples(pickSingleSeries(data.result, query).values);
    },

    async isOnline(signal) {
      const started = performance.now();
      try {
        const ready = await sendRequest(
          endpoint,
          deps.dispatcher,
          { method: 'GET', path: '/-/ready' },
          signal,
        );
        const latencyMs = performance.now() - started;
        if (ready.status !== 200)
          return { online: false, latencyMs, error: statusError('Prometheus', endpoint, ready).message };
        const version = await readBuildVersion(endpoint, deps.dispatcher, '/api/v1/status/buildinfo', signal);
        return version === undefined ? { online: true, latencyMs } : { online: true, latencyMs, version };
      } catch (error) {
        return { online: false, latencyMs: performance.now() - started, error: errorMessage(error) };
      }
    },
  };
}

/**
 * Maps a Prometheus answer to its `data`, or to the typed error of DESIGN §6: `bad_data` and `execution`
 * are the query's fault (QueryError); `timeout`, `canceled`, 5xx and non-JSON pages are the source's.
 */
export function readEnvelope(
  endpoint: HttpEndpoint,
  answer: HttpAnswer,
  query: string,
  logger?: Logger,
): unknown {
  const parsed = envelopeSchema.safeParse(parseJsonOrUndefined(answer.text));
  if (!parsed.success) {
    // Proxies, auth gateways and Prometheus itself during startup answer plain text ("Service Unavailable").
    if (answer.status >= 200 && answer.status < 300) {
      throw new SourceUnavailableError(
        'bad_response',
        `Prometheus at ${endpoint.origin} answered a body that is not its JSON envelope`,
      );
    }
    throw statusError('Prometheus', endpoint, answer);
  }
  const envelope = parsed.data;
  if (envelope.status === 'success' && answer.status < 300) {
    if (envelope.warnings?.length)
      logger?.warn({ warnings: envelope.warnings, query: shorten(query) }, 'Prometheus query warnings');
    return envelope.data;
  }
  const detail = envelope.error ?? bodySnippet(answer.text);
  switch (envelope.errorType) {
    case 'bad_data':
      throw new QueryError(`Prometheus rejected the query: ${detail}`);
    case 'execution':
      throw new QueryError(`Prometheus could not execute the query: ${detail}`);
    case 'timeout':
      throw new SourceUnavailableError('timeout', `Prometheus timed out evaluating the query: ${detail}`);
    case 'canceled':
    case 'unavailable':
      throw new SourceUnavailableError(
        'unavailable',
        `Prometheus could not serve the query (${envelope.errorType}): ${detail}`,
      );
    default: {
      const { reason } = statusError('Prometheus', endpoint, answer);
      const errorType = envelope.errorType ?? 'no error type';
      throw new SourceUnavailableError(
        reason,
        `Prometheus answered HTTP ${answer.status} (${errorType}): ${detail}`,
      );
    }
  }
}

/**
 * Plans a range query: the step is raised so the range stays within Prometheus's 11,000-point guard,
 * and the start is moved up to a multiple of the step so the same window always gives the same points
 * (Prometheus does not align them itself) and no point falls before the requested start.
 *
 * @example planRange(1_000, 601_000, 60_000) // { start: 60_000, end: 601_000, stepMs: 60_000 }
 */
export function planRange(
  start: number,
  end: number,
  stepMs: number,
): { start: number; end: number; stepMs: number } {
  if (!(end >= start)) throw new QueryError(`the range ends (${end}) before it starts (${start})`);
  const minStep = Math.ceil((end - start) / MAX_RANGE_POINTS);
  const step = Math.max(1, Math.ceil(stepMs), minStep);
  const aligned = Math.ceil(start / step) * step;
  return { start: aligned <= end ? aligned : start, end, stepMs: step };
}

/** Milliseconds as the fractional Unix seconds Prometheus takes. */
function toSeconds(ms: number): string {
  return (ms / 1000).toString();
}
