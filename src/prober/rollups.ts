import type { RollupMinute, RollupRepo } from '../store/port.js';
import type { ProbeResult } from './types.js';

/*
 * Per-probe, per-minute rollups of probe results (the store's RollupRepo): successes, total, the latency
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
  record(probe: string, at: number, success: boolean, latencyMs: number): Promise<void>;
  /**
   * Adds a ProbeResult (its start time, success and duration) to its probe's minute in memory; the next
   * flush() writes it. window() sees it at once.
   */
  recordResult(result: ProbeResult): void;
  /**
   * Writes every run gathered so far in one transaction and returns how many rows it wrote. The runs are
   * taken when flush() is called; those recorded while it writes wait for the next one.
   */
  flush(): Promise<number>;
  /** How many runs recordResult has gathered that no flush has written yet (a flush in flight included). */
  pendingRuns(): number;
  /** Sums the minutes that start in [floor(fromMs to the minute), toMs), written or pending. */
  window(probe: string, fromMs: number, toMs: number): Promise<RollupWindow>;
  /** Writes what is pending, then deletes minutes before `beforeMs`; returns how many rows went. */
  prune(beforeMs: number): Promise<number>;
}

/**
 * What the rollups need of the store: a Store, or a test's wrapper of one (only the rollup repository
 * is used, inside a transaction or not).
 */
export interface RollupStore {
  readonly rollups: RollupRepo;
  transaction<T>(fn: (tx: { readonly rollups: RollupRepo }) => Promise<T>): Promise<T>;
}

function emptyHistogram(): number[] {
  return new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
}

function addInto(into: number[], counts: readonly number[]): void {
  for (const [i, c] of counts.entries()) into[i] = (into[i] ?? 0) + c;
}

/** Without its trailing empty buckets: most minutes fill a few buckets near the start. */
function trimmed(histogram: number[]): number[] {
  let end = histogram.length;
  while (end > 0 && histogram[end - 1] === 0) end--;
  return histogram.slice(0, end);
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

/** probe → minute → runs not yet written. */
type Pending = Map<string, Map<number, PendingMinute>>;

/** A stored minute (or none) with its pending runs added, run by run. */
function withPending(row: RollupMinute | undefined, pending: PendingMinute): RollupWindow {
  const histogram = emptyHistogram();
  if (row) addInto(histogram, row.histogram);
  let latencySumMs = row?.latencySumMs ?? 0;
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

/** Adds one minute, stored or merged with pending runs, into a window's sum. */
function addMinute(sum: RollupWindow, minute: RollupMinute | RollupWindow): void {
  sum.successes += minute.successes;
  sum.total += minute.total;
  sum.latencySumMs += minute.latencySumMs;
  addInto(sum.histogram, minute.histogram);
}

/** Appends `later`'s runs after `into`'s, minute by minute (arrival order is what the sums depend on). */
function appendRuns(into: Pending, later: Pending): void {
  for (const [probe, minutes] of later) {
    let target = into.get(probe);
    if (!target) {
      target = new Map();
      into.set(probe, target);
    }
    for (const [minute, runs] of minutes) {
      const before = target.get(minute);
      if (before) {
        before.successes += runs.successes;
        before.total += runs.total;
        for (const latencyMs of runs.latenciesMs) before.latenciesMs.push(latencyMs);
      } else {
        target.set(minute, { ...runs, latenciesMs: [...runs.latenciesMs] });
      }
    }
  }
}

/**
 * Reads and writes of the rollups take turns: a read runs alongside other reads, never while a write is
 * in flight, so it sees each flush either all written or all pending, never both or neither.
 */
function createTurns(): {
  read<T>(fn: () => Promise<T>): Promise<T>;
  write<T>(fn: () => Promise<T>): Promise<T>;
} {
  let writes: Promise<unknown> = Promise.resolve();
  const reading = new Set<Promise<unknown>>();
  return {
    read(fn) {
      const before = writes;
      const read = before.then(fn);
      const settled = read.then(
        () => undefined,
        () => undefined,
      );
      reading.add(settled);
      void settled.then(() => reading.delete(settled));
      return read;
    },
    write(fn) {
      const before = writes;
      const readsBefore = [...reading];
      const write = before.then(() => Promise.all(readsBefore)).then(fn);
      writes = write.then(
        () => undefined,
        () => undefined,
      );
      return write;
    },
  };
}

/**
 * The rollups of one service's probes (probe names repeat across the services of a fleet). Pruning is
 * by age, for every service.
 *
 * Results from the prober (recordResult) gather in memory per probe-minute and reach the store in one
 * transaction per flush(): at 10,000 probes every 30 s, a transaction per result took 3–9 % of the
 * daemon's CPU samples in profiles, ~10 µs a row batched. The prober flushes every few seconds and when
 * it stops, so a graceful stop loses nothing; a crash loses the runs since the last flush (seconds), never
 * a written minute. window() adds the pending runs to what is stored, so a verdict reads the same either
 * way: bit for bit what a flush followed by the read would give.
 *
 * @example
 *   const rollups = createProbeRollups(store, 'prep-api');
 *   rollups.recordResult(result);
 *   (await rollups.window('health', now - 300_000, now)).total // 20, the pending run included
 *   await rollups.flush(); // 1 row written
 */
export function createProbeRollups(store: RollupStore, service = ''): ProbeRollups {
  /** Runs no flush has taken yet, and how many. */
  let pending: Pending = new Map();
  let pendingCount = 0;
  /** Runs taken by flushes that have not committed yet, oldest first, and how many. */
  const unwritten: Pending[] = [];
  let unwrittenCount = 0;
  const turns = createTurns();

  function add(probe: string, at: number, success: boolean, latencyMs: number): void {
    const minute = Math.floor(at / MINUTE_MS) * MINUTE_MS;
    pendingCount++;
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

  /** Forgets pending minutes older than the newest PENDING_KEPT_MINUTES. */
  function dropStale(): void {
    let newest = Number.NEGATIVE_INFINITY;
    for (const minutes of pending.values())
      for (const minute of minutes.keys()) newest = Math.max(newest, minute);
    const keepFrom = newest - (PENDING_KEPT_MINUTES - 1) * MINUTE_MS;
    pendingCount = 0;
    for (const [probe, minutes] of pending) {
      for (const [minute, runs] of minutes) {
        if (minute < keepFrom) minutes.delete(minute);
        else pendingCount += runs.total;
      }
      if (minutes.size === 0) pending.delete(probe);
    }
  }

  /** Writes one batch onto the stored minutes, in one transaction. */
  async function write(batch: Pending): Promise<number> {
    const keys: { probe: string; minute: number }[] = [];
    for (const [probe, byMinute] of batch) for (const minute of byMinute.keys()) keys.push({ probe, minute });
    return store.transaction(async (tx) => {
      const stored = new Map<string, Map<number, RollupMinute>>();
      for (const row of await tx.rollups.getMany(service, keys)) {
        let byMinute = stored.get(row.probe);
        if (!byMinute) {
          byMinute = new Map();
          stored.set(row.probe, byMinute);
        }
        byMinute.set(row.minute, row);
      }
      const minutes: RollupMinute[] = [];
      for (const [probe, byMinute] of batch) {
        for (const [minute, runs] of byMinute) {
          const row = withPending(stored.get(probe)?.get(minute), runs);
          minutes.push({ service, probe, minute, ...row, histogram: trimmed(row.histogram) });
        }
      }
      await tx.rollups.put(minutes);
      return minutes.length;
    });
  }

  /**
   * Takes every pending run now and writes them in the next write turn. On failure the runs go back in
   * front of those gathered meanwhile (the transaction rolled back: they stay visible to window() for
   * the next try), keeping only the newest minutes.
   */
  function flush(): Promise<number> {
    if (pending.size === 0) return turns.write(async () => 0);
    const batch = pending;
    const runs = pendingCount;
    pending = new Map();
    pendingCount = 0;
    unwritten.push(batch);
    unwrittenCount += runs;
    return turns.write(async () => {
      try {
        return await write(batch);
      } catch (error) {
        const later = pending;
        pending = batch;
        appendRuns(pending, later);
        dropStale();
        throw error;
      } finally {
        unwritten.splice(unwritten.indexOf(batch), 1);
        unwrittenCount -= runs;
      }
    });
  }

  return {
    async record(probe, at, success, latencyMs) {
      add(probe, at, success, latencyMs);
      await flush();
    },
    recordResult: (result) =>
      add(result.probe, Date.parse(result.startedAt), result.success, result.durationMs),
    flush,
    pendingRuns: () => pendingCount + unwrittenCount,
    window(probe, fromMs, toMs) {
      const from = Math.floor(fromMs / MINUTE_MS) * MINUTE_MS;
      return turns.read(async () => {
        const rows = await store.rollups.range(service, probe, from, toMs);
        // No write runs during a read: the batches still unwritten are queued behind it, their runs
        // older than those pending.
        const merged: Pending = new Map();
        for (const batch of [...unwritten, pending]) {
          const minutes = batch.get(probe);
          if (minutes) appendRuns(merged, new Map([[probe, minutes]]));
        }
        const runsOf = [...(merged.get(probe) ?? [])]
          .filter(([minute]) => minute >= from && minute < toMs)
          .sort((x, y) => x[0] - y[0]);
        const sum: RollupWindow = { successes: 0, total: 0, latencySumMs: 0, histogram: emptyHistogram() };
        // Minute by minute in ascending order, each pending minute added onto its stored row: the sums
        // are those a flush followed by this read would give.
        let next = 0;
        const addPendingBefore = (before: number): void => {
          for (let entry = runsOf[next]; entry !== undefined && entry[0] < before; entry = runsOf[++next]) {
            addMinute(sum, withPending(undefined, entry[1]));
          }
        };
        for (const row of rows) {
          addPendingBefore(row.minute);
          const same = runsOf[next];
          if (same !== undefined && same[0] === row.minute) {
            addMinute(sum, withPending(row, same[1]));
            next++;
          } else {
            addMinute(sum, row);
          }
        }
        addPendingBefore(Number.POSITIVE_INFINITY);
        return sum;
      });
    },
    async prune(beforeMs) {
      await flush();
      return turns.write(() => store.rollups.prune(Math.floor(beforeMs / MINUTE_MS) * MINUTE_MS));
    },
  };
}
