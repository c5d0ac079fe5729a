import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { DueQueue } from '../../../src/prober/due-queue.js';
import { createRunGate, type RunGate } from '../../../src/prober/gate.js';
import {
  createScheduler,
  nextDueAt,
  type SchedulableProbe,
  type Scheduler,
  type SchedulerOptions,
  scheduleOffsetMs,
} from '../../../src/prober/scheduler.js';
import { INITIAL_PROBE_STATE, nextProbeState, type ProbeState } from '../../../src/prober/state.js';
import type { ProbeResult } from '../../../src/prober/types.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';

const T0 = Date.parse('2026-11-27T10:00:00Z');

function fakeProbe(name: string, intervalMs = 10_000, host = 'a:80'): SchedulableProbe {
  return { name, host, config: { interval: intervalMs, failureThreshold: 2, successThreshold: 1 } };
}

function result(name: string, success = true): ProbeResult {
  return {
    probe: name,
    kind: 'smoke',
    success,
    startedAt: new Date().toISOString(),
    durationMs: 1,
    phases: { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: 1, transferMs: 0 },
    failure: success ? null : { class: 'connect', message: 'refused' },
    assertions: [],
    steps: [],
  };
}

/** A fake run that takes `durationMs` of virtual time and records when each run started and how many overlap. */
function recorder(
  clock: ManualClock,
  durationMs: number,
  outcome: (name: string, n: number) => boolean = () => true,
) {
  const starts: Record<string, number[]> = {};
  const live = { total: 0, max: 0, perHost: new Map<string, number>(), maxPerHost: 0, perProbeMax: 0 };
  const perProbe = new Map<string, number>();
  const run = async (probe: SchedulableProbe): Promise<ProbeResult> => {
    starts[probe.name] = [...(starts[probe.name] ?? []), clock.now()];
    live.total++;
    live.max = Math.max(live.max, live.total);
    live.perHost.set(probe.host, (live.perHost.get(probe.host) ?? 0) + 1);
    live.maxPerHost = Math.max(live.maxPerHost, live.perHost.get(probe.host) ?? 0);
    perProbe.set(probe.name, (perProbe.get(probe.name) ?? 0) + 1);
    live.perProbeMax = Math.max(live.perProbeMax, perProbe.get(probe.name) ?? 0);
    await clock.sleep(durationMs);
    live.total--;
    live.perHost.set(probe.host, (live.perHost.get(probe.host) ?? 1) - 1);
    perProbe.set(probe.name, (perProbe.get(probe.name) ?? 1) - 1);
    return result(probe.name, outcome(probe.name, starts[probe.name]?.length ?? 0));
  };
  return { starts, live, run };
}

describe('schedule offsets', () => {
  // The offset is FNV-1a (32 bit) of the name modulo the interval. Pinned values, not the function
  // compared with itself: a changed hash would move every probe's phase after an upgrade. With an
  // interval of 2^32 ms the offset is the hash itself, checked against the FNV reference vectors.
  it.each([
    ['', 2 ** 32, 0x811c9dc5],
    ['a', 2 ** 32, 0xe40c292c],
    ['foobar', 2 ** 32, 0xbf9cf968],
    ['health', 15_000, 9_399],
    ['ready', 15_000, 7_932],
    ['live', 60_000, 35_215],
    ['booking-journey', 60_000, 24_193],
    ['health', 1, 0],
  ])('scheduleOffsetMs(%j, %i) is %i', (name, interval, want) => {
    expect(scheduleOffsetMs(name, interval)).toBe(want);
  });

  it('are inside the interval and spread probes apart', () => {
    const offsets = new Set(Array.from({ length: 100 }, (_, i) => scheduleOffsetMs(`probe-${i}`, 60_000)));
    expect(offsets.size).toBeGreaterThan(95);
    for (const o of offsets) expect(o).toBeGreaterThanOrEqual(0);
    for (const o of offsets) expect(o).toBeLessThan(60_000);
  });

  it.each([
    [61_000, 60_000, 500, 120_500],
    [60_500, 60_000, 500, 60_500],
    [0, 15_000, 14_999, 14_999],
  ])('nextDueAt(%i, %i, %i) is %i', (now, interval, offset, want) => {
    expect(nextDueAt(now, interval, offset)).toBe(want);
  });

  it('runs each probe at its offset on the interval grid, the same after a restart', async () => {
    const clock = new ManualClock(T0);
    const probes = ['health', 'ready', 'live'].map((n) => fakeProbe(n));
    for (let restart = 0; restart < 2; restart++) {
      const { starts, run } = recorder(clock, 10);
      const scheduler = createScheduler({
        probes,
        clock,
        run,
        logger: silentLogger(),
        eventLoopDelayMs: () => 0,
      });
      scheduler.start();
      await clock.advance(30_000);
      await scheduler.stop();
      for (const p of probes) {
        const times = starts[p.name] ?? [];
        expect(times.length).toBe(3);
        for (const t of times) expect((t - T0) % 10_000).toBe(scheduleOffsetMs(p.name, 10_000));
      }
    }
  });

  it("a fleet's services sharing one probe file run them at their own offsets (the salt is the service)", async () => {
    const clock = new ManualClock(T0);
    const firstRun = async (salt: string): Promise<number> => {
      const { starts, run } = recorder(clock, 10);
      const scheduler = createScheduler({
        probes: [fakeProbe('health')],
        clock,
        run,
        logger: silentLogger(),
        eventLoopDelayMs: () => 0,
        offsetSalt: salt,
      });
      scheduler.start();
      await clock.advance(10_000);
      await scheduler.stop();
      return ((starts.health?.[0] ?? Number.NaN) - T0) % 10_000;
    };
    const api = await firstRun('prep-api');
    const worker = await firstRun('prep-worker');
    expect(api).toBe(scheduleOffsetMs('prep-api/health', 10_000));
    expect(worker).toBe(scheduleOffsetMs('prep-worker/health', 10_000));
    expect(api).not.toBe(worker);
  });
});

describe('runs', () => {
  it('never overlap for one probe; a run falling due meanwhile is counted as missed', async () => {
    const clock = new ManualClock(T0);
    const { starts, live, run } = recorder(clock, 25_000);
    const scheduler = createScheduler({
      probes: [fakeProbe('slow')],
      clock,
      run,
      logger: silentLogger(),
      eventLoopDelayMs: () => 0,
    });
    scheduler.start();
    await clock.advance(100_000);
    const stopping = scheduler.stop();
    await clock.advance(25_000);
    await stopping;
    expect(live.perProbeMax).toBe(1);
    // Due every 10 s for 100 s: 10 due times; each 25 s run swallows the next two.
    expect(starts.slow?.length).toBe(4);
    expect(scheduler.missedRuns()).toEqual({ slow: 6 });
  });

  it('queue behind the global and per-host caps', async () => {
    const clock = new ManualClock(T0);
    const { live, run } = recorder(clock, 5_000);
    const probes = [
      ...Array.from({ length: 6 }, (_, i) => fakeProbe(`a${i}`, 60_000, 'a:443')),
      ...Array.from({ length: 6 }, (_, i) => fakeProbe(`b${i}`, 60_000, 'b:443')),
    ];
    const scheduler = createScheduler({
      probes,
      clock,
      run,
      logger: silentLogger(),
      concurrency: 3,
      perHostConcurrency: 2,
      eventLoopDelayMs: () => 0,
    });
    const all = scheduler.runOnce();
    await clock.advance(60_000);
    const results = await all;
    expect(results.map((r) => r.probe)).toEqual(probes.map((p) => p.name));
    expect(live.max).toBe(3);
    expect(live.maxPerHost).toBe(2);
  });

  it('measure schedule lag from the due time to the real start, and flag late results', async () => {
    const clock = new ManualClock(T0);
    const metrics = createMetrics({ version: 't', defaultMetrics: false });
    const { run } = recorder(clock, 2_000);
    const scheduler = createScheduler({
      probes: [fakeProbe('one'), fakeProbe('two')],
      clock,
      run,
      metrics,
      logger: silentLogger(),
      concurrency: 1,
      eventLoopDelayMs: () => 0,
    });
    const done = scheduler.runOnce();
    await clock.advance(5_000);
    const [one, two] = await done;
    expect(one?.late).toBeUndefined();
    expect(two?.late).toEqual({ scheduleLagMs: 2_000, eventLoopDelayMs: 0 });
    const lag = await metrics.registry.getSingleMetricAsString('vigil_probe_schedule_lag_seconds');
    expect(lag).toContain('vigil_probe_schedule_lag_seconds_sum 2');
    expect(lag).toContain('vigil_probe_schedule_lag_seconds_count 2');
  });

  it('flags results when the event loop was busy at the start', async () => {
    const clock = new ManualClock(T0);
    const { run } = recorder(clock, 10);
    const scheduler = createScheduler({
      probes: [fakeProbe('one')],
      clock,
      run,
      logger: silentLogger(),
      eventLoopDelayMs: () => 250,
    });
    const done = scheduler.runOnce(['one']);
    await clock.advance(10);
    expect((await done)[0]?.late).toEqual({ scheduleLagMs: 0, eventLoopDelayMs: 250 });
  });

  it('refuse an unknown probe name', async () => {
    const clock = new ManualClock(T0);
    const scheduler = createScheduler({
      probes: [fakeProbe('one')],
      clock,
      run: recorder(clock, 1).run,
      logger: silentLogger(),
    });
    await expect(scheduler.runOnce(['nope'])).rejects.toMatchObject({ code: 'PROBE_UNKNOWN' });
  });

  it('keep the latest result and the settled state per probe, and tell listeners', async () => {
    const clock = new ManualClock(T0);
    const { run } = recorder(clock, 10, (_, n) => n === 1); // first run passes, then failures
    const seen: string[] = [];
    const scheduler = createScheduler({
      probes: [fakeProbe('flappy')],
      clock,
      run,
      logger: silentLogger(),
      eventLoopDelayMs: () => 0,
      onResult: (r, s) => seen.push(`${r.success}:${s.health}`),
    });
    for (let i = 0; i < 3; i++) {
      const done = scheduler.runOnce();
      await clock.advance(10);
      await done;
    }
    expect(seen).toEqual(['true:up', 'false:up', 'false:down']);
    expect(scheduler.latest()).toHaveLength(1);
    expect(scheduler.states().flappy?.health).toBe('down');
  });

  it('stop waits for a run in flight, then aborts what outlives the deadline', async () => {
    const clock = new ManualClock(T0);
    let aborted = false;
    const run = (probe: SchedulableProbe, signal: AbortSignal) =>
      new Promise<ProbeResult>((resolve) => {
        signal.addEventListener('abort', () => {
          aborted = true;
          resolve(result(probe.name, false));
        });
      });
    const scheduler = createScheduler({
      probes: [fakeProbe('stuck', 1_000)],
      clock,
      run,
      logger: silentLogger(),
      stopTimeoutMs: 5_000,
      eventLoopDelayMs: () => 0,
    });
    scheduler.start();
    await clock.advance(1_000);
    let stopped = false;
    const stopping = scheduler.stop().then(() => {
      stopped = true;
    });
    await clock.advance(4_000);
    expect(stopped).toBe(false);
    await clock.advance(1_000);
    await stopping;
    expect(aborted).toBe(true);
  });
});

describe('schedulers sharing a gate (one per service)', () => {
  /** A service's scheduler on the shared gate. */
  const service = (
    clock: ManualClock,
    gate: RunGate,
    probes: SchedulableProbe[],
    run: SchedulerOptions<SchedulableProbe>['run'],
    stopTimeoutMs = 10_000,
  ) =>
    createScheduler({
      probes,
      clock,
      run,
      gate,
      stopTimeoutMs,
      logger: silentLogger(),
      eventLoopDelayMs: () => 0,
    });
  const many = (prefix: string, n: number, host: (i: number) => string, intervalMs = 600_000) =>
    Array.from({ length: n }, (_, i) => fakeProbe(`${prefix}${i}`, intervalMs, host(i)));

  it('never exceed the global nor the per-host cap together', async () => {
    const clock = new ManualClock(T0);
    const { live, starts, run } = recorder(clock, 3_000);
    const gate = createRunGate({ concurrency: 5, perHostConcurrency: 2 });
    // Both services probe shared:443; each also has hosts of its own.
    const [a, b] = ['a', 'b'].map((name) =>
      service(
        clock,
        gate,
        [
          ...many(`${name}-shared`, 4, () => 'shared:443', 10_000),
          ...many(`${name}-own`, 6, (i) => `${name}${i % 3}:443`, 10_000),
        ],
        run,
      ),
    ) as [Scheduler<SchedulableProbe>, Scheduler<SchedulableProbe>];
    a.start();
    b.start();
    await clock.advance(60_000);
    const stopping = Promise.all([a.stop(), b.stop()]);
    await clock.advance(10_000);
    await stopping;
    // Each scheduler alone stays within 5 and 2; together they must too, and reach them.
    expect(live.max).toBe(5);
    expect(live.maxPerHost).toBe(2);
    expect(Object.keys(starts)).toHaveLength(20);
    expect([gate.inFlight, gate.waiting]).toEqual([0, 0]);
  });

  it("one service's storm of slow runs delays another's run by one freed slot at most", async () => {
    const clock = new ManualClock(T0);
    const { starts, run } = recorder(clock, 5_000);
    const gate = createRunGate({ concurrency: 2 });
    const stormy = service(
      clock,
      gate,
      many('storm', 40, (i) => `h${i}:443`),
      run,
    );
    const quiet = service(clock, gate, [fakeProbe('quiet', 600_000, 'q:443')], run);
    const storm = stormy.runOnce();
    await clock.advance(1_000);
    const due = quiet.runOnce();
    await clock.advance(4_000); // the storm's first two runs end: the first freed slot is quiet's
    expect(starts.quiet).toEqual([T0 + 5_000]);
    await clock.advance(5_000);
    const [result] = await due;
    // Its timings start when it leaves the queue: the 4 s of waiting show as lag, flagged late.
    expect(result?.late).toEqual({ scheduleLagMs: 4_000, eventLoopDelayMs: 0 });
    await clock.advance(200_000);
    expect(await storm).toHaveLength(40);
  });

  it('a stopped scheduler gives its waiting places up, and its runs in flight release their slots', async () => {
    const clock = new ManualClock(T0);
    const gate = createRunGate({ concurrency: 2 });
    let hungStarts = 0;
    // The stopping service's runs hang until stop() aborts them.
    const hung = (probe: SchedulableProbe, signal: AbortSignal) => {
      hungStarts++;
      return new Promise<ProbeResult>((resolve) => {
        signal.addEventListener('abort', () => resolve(result(probe.name, false)));
      });
    };
    const stopping = service(
      clock,
      gate,
      many('s', 6, (i) => `s${i}:443`),
      hung,
      3_000,
    );
    const { starts, run } = recorder(clock, 1_000);
    const other = service(
      clock,
      gate,
      many('o', 2, (i) => `o${i}:443`),
      run,
    );
    const stopped = stopping.runOnce();
    const otherDone = other.runOnce();
    expect(gate.waiting).toBe(6);
    const stop = stopping.stop();
    await expect(stopped).rejects.toMatchObject({ code: 'PROBE_SCHEDULER_STOPPED' });
    expect(gate.waiting).toBe(2);
    await clock.advance(3_000); // stop() aborts the two hung runs: their slots go to the other service
    await stop;
    expect(hungStarts).toBe(2);
    expect(starts).toEqual({ o0: [T0 + 3_000], o1: [T0 + 3_000] });
    await clock.advance(1_000);
    expect((await otherDone).map((r) => r.success)).toEqual([true, true]);
    expect(gate.inFlight).toBe(0);
  });
});

describe('flap control', () => {
  const t = { failureThreshold: 2, successThreshold: 2 };
  it.each([
    ['one blip does not flip an up probe', [true, true, false, true], 'up'],
    ['two failures in a row take it down', [true, true, false, false], 'down'],
    ['one success after down is not enough with successThreshold 2', [false, false, true], 'down'],
    ['two successes bring it back up', [false, false, true, true], 'up'],
    ['starts unknown until a threshold is met', [true, false], 'unknown'],
  ])('%s', (_name, runs, health) => {
    let s: ProbeState = INITIAL_PROBE_STATE;
    runs.forEach((ok, i) => {
      s = nextProbeState(s, ok as boolean, t, i);
    });
    expect(s.health).toBe(health);
  });

  it('records when health changed', () => {
    let s = nextProbeState(INITIAL_PROBE_STATE, true, { failureThreshold: 1, successThreshold: 1 }, 5);
    s = nextProbeState(s, true, { failureThreshold: 1, successThreshold: 1 }, 9);
    expect(s.changedAt).toBe(5);
  });
});

describe('the due queue', () => {
  it('pops in due-time order whatever the push order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1_000_000 }), { maxLength: 200 }), (times) => {
        const q = new DueQueue<number>();
        for (const [i, t] of times.entries()) q.push(i, t);
        const out: number[] = [];
        for (let e = q.pop(); e; e = q.pop()) out.push(e.dueAt);
        expect(out).toEqual([...times].sort((a, b) => a - b));
      }),
    );
  });
});
