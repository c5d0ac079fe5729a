import path from 'node:path';
import type { Clock } from '../clock.js';
import type { ServiceConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import { type ProbeRollups, ROLLUP_RETENTION_MS } from '../store/rollups.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { runProbe } from './engine.js';
import type { RunGate } from './gate.js';
import { type PreparedProbe, prepareProbe } from './prepare.js';
import { createScheduler, type Scheduler } from './scheduler.js';

export interface ProberDeps {
  /** One service's config: its probes, target and name (the `service` label). */
  config: ServiceConfig;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  /** Where results are rolled up for the `probes` SLI source; absent for one-shot use. */
  rollups?: ProbeRollups;
  concurrency?: number;
  perHostConcurrency?: number;
  /** The global caps shared with the other services' probers (instead of concurrency/perHostConcurrency). */
  gate?: RunGate;
  /** Event-loop delay now (ms), shared by every prober; default a monitor per scheduler. */
  eventLoopDelayMs?: () => number;
  /** How often old rollups are pruned. Default 1 h. */
  pruneIntervalMs?: number;
  /** How long stop() lets runs in flight finish before aborting them. Default 10 s. */
  stopTimeoutMs?: number;
}

/** The daemon's probing: a scheduler over the configured probes, wired to metrics and rollups. */
export interface Prober {
  readonly scheduler: Scheduler;
  readonly probes: readonly PreparedProbe[];
  start(): void;
  /** Stops the scheduler (waiting for runs in flight) and closes kept connections. */
  stop(): Promise<void>;
}

/**
 * Wires the probe engine for `vigil serve`: prepares every configured probe, runs them on schedule
 * with the §8 metrics, adds each result to the per-minute rollups, and prunes rollups older than
 * 30 days every hour. A failing store write is logged, never allowed to stop probing.
 *
 * @example
 *   const prober = createProber({ config, clock: systemClock, metrics, logger, rollups: createProbeRollups(db) });
 *   prober.start(); app.decorate('probes', () => prober.scheduler.latest()); … await prober.stop();
 */
export function createProber(deps: ProberDeps): Prober {
  const { clock, metrics, logger, rollups } = deps;
  const baseDir = path.dirname(deps.config.file);
  const probes = deps.config.probes.map((p) => prepareProbe(p, deps.config.root.target, baseDir));
  const scheduler = createScheduler({
    probes,
    clock,
    metrics,
    logger,
    ...(deps.gate !== undefined ? { gate: deps.gate } : {}),
    ...(deps.eventLoopDelayMs !== undefined ? { eventLoopDelayMs: deps.eventLoopDelayMs } : {}),
    ...(deps.concurrency !== undefined ? { concurrency: deps.concurrency } : {}),
    ...(deps.perHostConcurrency !== undefined ? { perHostConcurrency: deps.perHostConcurrency } : {}),
    ...(deps.stopTimeoutMs !== undefined ? { stopTimeoutMs: deps.stopTimeoutMs } : {}),
    offsetSalt: deps.config.root.service,
    run: (probe, signal) =>
      runProbe(probe, { now: () => clock.now(), signal, metrics, service: deps.config.root.service }),
    onResult: (result) => {
      if (!result.success) logger.info({ probe: result.probe, failure: result.failure }, 'probe failed');
      try {
        rollups?.recordResult(result);
      } catch (error) {
        logger.error({ probe: result.probe, err: errorMessage(error) }, 'cannot store the probe rollup');
      }
    },
  });
  let pruning: AbortController | undefined;
  async function pruneLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const removed = rollups?.prune(clock.now() - ROLLUP_RETENTION_MS) ?? 0;
        if (removed > 0) logger.debug({ removed }, 'pruned old probe rollups');
      } catch (error) {
        logger.error({ err: errorMessage(error) }, 'cannot prune probe rollups');
      }
      await clock.sleep(deps.pruneIntervalMs ?? 3_600_000, signal).catch(() => {});
    }
  }
  return {
    scheduler,
    probes,
    start() {
      // The probes a reload removed lose their series here, once the previous prober (whose runs in
      // flight could still record them) has stopped: the serial swap starts this one only after that.
      metrics.probes.retain(
        probes.map((p) => p.name),
        deps.config.root.service,
      );
      scheduler.start();
      if (rollups && !pruning) {
        pruning = new AbortController();
        void pruneLoop(pruning.signal);
      }
    },
    async stop() {
      pruning?.abort();
      pruning = undefined;
      await scheduler.stop();
      await Promise.all(probes.map((p) => p.connection?.close().catch(() => {})));
    },
  };
}
