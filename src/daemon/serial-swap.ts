/** A part of the daemon that runs between `start()` and `stop()`: the prober, the load schedule. */
export interface Restartable {
  start(): void;
  stop(): Promise<void>;
}

/** Holds the one live instance of a restartable part and replaces it on reload. */
export interface SerialSwap<T extends Restartable> {
  /** The newest instance: the one reads go to, started or about to be. */
  current(): T;
  /** Starts the current instance (once, at daemon start). */
  start(): void;
  /**
   * Replaces the instance: the running one stops, then the new one starts, never overlapping. Swaps in
   * quick succession queue up, and only the last instance ever starts (the others are stopped unstarted,
   * to release what they hold). Resolves when this swap has finished.
   */
  swap(next: T): Promise<void>;
  /** Stops whatever runs (and the newest instance) after the swaps in flight; nothing starts afterwards. */
  stop(): Promise<void>;
}

/**
 * Serializes restarts of a part on reload. Two SIGHUPs in a row used to run `old.stop().then(() =>
 * current.start())` twice, so the newest prober started while the first was still stopping (its runs
 * in flight get up to a second) — two probers at once, each probe run twice. Here every stop and start
 * runs on one chain, so at most one instance runs at any time. A failing stop is reported to `onError`
 * and the chain goes on.
 *
 * @example
 *   const probers = createSerialSwap(newProber(config), (e) => logger.error({ err: errorMessage(e) }, 'prober stop failed'));
 *   probers.start();
 *   void probers.swap(newProber(next));    // SIGHUP
 *   probers.current().scheduler.latest();  // reads go to the newest
 *   await probers.stop();                  // shutdown
 */
export function createSerialSwap<T extends Restartable>(
  initial: T,
  onError: (error: unknown) => void = () => {},
): SerialSwap<T> {
  let current = initial;
  let running: T | undefined;
  let started = false;
  let stopped = false;
  let chain: Promise<void> = Promise.resolve();

  const stopQuietly = async (instance: T): Promise<void> => {
    try {
      await instance.stop();
    } catch (error) {
      onError(error);
    }
  };
  const enqueue = (step: () => Promise<void>): Promise<void> => {
    chain = chain.then(step);
    return chain;
  };

  return {
    current: () => current,
    start() {
      if (started || stopped) return;
      started = true;
      running = current;
      current.start();
    },
    swap(next) {
      // After stop nothing may start; before start the replaced instance never ran: release each alone.
      if (stopped) return enqueue(() => stopQuietly(next));
      const replaced = current;
      current = next;
      if (!started) return enqueue(() => stopQuietly(replaced));
      return enqueue(async () => {
        const previous = running;
        running = undefined;
        if (previous) await stopQuietly(previous);
        if (stopped || current !== next) {
          await stopQuietly(next);
          return;
        }
        running = next;
        next.start();
      });
    },
    stop() {
      stopped = true;
      return enqueue(async () => {
        const previous = running;
        running = undefined;
        if (previous) await stopQuietly(previous);
        // Never started (a stop before start, or a swap not yet run): still release what it holds.
        if (current !== previous) await stopQuietly(current);
      });
    },
  };
}
