import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'undici';
import { systemClock } from '../src/clock.js';
import { probeSchema } from '../src/config/schema.js';
import { runProbe } from '../src/prober/engine.js';
import { prepareProbe } from '../src/prober/prepare.js';
import { createScheduler } from '../src/prober/scheduler.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { createMetrics } from '../src/telemetry/metrics.js';

/** Figures of the probe engine benchmark. */
export interface ProbeBenchResult {
  /** Median CPU time of this process per fresh-connection HTTP probe on loopback, assertions and metrics included. */
  cpuMicrosPerProbe: number;
  /** The per-round figures the median comes from. */
  cpuMicrosPerProbeRounds: number[];
  /** Median wall time per probe, for context. */
  wallMicrosPerProbe: number;
  /**
   * The floor under the figure above: median CPU µs of a bare undici request on a fresh Agent (fresh
   * connection, body read, nothing else), measured in rounds interleaved with the engine's.
   */
  undiciFloorMicros: number;
  /** Resident set size with 10,000 configured probes held by a started scheduler. */
  rssBytesWith10kProbes: number;
  /** Growth of RSS from before the probes were prepared. */
  rssDeltaBytes: number;
  /** Growth of the V8 heap in use from before the probes were prepared (after GC when --expose-gc). */
  heapDeltaBytes: number;
}

// The target runs in a child process so its CPU time does not count against the prober's.
const SERVER = `
const http = require('node:http');
const body = JSON.stringify({ status: 'ok', checks: { db: { status: 'ok' }, payments: { status: 'ok' } } });
const server = http.createServer((req, res) => { res.setHeader('content-type', 'application/json'); res.end(body); });
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

async function startTarget(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  return { child, url: `http://127.0.0.1:${chunk.toString().trim()}` };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Measures the probe engine: CPU µs per fresh-connection HTTP probe on loopback (process.cpuUsage, median
 * of `rounds` rounds of `probesPerRound` sequential probes, after a warm-up), and RSS with 10,000
 * configured probes in a started scheduler.
 *
 * @example const figures = await benchProbe(); console.log(figures.cpuMicrosPerProbe);
 */
export async function benchProbe(
  options: { rounds?: number; probesPerRound?: number } = {},
): Promise<ProbeBenchResult> {
  const rounds = options.rounds ?? 9;
  const perRound = options.probesPerRound ?? 400;
  const target = await startTarget();
  try {
    // Memory first, while the process holds nothing from the CPU rounds.
    const rss = await measureRss(target.url);
    const metrics = createMetrics({ version: 'bench', defaultMetrics: false });
    const config = probeSchema.parse({
      name: 'health',
      kind: 'smoke',
      request: { path: '/health' },
      expect: [
        { status: 200 },
        { jsonPath: '$.status', equals: 'ok' },
        { jsonPath: "$.checks[?(@.status != 'ok')]", exists: false },
        { latencyMs: { lt: 500 } },
      ],
    });
    const probe = prepareProbe(config, { baseUrl: target.url });
    const deps = { now: () => systemClock.now(), metrics };
    const bare = async (): Promise<void> => {
      const agent = new Agent({ connections: 1, pipelining: 0 });
      const response = await request(`${target.url}/health`, { dispatcher: agent });
      await response.body.text();
      agent.destroy().catch(() => {});
    };
    // Long enough for the JIT to settle: the first thousand runs cost twice what later ones do.
    for (let i = 0; i < 2000; i++) {
      await runProbe(probe, deps);
      await bare();
    }
    const cpu: number[] = [];
    const wall: number[] = [];
    const floor: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const floorCpu = process.cpuUsage();
      for (let i = 0; i < perRound; i++) await bare();
      const floorUsed = process.cpuUsage(floorCpu);
      floor.push((floorUsed.user + floorUsed.system) / perRound);
      const startCpu = process.cpuUsage();
      const startWall = performance.now();
      for (let i = 0; i < perRound; i++) {
        const result = await runProbe(probe, deps);
        if (!result.success) throw new Error(`bench probe failed: ${result.failure?.message}`);
      }
      const used = process.cpuUsage(startCpu);
      cpu.push((used.user + used.system) / perRound);
      wall.push(((performance.now() - startWall) * 1000) / perRound);
    }
    return {
      cpuMicrosPerProbe: Math.round(median(cpu)),
      cpuMicrosPerProbeRounds: cpu.map(Math.round),
      wallMicrosPerProbe: Math.round(median(wall)),
      undiciFloorMicros: Math.round(median(floor)),
      ...rss,
    };
  } finally {
    target.child.kill();
  }
}

async function measureRss(
  baseUrl: string,
): Promise<Pick<ProbeBenchResult, 'rssBytesWith10kProbes' | 'rssDeltaBytes' | 'heapDeltaBytes'>> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage();
  const probes = Array.from({ length: 10_000 }, (_, i) =>
    prepareProbe(
      probeSchema.parse({
        name: `probe-${i}`,
        kind: 'smoke',
        interval: '1h',
        request: { path: `/health?i=${i}` },
        expect: [{ status: 200 }, { jsonPath: '$.status', equals: 'ok' }, { latencyMs: { lt: 500 } }],
      }),
      { baseUrl },
    ),
  );
  const metrics = createMetrics({ version: 'bench', defaultMetrics: false });
  const scheduler = createScheduler({
    probes,
    clock: systemClock,
    logger: silentLogger(),
    metrics,
    run: (p, signal) => runProbe(p, { now: () => systemClock.now(), signal, metrics }),
  });
  scheduler.start();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  gc?.();
  const after = process.memoryUsage();
  await scheduler.stop();
  return {
    rssBytesWith10kProbes: after.rss,
    rssDeltaBytes: after.rss - before.rss,
    heapDeltaBytes: after.heapUsed - before.heapUsed,
  };
}
