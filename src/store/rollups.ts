import type { ProbeResult } from '../prober/types.js';
import type { Db } from './db.js';

/*
 * Per-probe, per-minute rollups of probe results (table probe_rollups): successes, total, the latency
 * sum and a latency histogram over fixed logarithmic buckets. Histograms add up across minutes, so the
 * success ratio and latency quantiles of any window are computable without keeping every run.
 */

const MINUTE_MS = 60_000;
/** How long rollups are kept by default: the `probes` SLI source answers over the last 30 days. */
export const ROLLUP_RETENTION_MS = 30 * 86_400_000;

/**
 * Upper bounds (ms) of the latency buckets: 0.1 ms × 2^(i/4), i = 0…80, so 0.1 ms to ~110 s with each
 * bucket 19 % wider than the one before (a quantile is off by at most ~9 %). One more bucket takes
 * everything slower.
 */
export const LATENCY_BUCKETS_MS: readonly number[] = Array.from({ length: 81 }, (_, i) => 0.1 * 2 ** (i / 4));

/**
 * The histogram bucket a latency falls in (the last index, LATENCY_BUCKETS_MS.length, is overflow).
 *
 * @example bucketIndex(0.05) // 0
 */
export function bucketIndex(latencyMs: number): number {
  if (!(latencyMs > 0.1)) return 0;
  const i = Math.ceil(4 * Math.log2(latencyMs / 0.1) - 1e-9);
  return Math.min(i, LATENCY_BUCKETS_MS.length);
}

/**
 * Estimates the q-quantile (0…1) of a histogram in ms, interpolating geometrically inside the bucket;
 * undefined for an empty histogram.
 *
 * @example latencyQuantileMs(histogram, 0.95) // 412.7
 */
export function latencyQuantileMs(histogram: readonly number[], q: number): number | undefined {
  const total = histogram.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const rank = Math.max(q, 0) * total;
  let before = 0;
  for (const [i, count] of histogram.entries()) {
    if (count === 0 || before + count < rank) {
      before += count;
      continue;
    }
    const fraction = Math.min(1, Math.max(0, (rank - before) / count));
    const upper = LATENCY_BUCKETS_MS[i];
    const lower = i === 0 ? 0 : (LATENCY_BUCKETS_MS[i - 1] as number);
    if (upper === undefined) return lower; // overflow: the largest bound is all we know
    return i === 0 ? upper * fraction : lower * (upper / lower) ** fraction;
  }
  return LATENCY_BUCKETS_MS.at(-1);
}

/** The runs of one probe summed over a window. */
export interface RollupWindow {
  successes: number;
  total: number;
  latencySumMs: number;
  /** Counts per latency bucket (LATENCY_BUCKETS_MS, then overflow). */
  histogram: number[];
}

export interface ProbeRollups {
  /** Adds one run to its probe's minute. */
  record(probe: string, at: number, success: boolean, latencyMs: number): void;
  /** Adds a ProbeResult (its start time, success and duration). */
  recordResult(result: ProbeResult): void;
  /** Sums the minutes that start in [floor(fromMs to the minute), toMs). */
  window(probe: string, fromMs: number, toMs: number): RollupWindow;
  /** Deletes minutes before `beforeMs`; returns how many rows went. */
  prune(beforeMs: number): number;
}

function emptyHistogram(): number[] {
  return new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
}

function addInto(into: number[], text: string): void {
  const counts = JSON.parse(text) as number[];
  for (const [i, c] of counts.entries()) into[i] = (into[i] ?? 0) + c;
}

function trimmed(histogram: number[]): string {
  let end = histogram.length;
  while (end > 0 && histogram[end - 1] === 0) end--;
  return JSON.stringify(histogram.slice(0, end));
}

interface Row {
  successes: number;
  total: number;
  latency_sum_ms: number;
  latency_hist: string;
}

/**
 * The rollup repository over `probe_rollups`, for one service's probes (probe names repeat across the
 * services of a fleet). Pruning is by age, for every service.
 *
 * @example
 *   const rollups = createProbeRollups(openDatabase(':memory:'), 'prep-api');
 *   rollups.recordResult(result);
 *   rollups.window('health', now - 300_000, now).total // 20
 */
export function createProbeRollups(db: Db, service = ''): ProbeRollups {
  const select = db.prepare<[string, string, number], Row>(
    `SELECT successes, total, latency_sum_ms, latency_hist FROM probe_rollups
     WHERE service = ? AND probe = ? AND minute = ?`,
  );
  const upsert = db.prepare(
    `INSERT INTO probe_rollups (service, probe, minute, successes, total, latency_sum_ms, latency_hist)
     VALUES (@service, @probe, @minute, @successes, @total, @sum, @hist)
     ON CONFLICT (service, probe, minute) DO UPDATE SET successes = excluded.successes, total = excluded.total,
       latency_sum_ms = excluded.latency_sum_ms, latency_hist = excluded.latency_hist`,
  );
  const range = db.prepare<[string, string, number, number], Row>(
    `SELECT successes, total, latency_sum_ms, latency_hist FROM probe_rollups
     WHERE service = ? AND probe = ? AND minute >= ? AND minute < ?`,
  );
  const prune = db.prepare('DELETE FROM probe_rollups WHERE minute < ?');
  const record = db.transaction((probe: string, at: number, success: boolean, latencyMs: number) => {
    const minute = Math.floor(at / MINUTE_MS) * MINUTE_MS;
    const row = select.get(service, probe, minute);
    const histogram = emptyHistogram();
    if (row) addInto(histogram, row.latency_hist);
    const index = bucketIndex(latencyMs);
    histogram[index] = (histogram[index] ?? 0) + 1;
    upsert.run({
      service,
      probe,
      minute,
      successes: (row?.successes ?? 0) + (success ? 1 : 0),
      total: (row?.total ?? 0) + 1,
      sum: (row?.latency_sum_ms ?? 0) + latencyMs,
      hist: trimmed(histogram),
    });
  });
  const rollups: ProbeRollups = {
    record: (probe, at, success, latencyMs) => record(probe, at, success, latencyMs),
    recordResult: (result) =>
      record(result.probe, Date.parse(result.startedAt), result.success, result.durationMs),
    window(probe, fromMs, toMs) {
      const from = Math.floor(fromMs / MINUTE_MS) * MINUTE_MS;
      const sum: RollupWindow = { successes: 0, total: 0, latencySumMs: 0, histogram: emptyHistogram() };
      for (const row of range.iterate(service, probe, from, toMs)) {
        sum.successes += row.successes;
        sum.total += row.total;
        sum.latencySumMs += row.latency_sum_ms;
        addInto(sum.histogram, row.latency_hist);
      }
      return sum;
    },
    prune: (beforeMs) => prune.run(Math.floor(beforeMs / MINUTE_MS) * MINUTE_MS).changes,
  };
  return rollups;
}

/**
 * Gives the rows written before fleets (service '') to the one service of a single-service config, so its
 * probe history and load-run baselines carry over an upgrade. A fleet leaves them: whose they were is
 * unknown, and they age out with retention. Returns how many rows moved.
 *
 * @example adoptUnownedRows(db, 'prep-api') // 1440
 */
export function adoptUnownedRows(db: Db, service: string): number {
  return db.transaction(() => {
    const rollups = db
      .prepare("UPDATE OR IGNORE probe_rollups SET service = ? WHERE service = ''")
      .run(service).changes;
    db.prepare("DELETE FROM probe_rollups WHERE service = ''").run();
    const runs = db.prepare("UPDATE loadtest_runs SET service = ? WHERE service = ''").run(service).changes;
    return rollups + runs;
  })();
}
