import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Reads how late the event loop has been running, to tell a slow service from a busy daemon. */
export interface LoopDelayMonitor {
  /** The worst event-loop delay (ms) seen over roughly the last second. */
  read(): number;
  close(): void;
}

const RESOLUTION_MS = 20;
const WINDOW_MS = 1000;

/**
 * Starts a perf_hooks event-loop delay monitor. Readings are the maximum over a rolling window of about
 * one second, so many probes starting together all see the same recent figure.
 *
 * @example const monitor = createLoopDelayMonitor(); monitor.read(); monitor.close();
 */
export function createLoopDelayMonitor(): LoopDelayMonitor {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let windowStart = performance.now();
  let last = 0;
  return {
    read() {
      const now = performance.now();
      if (now - windowStart >= WINDOW_MS) {
        // The histogram counts the timer's own period; what is above it is the loop's lateness.
        last = histogram.count > 0 ? Math.max(0, histogram.max / 1e6 - RESOLUTION_MS) : 0;
        histogram.reset();
        windowStart = now;
      }
      return Math.max(last, histogram.count > 0 ? Math.max(0, histogram.max / 1e6 - RESOLUTION_MS) : 0);
    },
    close() {
      histogram.disable();
    },
  };
}
