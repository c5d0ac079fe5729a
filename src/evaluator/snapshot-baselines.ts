import { formatDuration } from '../config/units.js';
import type { StoreRepos } from '../store/port.js';
import { median } from './statistics.js';
import type { BaselineLookup, SnapshotReader } from './types.js';

/*
 * `previous-watch` and `pinned` baselines from SLI snapshots: each watch evaluation stores its SLI values
 * by elapsed time since the deploy (the watch engine, through `SnapshotRepo.save`), so a later watch can
 * compare "20 minutes after this deploy" with "20 minutes after the last good deploys" or with one chosen
 * watch or version. Evaluations of two watches never land on the same elapsed millisecond, so a lookup
 * takes, per watch, the snapshot nearest to the wanted elapsed time within the tolerance.
 */

/** How far from the wanted elapsed time a stored value may be, by default: 2 minutes. */
const DEFAULT_TOLERANCE_MS = 120_000;

const at = (elapsedMs: number): string => `at +${formatDuration(Math.max(elapsedMs, 1))}`;

/**
 * The snapshot reader the evaluator's stored baselines use, over the store's `SnapshotRepo` (a `Store`, or
 * a transaction's repositories). `toleranceMs` (default 2 minutes) bounds how far from the wanted elapsed
 * time a stored value may be.
 *
 * @example const snapshots = createSnapshotReader(store); await evaluateChecks(slos, { ...ctx, snapshots })
 */
export function createSnapshotReader(
  store: StoreRepos,
  options: { toleranceMs?: number } = {},
): SnapshotReader {
  const toleranceMs = options.toleranceMs ?? DEFAULT_TOLERANCE_MS;
  const repo = store.snapshots;
  return {
    async previousWatches(q): Promise<BaselineLookup> {
      // Newest passed watches of the service that stored this SLO, without the watch being judged; one
      // with no value near the elapsed time is skipped, so the next page is read when a page falls short.
      const values: number[] = [];
      const visited = new Set<string>();
      for (let limit = q.count; ; limit *= 4) {
        const ids = await repo.passedWatchesWith(q.service, q.slo, q.excludeWatchId ?? '', limit);
        const page = ids.filter((id) => !visited.has(id));
        for (const id of page) visited.add(id);
        const found = await Promise.all(page.map((id) => repo.nearest(id, q.slo, q.elapsedMs, toleranceMs)));
        for (const row of found) {
          if (values.length >= q.count) break;
          if (row !== undefined) values.push(row.value);
        }
        if (values.length >= q.count || ids.length < limit) break;
      }
      if (values.length === 0) {
        return { value: null, reason: `no passed watch of ${q.service} stored ${q.slo} ${at(q.elapsedMs)}` };
      }
      const value =
        q.aggregate === 'median' ? median(values) : values.reduce((s, v) => s + v, 0) / values.length;
      const description =
        values.length === 1
          ? `previous watch ${at(q.elapsedMs)}`
          : `${q.aggregate} of ${values.length} previous watches ${at(q.elapsedMs)}`;
      return { value, description };
    },
    async pinned(q): Promise<BaselineLookup> {
      let watchId = q.watchId;
      if (watchId === undefined && q.version !== undefined) {
        watchId = await repo.latestWatchOfVersion(q.service, q.version, q.slo);
      }
      const what = q.watchId !== undefined ? `watch ${q.watchId}` : `version ${q.version}`;
      if (watchId === undefined) return { value: null, reason: `no snapshots of ${q.slo} for ${what}` };
      const row = await repo.nearest(watchId, q.slo, q.elapsedMs, toleranceMs);
      if (!row) return { value: null, reason: `${what} stored no ${q.slo} ${at(q.elapsedMs)}` };
      return { value: row.value, description: `pinned ${what} ${at(q.elapsedMs)}` };
    },
  };
}
