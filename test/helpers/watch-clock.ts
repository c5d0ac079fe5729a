import type { ManualClock } from '../../src/clock.js';
import type { WatchManager } from '../../src/watch/manager.js';

/**
 * Drives one watch on a virtual clock through evaluations that make real HTTP round trips (a real
 * Prometheus): before time moves on by an interval, waits — in bounded real time — for that
 * interval's evaluation to finish. Stops when the watch is no longer running or `untilMs` of elapsed
 * time is reached. `during` runs before each interval (to break a dependency, read the verdict …).
 *
 * @example
 *   await driveWatch({ clock, manager, id, intervalMs: 60_000, untilMs: 3_600_000, evaluations: () => count });
 */
export async function driveWatch(options: {
  clock: ManualClock;
  manager: WatchManager;
  id: string;
  intervalMs: number;
  untilMs: number;
  /** How many evaluations have completed so far. */
  evaluations: () => number;
  during?: (elapsedMs: number) => Promise<void>;
}): Promise<void> {
  const { clock, manager, id, intervalMs } = options;
  const running = async (): Promise<boolean> => (await manager.get(id))?.status === 'running';
  for (let elapsed = 0; elapsed <= options.untilMs; elapsed += intervalMs) {
    await options.during?.(elapsed);
    const target = elapsed / intervalMs + 1;
    for (let i = 0; i < 400 && options.evaluations() < target && (await running()); i++) {
      await clock.advance(0);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    if (!(await running())) return;
    await clock.advance(intervalMs);
  }
}
