/*
 * A real daemon (createDaemon over a loaded config) in its own process, for the benches that measure the
 * daemon's own CPU, memory and latency. The parent drives it over IPC:
 *   → { cmd: 'measure', ms }  ← { kind: 'measured', cpuMicros, wallMs, lagsMs[], durationsMs[], rssMaxBytes, runs }
 *   → { cmd: 'render', times } ← { kind: 'rendered', ms[], bytes, lines }
 *   → { cmd: 'reload', times, settleMs } ← { kind: 'reloaded', before, after } (live memory around `times`
 *     SIGHUP-style reloads, read `settleMs` after the last)
 *   → { cmd: 'stop' }          ← (exit 0 after daemon.stop)
 * and gets { kind: 'ready', port } once it listens.
 */
import { loadConfigForDaemon } from '../../src/config/load-isolated.js';
import { tuneDaemonHeap } from '../../src/daemon/heap.js';
import { createDaemon } from '../../src/daemon/index.js';
import { silentLogger } from '../../src/telemetry/logger.js';

type Command =
  | { cmd: 'measure'; ms: number }
  | { cmd: 'render'; times: number }
  | { cmd: 'reload'; times: number; settleMs: number }
  | { cmd: 'stop' };

/** Time for a reload's prober swap: the old prober gives its runs in flight up to a second. */
const SWAP_MS = 2_000;

/** Memory after a full GC when the worker runs with --expose-gc (live heap, not garbage awaiting collection). */
function liveMemory(): NodeJS.MemoryUsage {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage();
}

function send(message: object): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const file = process.argv[2] as string;
  // As `vigil serve` starts: its heap tuning, then the load.
  tuneDaemonHeap();
  // As `vigil serve` loads it (a large config in a worker thread, so its garbage does not size this heap).
  const config = await loadConfigForDaemon(file, {});
  const daemon = await createDaemon({ config, logger: silentLogger(), searchPath: '' });
  // Every schedule lag the scheduler reports, in ms (it feeds vigil_probe_schedule_lag_seconds).
  let lags: number[] = [];
  const histogram = daemon.metrics.probeScheduleLag;
  const observe = histogram.observe.bind(histogram);
  let lagTimes: number[] = [];
  histogram.observe = ((value: number) => {
    lags.push(value * 1000);
    lagTimes.push(Date.now());
    observe(value);
  }) as typeof histogram.observe;
  // Every probe's total duration, in ms (what vigil_probe_phase_duration_seconds{phase="total"} gets).
  let durations: number[] = [];
  const duration = daemon.metrics.probePhaseDuration;
  const observeDuration = duration.observe.bind(duration);
  duration.observe = ((labels: { phase?: string }, value: number) => {
    if (labels.phase === 'total') durations.push(value * 1000);
    observeDuration(labels as never, value);
  }) as typeof duration.observe;
  const { port } = await daemon.start();
  send({ kind: 'ready', port });

  process.on('message', (message: Command) => {
    void handle(message).catch((error: unknown) => {
      send({ kind: 'error', message: error instanceof Error ? error.message : String(error) });
    });
  });

  async function handle(message: Command): Promise<void> {
    if (message.cmd === 'measure') {
      lags = [];
      lagTimes = [];
      durations = [];
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
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
      send({
        kind: 'measured',
        cpuMicros: used.user + used.system,
        wallMs,
        lagsMs: lags,
        lagTimes,
        durationsMs: durations,
        rssMaxBytes: rssMax,
        memory: liveMemory(),
        runs: lags.length,
      });
    } else if (message.cmd === 'render') {
      const ms: number[] = [];
      let bytes = 0;
      let lines = 0;
      for (let i = 0; i < message.times; i++) {
        const started = performance.now();
        const text = await daemon.metrics.registry.metrics();
        ms.push(performance.now() - started);
        bytes = Buffer.byteLength(text);
        lines = text.split('\n').length;
      }
      send({ kind: 'rendered', ms, bytes, lines });
    } else if (message.cmd === 'reload') {
      const before = liveMemory();
      for (let i = 0; i < message.times; i++) {
        // As `vigil serve` does on SIGHUP: a fresh load (in the worker), then the swap.
        daemon.reload(await loadConfigForDaemon(file, {}));
        await new Promise((resolve) => setTimeout(resolve, SWAP_MS));
      }
      await new Promise((resolve) => setTimeout(resolve, message.settleMs));
      send({ kind: 'reloaded', before, after: liveMemory() });
    } else {
      await daemon.stop(5_000);
      process.exit(0);
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench daemon: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
