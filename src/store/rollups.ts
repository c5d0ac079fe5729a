import type { ProbeResult } from '../prober/types.js';
import type { Db } from './db.js';

/*
 * Per-probe, per-minute rollups of probe results (table probe_rollups): successes, total, the latency
 * sum and a latency histogram over fixed logarithmic buckets. Histograms add up across minutes, so the
 * success ratio and latency quantiles of any window are computable without keeping every run.
 */

const MINUTE_MS = 60_000;
/**
 * While writes fail (a full disk, a locked store), pending runs are kept for the next flush, but only the
 * newest minutes of them: 10,000 probes every 30 s gather ~20,000 runs a minute, so holding on to
 * everything would grow without bound.
 */
export const PENDING_KEPT_MINUTES = 10;
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
  /** Adds one run to its probe's minute and writes it (with anything pending) now, in one transaction. */
  record(probe: string, at: number, success: boolean, latencyMs: number): void;
  /**
   * Adds a ProbeResult (its start time, success and duration) to its probe's minute in memory; the next
   * flush() writes it. window() sees it at once.
   */
  recordResult(result: ProbeResult): void;
  /** Writes every pending minute in one transaction and returns how many rows it wrote. */
  flush(): number;
  /** How many runs recordResult has gathered that no flush has written yet. */
  pendingRuns(): number;
  /** Sums the minutes that start in [floor(fromMs to the minute), toMs), written or pending. */
  window(probe: string, fromMs: number, toMs: number): RollupWindow;
  /** Writes what is pending, then deletes minutes before `beforeMs`; returns how many rows went. */
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

/** The runs of one probe-minute not yet written. */
interface PendingMinute {
  successes: number;
  total: number;
  /**
   * Each run's latency in arrival order, not their sum: they are added one by one onto the stored sum,
   * as a write per run did, so the floating-point sum (and the histogram) come out bit for bit the same.
   */
  latenciesMs: number[];
}

/** A stored minute (or none) with its pending runs added, run by run. */
function withPending(row: Row | undefined, pending: PendingMinute): RollupWindow {
  const histogram = emptyHistogram();
  if (row) addInto(histogram, row.latency_hist);
  let latencySumMs = row?.latency_sum_ms ?? 0;
  for (const latencyMs of pending.latenciesMs) {
    latencySumMs += latencyMs;
    const index = bucketIndex(latencyMs);
    histogram[index] = (histogram[index] ?? 0) + 1;
  }
  return {
    successes: (row?.successes ?? 0) + pending.successes,
    total: (row?.total ?? 0) + pending.total,
    latencySumMs,
    histogram,
  };
}

/** Adds one minute, stored (its histogram still JSON) or merged with pending runs, into a window's sum. */
function addMinute(sum: RollupWindow, minute: Row | RollupWindow): void {
  sum.successes += minute.successes;
  sum.total += minute.total;
  if ('histogram' in minute) {
    sum.latencySumMs += minute.latencySumMs;
    for (const [i, c] of minute.histogram.entries()) sum.histogram[i] = (sum.histogram[i] ?? 0) + c;
  } else {
    sum.latencySumMs += minute.latency_sum_ms;
    addInto(sum.histogram, minute.latency_hist);
  }
}

/**
 * The rollup repository over `probe_rollups`, for one service's probes (probe names repeat across the
 * services of a fleet). Pruning is by age, for every service.
 *
 * Results from the prober (recordResult) gather in memory per probe-minute and reach the table in one
 * transaction per flush(): at 10,000 probes every 30 s, a transaction per result took 3–9 % of the
 * daemon's CPU samples in profiles, ~10 µs a row batched. The prober flushes every few seconds and when it stops, so a graceful stop loses nothing; a crash
 * loses the runs since the last flush (seconds), never a written minute. window() adds the pending runs
 * to what is stored, so a verdict reads the same either way.
 *
 * @example
 *   const rollups = createProbeRollups(openDatabase(':memory:'), 'prep-api');
 *   rollups.recordResult(result);
 *   rollups.window('health', now - 300_000, now).total // 20, the pending run included
 *   rollups.flush(); // 1 row written
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
  // Ascending minutes (the primary key's order), so pending minutes merge in as the rows stream by.
  const range = db.prepare<[string, string, number, number], Row & { minute: number }>(
    `SELECT minute, successes, total, latency_sum_ms, latency_hist FROM probe_rollups
     WHERE service = ? AND probe = ? AND minute >= ? AND minute < ? ORDER BY minute`,
  );
  const prune = db.prepare('DELETE FROM probe_rollups WHERE minute < ?');
  /** probe → minute → runs not yet written. */
  const pending = new Map<string, Map<number, PendingMinute>>();
  let pendingRuns = 0;

  function add(probe: string, at: number, success: boolean, latencyMs: number): void {
    const minute = Math.floor(at / MINUTE_MS) * MINUTE_MS;
    pendingRuns++;
    let minutes = pending.get(probe);
    if (!minutes) {
      minutes = new Map();
      pending.set(probe, minutes);
    }
    const runs = minutes.get(minute);
    if (runs) {
      runs.total++;
      if (success) runs.successes++;
      runs.latenciesMs.push(latencyMs);
    } else {
      minutes.set(minute, { successes: success ? 1 : 0, total: 1, latenciesMs: [latencyMs] });
    }
  }

  const write = db.transaction((): number => {
    let rows = 0;
    for (const [probe, minutes] of pending) {
      for (const [minute, runs] of minutes) {
        const row = withPending(select.get(service, probe, minute), runs);
        upsert.run({
          service,
          probe,
          minute,
          successes: row.successes,
          total: row.total,
          sum: row.latencySumMs,
          hist: trimmed(row.histogram),
        });
        rows++;
      }
    }
    return rows;
  });

  /** Forgets pending minutes older than the newest PENDING_KEPT_MINUTES. */
  function dropStale(): void {
    let newest = Number.NEGATIVE_INFINITY;
    for (const minutes of pending.values())
      for (const minute of minutes.keys()) newest = Math.max(newest, minute);
    const keepFrom = newest - (PENDING_KEPT_MINUTES - 1) * MINUTE_MS;
    pendingRuns = 0;
    for (const [probe, minutes] of pending) {
      for (const [minute, runs] of minutes) {
        if (minute < keepFrom) minutes.delete(minute);
        else pendingRuns += runs.total;
      }
      if (minutes.size === 0) pending.delete(probe);
    }
  }

  function flush(): number {
    if (pending.size === 0) return 0;
    let rows: number;
    try {
      rows = write();
    } catch (error) {
      // The transaction rolled back: the runs stay pending (and visible to window()) for the next try.
      dropStale();
      throw error;
    }
    pending.clear();
    pendingRuns = 0;
    return rows;
  }

  return {
    record(probe, at, success, latencyMs) {
      add(probe, at, success, latencyMs);
      flush();
    },
    recordResult: (result) =>
      add(result.probe, Date.parse(result.startedAt), result.success, result.durationMs),
    flush,
    pendingRuns: () => pendingRuns,
    window(probe, fromMs, toMs) {
      const from = Math.floor(fromMs / MINUTE_MS) * MINUTE_MS;
      const sum: RollupWindow = { successes: 0, total: 0, latencySumMs: 0, histogram: emptyHistogram() };
      const unwritten = [...(pending.get(probe) ?? [])]
        .filter(([minute]) => minute >= from && minute < toMs)
        .sort((x, y) => x[0] - y[0]);
      // Minute by minute in ascending order, each pending minute added onto its stored row: the sums are
      // those a flush followed by this read would give.
      let next = 0;
      const addPendingBefore = (before: number): void => {
        for (
          let entry = unwritten[next];
          entry !== undefined && entry[0] < before;
          entry = unwritten[++next]
        ) {
          addMinute(sum, withPending(undefined, entry[1]));
        }
      };
      for (const row of range.iterate(service, probe, from, toMs)) {
        addPendingBefore(row.minute);
        const same = unwritten[next];
        if (same !== undefined && same[0] === row.minute) {
          addMinute(sum, withPending(row, same[1]));
          next++;
        } else {
          addMinute(sum, row);
        }
      }
      addPendingBefore(Number.POSITIVE_INFINITY);
      return sum;
    },
    prune(beforeMs) {
      flush();
      return prune.run(Math.floor(beforeMs / MINUTE_MS) * MINUTE_MS).changes;
    },
  };
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
