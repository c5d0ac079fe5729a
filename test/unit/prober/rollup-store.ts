import type { RollupStore } from '../../../src/prober/rollups.js';
import type { RollupMinute, RollupRepo, Store } from '../../../src/store/port.js';

/*
 * For the rollup tests: the rows a store holds, read through the port, and a store whose rollup writes
 * can be refused the way a full disk or a locked file refuses them, inside the flush's transaction.
 */

/** Every stored minute of these probes of a service, ascending. */
export async function storedMinutes(
  store: Pick<Store, 'rollups'>,
  service: string,
  probes: readonly string[],
): Promise<RollupMinute[]> {
  const rows: RollupMinute[] = [];
  for (const probe of probes)
    rows.push(...(await store.rollups.range(service, probe, 0, Number.MAX_SAFE_INTEGER)));
  return rows;
}

export interface Refusable {
  /** The store to give createProbeRollups. */
  store: RollupStore;
  /**
   * From now on a write of a minute `row` matches is refused with `message`: the minutes before it in
   * the same write are written first (as one statement per row would), then the write throws.
   */
  refuse(message: string, row?: (minute: RollupMinute) => boolean): void;
  allow(): void;
}

/**
 * Wraps a store so its rollup writes can be refused.
 *
 * @example const { store: failing, refuse } = refusable(store); refuse('disk full');
 */
export function refusable(store: Store): Refusable {
  let refusal: { message: string; row: (minute: RollupMinute) => boolean } | undefined;
  const guarded = (repo: RollupRepo): RollupRepo => ({
    range: (service, probe, fromMinute, toMs) => repo.range(service, probe, fromMinute, toMs),
    getMany: (service, keys) => repo.getMany(service, keys),
    async put(minutes) {
      const at = refusal === undefined ? -1 : minutes.findIndex(refusal.row);
      if (refusal === undefined || at < 0) return repo.put(minutes);
      if (at > 0) await repo.put(minutes.slice(0, at));
      throw new Error(refusal.message);
    },
    prune: (beforeMinute) => repo.prune(beforeMinute),
    adoptUnowned: (service) => repo.adoptUnowned(service),
  });
  return {
    store: {
      rollups: guarded(store.rollups),
      transaction: (fn) => store.transaction((tx) => fn({ rollups: guarded(tx.rollups) })),
    },
    refuse(message, row = () => true) {
      refusal = { message, row };
    },
    allow() {
      refusal = undefined;
    },
  };
}
