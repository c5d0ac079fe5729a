import path from 'node:path';
import type { Clock } from '../clock.js';
import type { ServiceConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { runProbe } from './engine.js';
import type { RunGate } from './gate.js';
import { type PreparedProbe, prepareProbe } from './prepare.js';
import { type ProbeRollups, ROLLUP_RETENTION_MS } from './rollups.js';
import { createScheduler, type Scheduler } from './scheduler.js';
import type { ProbeHealth } from './state.js';
import type { JudgeTurns } from './turns.js';

/**
 * Pending runs that make the prober write its rollups before the interval is up. A write costs ~10 µs a
 * row inside its one transaction and holds the event loop meanwhile: at 10,000 probes every 30 s, 5 s of
 * results is ~1,700 rows (~17 ms, late runs behind it); 500 keep each write near 5 ms, while a service of
 * a few probes still writes once per interval, not once per run.
 */
export const FLUSH_BATCH_RUNS = 500;

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
  /**
   * How often the results gathered in memory are written to the rollups, in one transaction (sooner when
   * FLUSH_BATCH_RUNS have gathered). Default 5 s: at most what a crash loses.
   */
  flushIntervalMs?: number;
  /** How long stop() lets runs in flight finish before aborting them. Default 10 s. */
  stopTimeoutMs?: number;
  /** Where finished exchanges wait to be judged, one per check phase; the daemon shares one. */
  turns?: JudgeTurns;
}

/** The daemon's probing: a scheduler over the configured probes, wired to metrics and rollups. */
export interface Prober {
  readonly scheduler: Scheduler;
  readonly probes: readonly PreparedProbe[];
  start(): void;
  /**
   * Stops the scheduler (waiting for runs in flight), writes the rollups still in memory and closes kept
   * connections. The daemon stops its probers before it closes the store.
   */
  stop(): Promise<void>;
}

/**
 * Wires the probe engine for `vigil serve`: prepares every configured probe, runs them on schedule
 * with the §8 metrics, adds each result to the per-minute rollups (in memory, written every
 * `flushIntervalMs` and at stop), and prunes rollups older than 30 days every hour. A failing store
 * write is logged, never allowed to stop probing; the runs it held stay pending (their newest minutes)
 * for the next flush.
 *
 * @example
 *   const prober = createProber({ config, clock: systemClock, metrics, logger, rollups: createProbeRollups(store, 'prep-api') });
 *   prober.start(); app.decorate('probes', () => prober.scheduler.latest()); … await prober.stop();
 */
export function createProber(deps: ProberDeps): Prober {
  const { clock, metrics, logger, rollups } = deps;
  const baseDir = path.dirname(deps.config.file);
  const probes = deps.config.probes.map((p) => prepareProbe(p, deps.config.root.target, baseDir));
  const health = new Map<string, ProbeHealth>();
  // After a failed write only the timed flush tries again: a store that refuses writes is not asked
  // (nor logged about) once per result.
  let writeFailing = false;
  // The flush in flight: the size trigger starts no other meanwhile (the runs arriving during a write
  // wait for the next one, not a flush each).
  let flushing: Promise<void> | undefined;
  async function writeRollups(): Promise<void> {
    try {
      await rollups?.flush();
      writeFailing = false;
    } catch (error) {
      writeFailing = true;
      logger.error(
        { err: errorMessage(error), pendingRuns: rollups?.pendingRuns() },
        'cannot store the probe rollups',
      );
    }
  }
  /** Starts a flush unless one is in flight; resolves when that flush is done, never rejects. */
  function flushRollups(): Promise<void> {
    if (!flushing) {
      const flush = writeRollups().finally(() => {
        if (flushing === flush) flushing = undefined;
      });
      flushing = flush;
    }
    return flushing;
  }
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
      runProbe(probe, {
        now: () => clock.now(),
        signal,
        metrics,
        service: deps.config.root.service,
        ...(deps.turns ? { turns: deps.turns } : {}),
      }),
    onResult: (result, state) => {
      // Info when a probe's settled health turns down or back up, a run's failure at debug: 10,000 probes
      // against a target that is down would otherwise write 333 lines a second, each a serialized failure.
      const previous = health.get(result.probe) ?? 'unknown';
      if (previous !== state.health) {
        health.set(result.probe, state.health);
        if (state.health === 'down') {
          logger.info({ probe: result.probe, failure: result.failure }, 'probe down');
        } else if (previous === 'down') {
          logger.info({ probe: result.probe }, 'probe up again');
        }
      }
      if (!result.success) logger.debug({ probe: result.probe, failure: result.failure }, 'probe failed');
      if (rollups) {
        rollups.recordResult(result);
        if (!writeFailing && !flushing && rollups.pendingRuns() >= FLUSH_BATCH_RUNS) void flushRollups();
      }
    },
  });
  let background: AbortController | undefined;
  async function pruneLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const removed = (await rollups?.prune(clock.now() - ROLLUP_RETENTION_MS)) ?? 0;
        if (removed > 0) logger.debug({ removed }, 'pruned old probe rollups');
      } catch (error) {
        logger.error({ err: errorMessage(error) }, 'cannot prune probe rollups');
      }
      await clock.sleep(deps.pruneIntervalMs ?? 3_600_000, signal).catch(() => {});
    }
  }
  async function flushLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await clock.sleep(deps.flushIntervalMs ?? 5_000, signal).catch(() => {});
      if (!signal.aborted) await flushRollups();
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
      if (rollups && !background) {
        background = new AbortController();
        void pruneLoop(background.signal);
        void flushLoop(background.signal);
      }
    },
    async stop() {
      background?.abort();
      background = undefined;
      try {
        await scheduler.stop();
      } finally {
        // After the runs in flight have settled (no result comes later) and before the store closes: a
        // flush in flight took only the runs before it, so one more writes the rest.
        await flushing;
        await flushRollups();
      }
      await Promise.all(probes.map((p) => p.connection?.close().catch(() => {})));
    },
  };
}
