import { type Dispatcher, request } from 'undici';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Metrics } from '../telemetry/metrics.js';

/**
 * Live progress of a running k6, read from its REST API on the `--address` port (REFERENCE §4.6;
 * recordings in fixtures/k6/rest-*.json). `/v1/metrics` answers JSON with `Content-Type: text/plain`,
 * so bodies are read as text and parsed; the `data` array's order is Go map order.
 */

/** One progress report: what the watch timeline, `GET /api/v1/watches/{id}` and `vigil wait` show. */
export interface LoadProgress {
  profile: string;
  /** `queued`: waiting for another k6 run to finish; `running`: k6 is up. */
  state: 'queued' | 'running';
  /** 1-based place in line while queued. */
  queuePosition: number | null;
  elapsedMs: number;
  vus: number | null;
  vusMax: number | null;
  requests: number | null;
  requestsPerSecond: number | null;
  /** Share of failed HTTP requests so far. */
  failedRate: number | null;
  p95Ms: number | null;
  iterations: number | null;
  /** k6's own view: true while at least one threshold is breached. */
  thresholdsBreached: boolean | null;
}

const statusSchema = z.object({
  data: z.object({
    attributes: z.object({
      status: z.number().optional(),
      vus: z.number().nullable().optional(),
      'vus-max': z.number().nullable().optional(),
      tainted: z.boolean().nullable().optional(),
      running: z.boolean().optional(),
    }),
  }),
});

const metricsSchema = z.object({
  data: z.array(
    z.object({
      id: z.string(),
      attributes: z.object({ sample: z.record(z.string(), z.number()) }),
    }),
  ),
});

export type K6Status = z.infer<typeof statusSchema>['data']['attributes'];
export type K6Metrics = Map<string, Record<string, number>>;

/**
 * Turns one `/v1/status` and one `/v1/metrics` answer into a progress report (pure).
 *
 * @example progressFrom('smoke', 5_000, status, metrics).p95Ms // 301.2
 */
export function progressFrom(
  profile: string,
  elapsedMs: number,
  status: K6Status | null,
  metrics: K6Metrics | null,
): LoadProgress {
  const sample = (name: string, key: string): number | null => metrics?.get(name)?.[key] ?? null;
  return {
    profile,
    state: 'running',
    queuePosition: null,
    elapsedMs,
    vus: status?.vus ?? sample('vus', 'value'),
    vusMax: status?.['vus-max'] ?? sample('vus_max', 'value'),
    requests: sample('http_reqs', 'count'),
    requestsPerSecond: sample('http_reqs', 'rate'),
    failedRate: sample('http_req_failed', 'rate'),
    p95Ms: sample('http_req_duration', 'p(95)'),
    iterations: sample('iterations', 'count'),
    thresholdsBreached: status?.tainted ?? null,
  };
}

async function getJson(
  url: string,
  timeoutMs: number,
  signal: AbortSignal,
  dispatcher?: Dispatcher,
): Promise<unknown> {
  const response = await request(url, {
    method: 'GET',
    signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    ...(dispatcher ? { dispatcher } : {}),
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}`);
  return JSON.parse(text);
}

/**
 * Reads k6's status and metrics once. Resolves to null when the API does not answer (not up yet, or
 * already gone at the end of the run) — progress is best effort and never fails a run.
 *
 * @example await readK6Progress('http://127.0.0.1:6565', 'smoke', 5_000, { signal })
 */
export async function readK6Progress(
  apiBaseUrl: string,
  profile: string,
  elapsedMs: number,
  options: { signal: AbortSignal; timeoutMs?: number; dispatcher?: Dispatcher },
): Promise<LoadProgress | null> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  try {
    const [statusJson, metricsJson] = await Promise.allSettled([
      getJson(`${apiBaseUrl}/v1/status`, timeoutMs, options.signal, options.dispatcher),
      getJson(`${apiBaseUrl}/v1/metrics`, timeoutMs, options.signal, options.dispatcher),
    ]);
    const status = statusSchema.safeParse(statusJson.status === 'fulfilled' ? statusJson.value : null);
    const metrics = metricsSchema.safeParse(metricsJson.status === 'fulfilled' ? metricsJson.value : null);
    if (!status.success && !metrics.success) return null;
    const byName: K6Metrics | null = metrics.success
      ? new Map(metrics.data.data.map((m) => [m.id, m.attributes.sample]))
      : null;
    return progressFrom(profile, elapsedMs, status.success ? status.data.data.attributes : null, byName);
  } catch {
    return null;
  }
}

export interface ProgressLoopOptions {
  apiBaseUrl: string;
  profile: string;
  clock: Clock;
  startedAtMs: number;
  intervalMs: number;
  signal: AbortSignal;
  onProgress: (progress: LoadProgress) => void;
  dispatcher?: Dispatcher;
}

/**
 * Polls k6 every `intervalMs` of clock time until `signal` aborts; reports each answer. Resolves
 * (never rejects) when stopped. Returns the last progress seen.
 *
 * @example const last = await pollK6Progress({ apiBaseUrl, profile, clock, startedAtMs, intervalMs: 5_000, signal, onProgress });
 */
export async function pollK6Progress(options: ProgressLoopOptions): Promise<LoadProgress | null> {
  let last: LoadProgress | null = null;
  while (!options.signal.aborted) {
    try {
      await options.clock.sleep(options.intervalMs, options.signal);
    } catch {
      break;
    }
    const progress = await readK6Progress(
      options.apiBaseUrl,
      options.profile,
      options.clock.now() - options.startedAtMs,
      { signal: options.signal, ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}) },
    );
    if (progress && !options.signal.aborted) {
      last = progress;
      try {
        options.onProgress(progress);
      } catch {
        // a failing listener must not stop the polling or the run
      }
    }
  }
  return last;
}

const PROGRESS_MEASURES = {
  vus: (p: LoadProgress) => p.vus,
  requests: (p: LoadProgress) => p.requests,
  failed_ratio: (p: LoadProgress) => p.failedRate,
  p95_seconds: (p: LoadProgress) => (p.p95Ms === null ? null : p.p95Ms / 1000),
  elapsed_seconds: (p: LoadProgress) => p.elapsedMs / 1000,
} satisfies Record<string, (p: LoadProgress) => number | null>;

/**
 * Mirrors a progress report on `vigil_loadtest_progress{profile,measure}`; with `null`, removes the
 * profile's series (the run ended — a stale "running" figure would mislead a dashboard).
 *
 * @example showProgress(metrics, 'smoke', progress); … showProgress(metrics, 'smoke', null);
 */
export function showProgress(metrics: Metrics, profile: string, progress: LoadProgress | null): void {
  for (const [measure, read] of Object.entries(PROGRESS_MEASURES)) {
    const value = progress ? read(progress) : null;
    if (value === null) metrics.loadtestProgress.remove({ profile, measure });
    else metrics.loadtestProgress.set({ profile, measure }, value);
  }
}
