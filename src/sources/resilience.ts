import {
  type CircuitBreakerPolicy,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  isBrokenCircuitError,
  type RetryPolicy,
  retry,
} from 'cockatiel';
import { untilAborted } from '../abort.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { QueryError, SourceUnavailableError } from './types.js';

/*
 * The one place where source retries and circuit breaking are configured (STYLE habit 7). Each source
 * instance owns one guard, so a dead Loki does not open Prometheus's circuit.
 */

/** Tuning of a source's retry and circuit breaker. */
export interface ResilienceOptions {
  /** Retries after the first attempt, for transient failures only. */
  retries: number;
  retryInitialDelayMs: number;
  retryMaxDelayMs: number;
  /** Consecutive failed attempts that open the circuit. */
  breakerThreshold: number;
  /** How long the circuit stays open before one trial request is let through. */
  halfOpenAfterMs: number;
}

export const DEFAULT_RESILIENCE: ResilienceOptions = {
  retries: 2,
  retryInitialDelayMs: 200,
  retryMaxDelayMs: 2_000,
  breakerThreshold: 5,
  halfOpenAfterMs: 30_000,
};

/**
 * Reasons worth another attempt: the backend may answer the same request a moment later. Auth
 * failures, 4xx and garbled answers will not get better by asking again, so they fail at once.
 */
const TRANSIENT_REASONS = new Set([
  'timeout',
  'connect',
  'dns',
  'socket',
  'unavailable',
  'http_5xx',
  'rate_limited',
]);

/** Whether an error is a transient source failure (the only kind retried and counted by the breaker). */
export function isTransient(error: unknown): boolean {
  return error instanceof SourceUnavailableError && TRANSIENT_REASONS.has(error.reason);
}

/** Runs source operations under retry, circuit breaker and metrics. */
export interface SourceGuard {
  /** Runs `operation` (one HTTP attempt) with retries; `signal` is the caller's deadline for all attempts. */
  run<T>(operation: (signal: AbortSignal | undefined) => Promise<T>, signal?: AbortSignal): Promise<T>;
}

export interface SourceGuardDeps {
  metrics?: Metrics;
  logger?: Logger;
  resilience?: Partial<ResilienceOptions>;
}

/**
 * Builds the guard of one source: exponential backoff retries of transient failures (bounded by the
 * caller's signal), a consecutive-failure circuit breaker, `vigil_source_query_duration_seconds` per
 * attempt and `vigil_source_errors_total{reason}` per failed attempt.
 *
 * @example
 *   const guard = createSourceGuard('prometheus', { metrics });
 *   const value = await guard.run((signal) => fetchOnce(signal), AbortSignal.timeout(30_000));
 */
export function createSourceGuard(source: string, deps: SourceGuardDeps = {}): SourceGuard {
  const options = { ...DEFAULT_RESILIENCE, ...deps.resilience };
  const transient = handleWhen(isTransient);
  const retryPolicy: RetryPolicy = retry(transient, {
    maxAttempts: options.retries,
    backoff: new ExponentialBackoff({
      initialDelay: options.retryInitialDelayMs,
      maxDelay: options.retryMaxDelayMs,
    }),
  });
  const breaker: CircuitBreakerPolicy = circuitBreaker(transient, {
    halfOpenAfter: options.halfOpenAfterMs,
    breaker: new ConsecutiveBreaker(options.breakerThreshold),
  });
  retryPolicy.onRetry((event) => {
    const reason = 'error' in event ? errorReason(event.error) : 'result';
    deps.logger?.debug(
      { source, reason, attempt: event.attempt, delayMs: event.delay },
      'retrying source query',
    );
  });
  breaker.onBreak(() => deps.logger?.warn({ source }, 'source circuit opened after consecutive failures'));
  breaker.onReset(() => deps.logger?.info({ source }, 'source circuit closed again'));

  const countError = (error: unknown): void => {
    const reason = errorReason(error);
    if (reason !== undefined) deps.metrics?.sourceErrors.inc({ source, reason });
  };

  const attempt = async <T>(
    operation: (signal: AbortSignal | undefined) => Promise<T>,
    signal?: AbortSignal,
  ) => {
    // cockatiel's backoff wait ignores the signal, so an attempt that starts after the deadline stops here.
    if (signal?.aborted)
      throw new SourceUnavailableError('aborted', `${source} query abandoned: the caller's deadline passed`);
    const stopTimer = deps.metrics?.sourceQueryDuration.startTimer({ source });
    try {
      return await operation(signal);
    } catch (error) {
      countError(error);
      throw error;
    } finally {
      stopTimer?.();
    }
  };

  return {
    async run(operation, signal) {
      const attempts = retryPolicy.execute(() => breaker.execute(() => attempt(operation, signal)), signal);
      try {
        // Rejects as soon as the caller's signal aborts, even while cockatiel sleeps between attempts.
        return await (signal
          ? untilAborted(
              attempts,
              signal,
              () =>
                new SourceUnavailableError(
                  'aborted',
                  `${source} query abandoned: the caller's deadline passed`,
                ),
            )
          : attempts);
      } catch (error) {
        if (isBrokenCircuitError(error)) {
          const open = new SourceUnavailableError(
            'circuit_open',
            `${source} is failing; queries are paused for ${Math.round(options.halfOpenAfterMs / 1000)}s after ` +
              `${options.breakerThreshold} consecutive failures`,
            { cause: error },
          );
          countError(open);
          throw open;
        }
        throw error;
      }
    },
  };
}

/** The error's `reason` label, or undefined for outcomes that are not source errors (no data). */
function errorReason(error: unknown): string | undefined {
  if (error instanceof SourceUnavailableError) return error.reason === 'aborted' ? undefined : error.reason;
  if (error instanceof QueryError) return 'bad_query';
  return undefined;
}
