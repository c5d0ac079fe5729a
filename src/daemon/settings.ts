import type { VigilConfig } from '../config/schema.js';
import type { WatchSettings } from '../watch/types.js';

/**
 * The watch engine's settings from the `watch:` section, in milliseconds; smoke attempts are retried at
 * the shortest smoke probe interval.
 *
 * @example new WatchManager(deps, watchSettings(config))
 */
export function watchSettings(config: VigilConfig): WatchSettings {
  const w = config.root.watch;
  const smokeIntervals = config.probes.filter((p) => p.kind === 'smoke').map((p) => p.interval);
  return {
    durationMs: w.duration,
    phases: w.phases,
    ...(w.loadProfile !== undefined ? { loadProfile: w.loadProfile } : {}),
    evaluationIntervalMs: w.evaluationInterval,
    smokeTimeoutMs: w.smokeTimeout,
    failureLimit: w.failureLimit,
    inconclusiveLimitMs: w.inconclusiveLimit,
    ...(w.initialDelay !== undefined ? { initialDelayMs: w.initialDelay } : {}),
    smokeRetryMs: smokeIntervals.length > 0 ? Math.min(...smokeIntervals) : 15_000,
  };
}
