import { ManualClock } from '../../src/clock.js';
import { servicesOf } from '../../src/config/fleet.js';
import { loadConfig } from '../../src/config/load.js';
import { createDaemon, type Daemon } from '../../src/daemon/index.js';
import { nextDueAt, scheduleOffsetMs } from '../../src/prober/scheduler.js';
import type { ProbeResult } from '../../src/prober/types.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { TEST_API_TOKEN } from './daemon.js';

/*
 * A real daemon's prober on a virtual clock: its runs are real HTTP requests that finish in real time,
 * so before the clock moves on, each run the scheduler fired must have landed (bounded waits only).
 */

async function latestRuns(daemon: Daemon): Promise<Map<string, number>> {
  const res = await daemon.app.inject({
    method: 'GET',
    url: '/api/v1/probes',
    headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
  });
  return new Map(res.json<{ probes: ProbeResult[] }>().probes.map((r) => [r.probe, Date.parse(r.startedAt)]));
}

/**
 * Waits (real time, at most ~4 s) until every run of `probes` (name → interval ms) due since `startedAt`
 * has its result recorded. Probes left out of the map (a stalled one) are not waited for.
 *
 * @example await settleProbeRuns(daemon, clock, startedAt, new Map([['orders', 30_000]]));
 */
export async function settleProbeRuns(
  daemon: Daemon,
  clock: ManualClock,
  startedAt: number,
  probes: ReadonlyMap<string, number>,
): Promise<void> {
  const now = clock.now();
  // The daemon's probers salt each probe's offset with its service.
  const service = servicesOf(daemon.config())[0]?.root.service ?? '';
  for (let attempt = 0; attempt < 400; attempt++) {
    const latest = await latestRuns(daemon);
    const pending = [...probes].filter(([name, interval]) => {
      const offset = scheduleOffsetMs(`${service}/${name}`, interval);
      const lastDue = nextDueAt(now + 1, interval, offset) - interval;
      if (lastDue < nextDueAt(startedAt, interval, offset)) return false;
      return (latest.get(name) ?? Number.NEGATIVE_INFINITY) < lastDue;
    });
    if (pending.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('probe runs did not land in time');
}

/**
 * Moves the clock forward `ms` in steps of `stepMs`, settling the probe runs after each step.
 *
 * @example await advanceWithProbes(clock, 60_000, 5_000, () => settleProbeRuns(daemon, clock, t0, probes));
 */
export async function advanceWithProbes(
  clock: ManualClock,
  ms: number,
  stepMs: number,
  settle: () => Promise<void>,
): Promise<void> {
  for (let moved = 0; moved < ms; moved += stepMs) {
    await clock.advance(Math.min(stepMs, ms - moved));
    await settle();
  }
}

/**
 * A real daemon (`createDaemon`) from `configFile` on a ManualClock starting at wall time (certificate
 * days count from it), started; `stop()` moves the clock while shutdown waits on it for probes in flight.
 *
 * @example const { daemon, clock, port, stop } = await startClockedDaemon(files.configFile); … await stop();
 */
export async function startClockedDaemon(
  configFile: string,
): Promise<{ daemon: Daemon; clock: ManualClock; port: number; stop(): Promise<void> }> {
  const config = await loadConfig(configFile, {});
  const clock = new ManualClock(Date.now());
  const daemon = await createDaemon({
    config,
    logger: silentLogger(),
    searchPath: '',
    clock,
    defaultMetrics: false,
  });
  const { port } = await daemon.start();
  const stop = async (): Promise<void> => {
    const stopping = daemon.stop(1_000);
    for (let i = 0; i < 20; i++) await clock.advance(100);
    await stopping;
  };
  return { daemon, clock, port, stop };
}
