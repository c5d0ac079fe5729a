import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { loadConfig } from '../../../src/config/load.js';
import { probeSchema, rootConfigSchema, type VigilConfig } from '../../../src/config/schema.js';
import { createDaemon } from '../../../src/daemon/index.js';
import { createProbeRollups } from '../../../src/prober/rollups.js';
import { createScheduler } from '../../../src/prober/scheduler.js';
import { createProber, FLUSH_BATCH_RUNS, type Prober, type ProberDeps } from '../../../src/prober/service.js';
import { openStore } from '../../../src/store/open.js';
import type { Store } from '../../../src/store/port.js';
import { createLogger, silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { eventually, writeDaemonConfig } from '../../helpers/daemon.js';
import { onlyService } from '../../helpers/service.js';
import { refusable, storedMinutes } from './rollup-store.js';
import { type Running, startHttp } from './servers.js';

/*
 * The prober gathers results in memory and writes the rollups every few seconds and when it stops; the
 * daemon stops its probers before it closes the store, so a graceful stop loses no run.
 */

const T0 = Date.parse('2026-11-27T10:00:00Z');
let target: Running;
let healthy = true;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  target = await startHttp((_req, res) => {
    res.statusCode = healthy ? 200 : 503;
    res.end('{}');
  });
});
afterAll(() => target.close());
afterEach(async () => {
  healthy = true;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function configFor(failureThreshold = 1, count = 1): VigilConfig {
  return {
    file: '/etc/vigil/vigil.yaml',
    root: rootConfigSchema.parse({
      service: 'prep-api',
      target: { baseUrl: target.url },
      storage: { path: ':memory:' },
    }),
    probes: Array.from({ length: count }, (_, i) =>
      probeSchema.parse({
        name: i === 0 ? 'health' : `health-${i}`,
        kind: 'smoke',
        interval: '15s',
        failureThreshold,
        request: { path: '/health' },
        expect: [{ status: 200 }],
      }),
    ),
    slos: [],
  };
}

/** A log destination that keeps each JSON line, parsed. */
function linesInto<T>(lines: T[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as T);
      done();
    },
  });
}

/** Moves the clock one interval and waits (real time, bounded) for the run it starts to report. */
async function nextRun(clock: ManualClock, prober: Prober): Promise<void> {
  const before = prober.scheduler.latest()[0]?.startedAt;
  await clock.advance(15_000);
  await eventually(2_000, () => (prober.scheduler.latest()[0]?.startedAt !== before ? true : undefined));
}

/** The runs stored for the probes of configFor(), whatever their minute. */
const rowsIn = async (store: Store, service = ''): Promise<number> =>
  (
    await storedMinutes(store, service, [
      'health',
      ...Array.from({ length: FLUSH_BATCH_RUNS + 100 }, (_, i) => `health-${i}`),
    ])
  ).reduce((sum, minute) => sum + minute.total, 0);

async function memoryStore(): Promise<Store> {
  const store = await openStore({ path: ':memory:' });
  cleanups.push(() => store.close());
  return store;
}

function proberOn(store: Store, clock: ManualClock, extra: Partial<ProberDeps> = {}) {
  const rollups = createProbeRollups(store);
  const prober = createProber({
    config: onlyService(configFor()),
    clock,
    metrics: createMetrics({ version: 't', defaultMetrics: false }),
    logger: silentLogger(),
    rollups,
    ...extra,
  });
  return { rollups, prober };
}

describe('the prober writes its rollups in batches', () => {
  it('a run is readable at once, written by the next timed flush', async () => {
    const clock = new ManualClock(T0);
    const store = await memoryStore();
    const { rollups, prober } = proberOn(store, clock, { flushIntervalMs: 20_000 });
    prober.start();
    cleanups.push(() => prober.stop());
    await prober.scheduler.runOnce();
    expect(await rowsIn(store)).toBe(0);
    expect((await rollups.window('health', T0, clock.now() + 60_000)).total).toBe(1);
    await clock.advance(20_000); // the flush falls due; the next run has not reported yet
    expect(await rowsIn(store)).toBeGreaterThanOrEqual(1);
  });

  it('stop writes what is pending, after the last run in flight has reported', async () => {
    const clock = new ManualClock(T0);
    const store = await memoryStore();
    const { prober } = proberOn(store, clock, { flushIntervalMs: 3_600_000 });
    prober.start();
    await prober.scheduler.runOnce();
    await prober.scheduler.runOnce();
    expect(await rowsIn(store)).toBe(0);
    await prober.stop();
    expect(await rowsIn(store)).toBe(2);
  });

  it(`${FLUSH_BATCH_RUNS} pending runs are written without waiting for the interval; a refused write is logged once`, async () => {
    const clock = new ManualClock(T0);
    const store = await memoryStore();
    const writes = refusable(store);
    const lines: { msg: string; pendingRuns?: number }[] = [];
    const prober = createProber({
      config: onlyService(configFor(1, FLUSH_BATCH_RUNS + 100)),
      clock,
      metrics: createMetrics({ version: 't', defaultMetrics: false }),
      logger: createLogger({ level: 'error', destination: linesInto(lines) }),
      rollups: createProbeRollups(writes.store),
      flushIntervalMs: 3_600_000,
    });
    prober.start();
    cleanups.push(() => prober.stop());
    await prober.scheduler.runOnce();
    expect(await rowsIn(store)).toBe(FLUSH_BATCH_RUNS);

    writes.refuse('disk full');
    await prober.scheduler.runOnce();
    // The size trigger tried once, at 500 pending; the 200 runs after it did not ask the store again.
    expect(lines.map((l) => l.msg)).toEqual(['cannot store the probe rollups']);
    expect(lines[0]?.pendingRuns).toBe(FLUSH_BATCH_RUNS); // 100 left from the first round, 400 of this one
    writes.allow();
    await prober.stop(); // nothing refused was lost
    expect(await rowsIn(store)).toBe(2 * (FLUSH_BATCH_RUNS + 100));
  });

  it("the daemon's stop writes the rollups before it closes the store", async () => {
    const files = writeDaemonConfig({
      targetUrl: target.url,
      probes: '- name: health\n  kind: smoke\n  interval: 15s\n  request: { method: GET, path: /health }\n',
    });
    cleanups.push(files.cleanup);
    const clock = new ManualClock(T0);
    let prober: Prober | undefined;
    const daemon = await createDaemon({
      config: await loadConfig(files.configFile, {}),
      logger: silentLogger(),
      searchPath: '',
      defaultMetrics: false,
      clock,
      createProber: (deps) => {
        prober = createProber(deps);
        return prober;
      },
    });
    await daemon.start();
    // Run now, without moving the clock: no timed flush falls due before the stop.
    await (prober as Prober).scheduler.runOnce();
    // A second connection to the daemon's store, as another process would read it.
    const reader = await openStore({ path: files.dbPath });
    cleanups.push(() => reader.close());
    expect(await rowsIn(reader, 'prep-api')).toBe(0);
    await daemon.stop(1_000);
    expect(await rowsIn(reader, 'prep-api')).toBe(1);
  });
});

describe('what the prober logs of a run', () => {
  it('tells when a probe turns down and back up, not every failed run', async () => {
    const lines: { level: string; msg: string }[] = [];
    const destination = linesInto(lines);
    const clock = new ManualClock(T0);
    const prober = createProber({
      config: onlyService(configFor(2)),
      clock,
      metrics: createMetrics({ version: 't', defaultMetrics: false }),
      logger: createLogger({ level: 'debug', destination }),
    });
    prober.start();
    cleanups.push(() => prober.stop());
    for (const up of [true, false, false, false, true]) {
      healthy = up;
      await nextRun(clock, prober);
    }
    const said = (level: string) => lines.filter((l) => l.level === level).map((l) => l.msg);
    expect(said('info')).toEqual(['probe down', 'probe up again']);
    expect(said('debug').filter((m) => m === 'probe failed')).toHaveLength(3);
  });
});

describe('the signal runs in flight share', () => {
  it('takes more than ten runs at once without a MaxListenersExceededWarning', async () => {
    const clock = new ManualClock(T0);
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    cleanups.push(() => {
      process.off('warning', onWarning);
    });
    const probes = Array.from({ length: 20 }, (_, i) => ({
      name: `p${i}`,
      host: `h${i}:80`,
      config: { interval: 10_000, failureThreshold: 1, successThreshold: 1 },
    }));
    let listening = 0;
    const scheduler = createScheduler({
      probes,
      clock,
      logger: silentLogger(),
      concurrency: 32,
      // Each run listens on the shared signal until it ends, as the HTTP exchange does.
      run: async (probe, signal) => {
        const onAbort = (): void => {};
        signal.addEventListener('abort', onAbort);
        listening++;
        await clock.sleep(1_000);
        signal.removeEventListener('abort', onAbort);
        return {
          probe: probe.name,
          kind: 'smoke',
          success: true,
          startedAt: new Date(clock.now()).toISOString(),
          durationMs: 1,
          phases: { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: 1, transferMs: 0 },
          failure: null,
          assertions: [],
          steps: [],
        };
      },
    });
    scheduler.start();
    const runs = scheduler.runOnce();
    await clock.advance(0);
    expect(listening).toBe(20);
    await clock.advance(1_000);
    await runs;
    await scheduler.stop();
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
});
