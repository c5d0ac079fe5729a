import { errorMessage } from '../errors.js';

/**
 * One k6 run at a time per daemon: two load tests against the same target would measure each other.
 * Waiters are served first come, first served; a waiter whose signal aborts leaves the queue.
 */
export interface RunQueue {
  /**
   * Waits for the turn; resolves to a release function. Rejects with the signal's reason when aborted
   * while waiting. `onQueued(position)` is told the 1-based place in line when it has to wait.
   */
  acquire(options?: { signal?: AbortSignal; onQueued?: (position: number) => void }): Promise<() => void>;
  /** Whether a run holds the turn. */
  readonly busy: boolean;
  /** How many are waiting. */
  readonly waiting: number;
}

interface Waiter {
  grant: () => void;
}

/**
 * Creates a FIFO mutex with cancellable waits.
 *
 * @example
 *   const queue = createRunQueue();
 *   const release = await queue.acquire({ signal });
 *   try { await runK6(); } finally { release(); }
 */
export function createRunQueue(): RunQueue {
  let busy = false;
  const waiters: Waiter[] = [];

  const releaser = (): (() => void) => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = waiters.shift();
      if (next) next.grant();
      else busy = false;
    };
  };

  return {
    get busy() {
      return busy;
    },
    get waiting() {
      return waiters.length;
    },
    acquire({ signal, onQueued } = {}) {
      if (signal?.aborted) return Promise.reject(new Error(errorMessage(signal.reason)));
      if (!busy) {
        busy = true;
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
