import { errorMessage, VigilError } from '../errors.js';

/**
 * Turns for k6 runs: two load tests against the same target would measure each other, so each service's
 * runner takes one turn at a time, and a queue shared by all runners caps how many k6 run in the daemon.
 * Waiters are served first come, first served; a waiter whose signal aborts leaves the queue.
 */
export interface RunQueue {
  /**
   * Waits for a turn; resolves to its release function (calling it again does nothing). Rejects with
   * the signal's reason when aborted while waiting. `onQueued(position)` is told the 1-based place in
   * line when it has to wait.
   */
  acquire(options?: { signal?: AbortSignal; onQueued?: (position: number) => void }): Promise<() => void>;
  /** Whether every turn is held, so that an acquire now would wait. */
  readonly busy: boolean;
  /** How many are waiting. */
  readonly waiting: number;
}

interface Waiter {
  grant: () => void;
}

/**
 * Creates a FIFO semaphore of `capacity` turns (default 1, a mutex) with cancellable waits.
 *
 * @example
 *   const queue = createRunQueue();
 *   const release = await queue.acquire({ signal });
 *   try { await runK6(); } finally { release(); }
 */
export function createRunQueue(capacity = 1): RunQueue {
  if (!Number.isInteger(capacity) || capacity < 1)
    throw new VigilError(
      'LOADTEST_QUEUE_INVALID',
      `a run queue needs a whole number of turns of at least 1, got ${capacity}`,
    );
  let held = 0;
  const waiters: Waiter[] = [];

  const releaser = (): (() => void) => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The turn passes straight to the first waiter, so a newcomer can never slip in ahead of it.
      const next = waiters.shift();
      if (next) next.grant();
      else held--;
    };
  };

  return {
    get busy() {
      return held >= capacity;
    },
    get waiting() {
      return waiters.length;
    },
    acquire({ signal, onQueued } = {}) {
      if (signal?.aborted) return Promise.reject(new Error(errorMessage(signal.reason)));
      if (held < capacity) {
        held++;
        return Promise.resolve(releaser());
      }
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          grant: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve(releaser());
          },
        };
        const onAbort = (): void => {
          const index = waiters.indexOf(waiter);
          if (index >= 0) waiters.splice(index, 1);
          reject(new Error(errorMessage(signal?.reason)));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.push(waiter);
        onQueued?.(waiters.length);
      });
    },
  };
}
