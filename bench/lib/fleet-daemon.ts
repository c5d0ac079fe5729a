/*
 * The daemon of the fleet bench (bench/fleet.ts): createDaemon over a fleet config, real clock, in its own
 * process so its CPU and memory are its own. The parent drives it over IPC:
 *   → { cmd: 'measure', ms } ← { kind: 'measured', …FleetMeasured }
 *   → { cmd: 'stop' }        ← (exit 0 after daemon.stop)
 * and gets { kind: 'ready', port } once it listens.
 *
 * Each service's continuous evaluator sleeps on the clock between ticks, on a signal of its own: the clock
 * given to the daemon notes when such a sleep ends (an evaluation starts) and when the next one begins
 * (it ended). The evaluator's signals are told from the schedulers' by the caller in the stack, once each.
 */
import { type Clock, systemClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/load.js';
import { tuneDaemonHeap } from '../../src/daemon/heap.js';
import { createDaemon } from '../../src/daemon/index.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import type { Evaluation } from './fleet-cycles.js';

/** What one measuring window saw. */
export interface FleetMeasured {
  cpuMicros: number;
  wallMs: number;
  /** Every probe's schedule lag (ms), what vigil_probe_schedule_lag_seconds observes, and when (epoch ms). */
  lagsMs: number[];
  lagAt: number[];
  rssMaxBytes: number;
  /** Peak RSS over the process's life (getrusage), the startup peak included. */
  rssPeakLifeBytes: number;
  /** At the window's end, after a full GC (the worker runs with --expose-gc). */
  memory: NodeJS.MemoryUsage;
  /** Evaluations that started inside the window. */
  evaluations: Evaluation[];
  /** The first evaluation of every service, from daemon.start(). */
  firstEvaluations: Evaluation[];
  /** Source query attempts (one HTTP request each) started inside the window, and their durations (ms). */
  queries: number;
  queryMs: number[];
}

type Command = { cmd: 'measure'; ms: number } | { cmd: 'stop' };

const epochMs = (): number => performance.timeOrigin + performance.now();

function liveMemory(): NodeJS.MemoryUsage {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage();
}

async function main(): Promise<void> {
  // As `vigil serve` starts.
  tuneDaemonHeap();
  const config = await loadConfig(process.argv[2] as string, {});
  const evaluations: Evaluation[] = [];
  const lanes = new WeakMap<AbortSignal, number | null>();
  const wokeAt = new Map<number, number>();
  let lanesSeen = 0;
  let startedAt = Number.NaN;
  const laneOf = (signal: AbortSignal): number | null => {
    let lane = lanes.get(signal);
    if (lane === undefined) {
      lane = new Error().stack?.includes('evaluator/continuous.') ? lanesSeen++ : null;
      lanes.set(signal, lane);
    }
    return lane;
  };
  const clock: Clock = {
    now: systemClock.now,
    sleep(ms, signal) {
      const lane = signal ? laneOf(signal) : null;
      if (lane === null) return systemClock.sleep(ms, signal);
      evaluations.push({ lane, startedAt: wokeAt.get(lane) ?? startedAt, endedAt: epochMs() });
      return systemClock.sleep(ms, signal).then(() => {
        wokeAt.set(lane, epochMs());
      });
    },
  };
  const daemon = await createDaemon({ config, logger: silentLogger(), searchPath: '', clock });

  let lags: number[] = [];
  let lagAt: number[] = [];
  const lag = daemon.metrics.probeScheduleLag;
  const observeLag = lag.observe.bind(lag);
  lag.observe = ((value: number) => {
    lags.push(value * 1000);
    lagAt.push(epochMs());
    observeLag(value);
  }) as typeof lag.observe;
  // One attempt timer per HTTP request a source sends (src/sources/resilience.ts), retries included.
  let queryMs: number[] = [];
  let queries = 0;
  const queryDuration = daemon.metrics.sourceQueryDuration;
  const startTimer = queryDuration.startTimer.bind(queryDuration);
  queryDuration.startTimer = ((labels?: { source?: string }) => {
    queries++;
    const t0 = performance.now();
    const end = startTimer(labels as never);
    return (...args: Parameters<typeof end>) => {
      queryMs.push(performance.now() - t0);
      return end(...args);
    };
  }) as typeof queryDuration.startTimer;

  startedAt = epochMs();
  const { port } = await daemon.start();
  process.send?.({ kind: 'ready', port });

  process.on('message', (message: Command) => {
    void handle(message).catch((error: unknown) => {
      process.send?.({ kind: 'error', message: error instanceof Error ? error.message : String(error) });
    });
  });

  async function handle(message: Command): Promise<void> {
    if (message.cmd === 'stop') {
      await daemon.stop(5_000);
      process.exit(0);
    }
    lags = [];
    lagAt = [];
    queryMs = [];
    queries = 0;
    const windowStart = epochMs();
    let rssMax = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
    }, 1000);
    const cpu = process.cpuUsage();
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, message.ms));
    const used = process.cpuUsage(cpu);
    const wallMs = performance.now() - started;
    clearInterval(sampler);
    const measured: FleetMeasured = {
      cpuMicros: used.user + used.system,
      wallMs,
      lagsMs: lags,
      lagAt,
      rssMaxBytes: Math.max(rssMax, process.memoryUsage().rss),
      rssPeakLifeBytes: process.resourceUsage().maxRSS * 1024,
      memory: liveMemory(),
      evaluations: evaluations.filter((e) => e.startedAt >= windowStart),
      firstEvaluations: evaluations.filter((e) => e.startedAt === startedAt),
      queries,
      queryMs,
    };
    process.send?.({ kind: 'measured', ...measured });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`fleet bench daemon: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
