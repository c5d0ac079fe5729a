import type { z } from 'zod';
import { probeSliSchema } from '../config/schema.js';
import { formatDuration, parseDurationMs } from '../config/units.js';
import { latencyQuantileMs, type ProbeRollups } from '../prober/rollups.js';
import { type InstantValue, NoDataError, QueryError, type Sample, type SliSource } from './types.js';

/** `sli: { probe, measure }` of an SLO with `source: probes`. */
export type ProbeSli = z.infer<typeof probeSliSchema>;
export type ProbeMeasure = ProbeSli['measure'];

const QUANTILES = {
  latencyP50: 0.5,
  latencyP90: 0.9,
  latencyP95: 0.95,
  latencyP99: 0.99,
} as const satisfies Record<Exclude<ProbeMeasure, 'successRatio'>, number>;

const QUERY_RE = /^([^:[\]\s]+):([A-Za-z0-9]+)(?:\[([^\]]+)\])?$/;

/**
 * Writes the query string the `probes` source understands: `<probe>:<measure>[<window>]`, e.g.
 * `health:latencyP95[5m]`. Without a window the source's default (the watch window) applies.
 *
 * @example formatProbeQuery({ probe: 'health', measure: 'successRatio' }, 300_000) // 'health:successRatio[5m]'
 */
export function formatProbeQuery(sli: ProbeSli, windowMs?: number): string {
  return `${sli.probe}:${sli.measure}${windowMs === undefined ? '' : `[${formatDuration(windowMs)}]`}`;
}

/**
 * Reads a `probes` query back into its parts; throws QueryError on anything else.
 *
 * @example parseProbeQuery('health:latencyP95[5m]') // { sli: { probe: 'health', measure: 'latencyP95' }, windowMs: 300000 }
 */
export function parseProbeQuery(query: string): { sli: ProbeSli; windowMs?: number } {
  const match = QUERY_RE.exec(query.trim());
  const parsed = match ? probeSliSchema.safeParse({ probe: match[1], measure: match[2] }) : undefined;
  if (!match || !parsed?.success) {
    throw new QueryError(
      `invalid probes query "${query}": write <probe>:<measure>[<window>], measure one of ${probeSliSchema.shape.measure.options.join(', ')}`,
    );
  }
  if (match[3] === undefined) return { sli: parsed.data };
  const windowMs = parseDurationMs(match[3]);
  if (windowMs === undefined || windowMs <= 0)
    throw new QueryError(`invalid window "${match[3]}" in probes query "${query}"`);
  return { sli: parsed.data, windowMs };
}

/** The `probes` SLI source, with a typed method beside the string-query interface. */
export interface ProbeSliSource extends SliSource {
  readonly kind: 'probes';
  /** The measure over the window ending at `at` (ms); latency in seconds. Throws NoDataError when no runs. */
  measure(sli: ProbeSli, windowMs: number, at: number): Promise<InstantValue>;
}

export interface ProbeSourceOptions {
  rollups: Pick<ProbeRollups, 'window'>;
  /** Window for queries that name none (the watch window, DESIGN §4 `watch.window`). */
  defaultWindowMs: number;
}

/**
 * The SLI source over Vigil's own probe results (per-minute rollups in the store): success ratio and
 * latency quantiles in seconds over a window, at minute resolution (a window covers the minutes that
 * start inside it, the current partial minute included).
 *
 * @example
 *   const source = createProbeSource({ rollups, defaultWindowMs: 300_000 });
 *   await source.query('health:successRatio[1h]', Date.now()) // { value: 0.998, at: … }
 */
export function createProbeSource(options: ProbeSourceOptions): ProbeSliSource {
  const { rollups } = options;
  async function measure(sli: ProbeSli, windowMs: number, at: number): Promise<InstantValue> {
    const window = await rollups.window(sli.probe, at - windowMs, at);
    if (window.total === 0) {
      throw new NoDataError(
        `probe ${sli.probe} has no runs in the ${formatDuration(windowMs)} before ${new Date(at).toISOString()}`,
      );
    }
    if (sli.measure === 'successRatio') return { value: window.successes / window.total, at };
    const ms = latencyQuantileMs(window.histogram, QUANTILES[sli.measure]) as number;
    return { value: ms / 1000, at };
  }
  return {
    kind: 'probes',
    // Probe results are rolled up per minute: a window of less than two minutes may hold one rollup.
    scrapeIntervalMs: 60_000,
    measure,
    async query(query, at) {
      const { sli, windowMs } = parseProbeQuery(query);
      return measure(sli, windowMs ?? options.defaultWindowMs, at);
    },
    async queryRange(query, start, end, stepMs) {
      const { sli, windowMs } = parseProbeQuery(query);
      const samples: Sample[] = [];
      for (let at = start; at <= end; at += Math.max(stepMs, 1000)) {
        try {
          samples.push(await measure(sli, windowMs ?? stepMs, at));
        } catch (error) {
          if (!(error instanceof NoDataError)) throw error;
        }
      }
      if (samples.length === 0)
        throw new NoDataError(`probe ${sli.probe} has no runs between the given times`);
      return samples;
    },
    async isOnline() {
      const started = performance.now();
      try {
        await rollups.window('', 0, 0);
        return { online: true, latencyMs: performance.now() - started };
      } catch (error) {
        return { online: false, latencyMs: performance.now() - started, error: (error as Error).message };
      }
    },
  };
}
