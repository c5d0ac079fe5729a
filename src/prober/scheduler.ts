import { setMaxListeners } from 'node:events';
import type { Clock } from '../clock.js';
import { errorMessage, VigilError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { DueQueue } from './due-queue.js';
import { createRunGate, type RunGate } from './gate.js';
import { createLoopDelayMonitor, type LoopDelayMonitor } from './loop-delay.js';
import type { PreparedProbe } from './prepare.js';
import { INITIAL_PROBE_STATE, nextProbeState, type ProbeState } from './state.js';
import type { ProbeResult } from './types.js';

/** What the scheduler needs of a probe: a name, a host for the per-host cap, and its interval. */
export type SchedulableProbe = Pick<PreparedProbe, 'name' | 'host'> & {
  config: Pick<PreparedProbe['config'], 'interval' | 'failureThreshold' | 'successThreshold'>;
};

export type ResultListener<P extends SchedulableProbe> = (
  result: ProbeResult,
  state: ProbeState,
  probe: P,
) => void;

export interface SchedulerOptions<P extends SchedulableProbe = PreparedProbe> {
  probes: readonly P[];
  clock: Clock;
  /** Runs one probe once (runProbe in the daemon, a fake in tests). */
  run: (probe: P, signal: AbortSignal) => Promise<ProbeResult>;
  metrics?: Pick<Metrics, 'probeScheduleLag'>;
  logger: Logger;
  /**
   * The global caps shared with other schedulers (one per service), fair between them. Without it the
   * scheduler makes its own from `concurrency` and `perHostConcurrency`.
   */
  gate?: RunGate;
  /** Runs in flight at once, all probes together; more wait in a queue. Default 32. Ignored with `gate`. */
  concurrency?: number;
  /** Runs in flight at once against one host:port. Default 4. Ignored with `gate`. */
  perHostConcurrency?: number;
  /** Event-loop delay now, in ms; default a perf_hooks monitor started with the scheduler. */
  eventLoopDelayMs?: () => number;
  /** A run starting this late (ms) is flagged `late` on its result. Default 1000. */
  lateAfterMs?: number;
  /** An event-loop delay above this (ms) at run start is flagged `late`. Default 100. */
  busyAfterMs?: number;
  /** How long stop() waits for runs in flight before aborting them. Default 10 s. */
  stopTimeoutMs?: number;
  /**
   * Hashed with each probe's name into its offset (the daemon gives the service): the same probe file
   * shared by a fleet's services does not make all their runs fall due at the same instants.
   */
  offsetSalt?: string;
  onResult?: ResultListener<P>;
}

export interface Scheduler<P extends SchedulableProbe = PreparedProbe> {
  start(): void;
  /** Stops scheduling and waits for runs in flight (aborting them after stopTimeoutMs). */
  stop(): Promise<void>;
  /** The latest result of each probe that has run, in configuration order. */
  latest(): ProbeResult[];
  /** Settled health per probe (failure/success thresholds applied). */
  states(): Record<string, ProbeState>;
  /** Runs the named probes (default all) now, through the same caps, and resolves with their results. */
  runOnce(names?: readonly string[]): Promise<ProbeResult[]>;
  /** Adds a listener for every result; returns its remover. */
  onResult(listener: ResultListener<P>): () => void;
  /** Scheduled runs dropped because the previous run of the probe had not finished, per probe. */
  missedRuns(): Record<string, number>;
}

/**
 * A probe's stable offset inside its interval (FNV-1a of the name): probes spread over the interval
 * instead of firing together, and land on the same phase after a restart.
 *
 * @example scheduleOffsetMs('health', 15_000) // the same number in every process
 */
export function scheduleOffsetMs(name: string, intervalMs: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % Math.max(1, Math.floor(intervalMs));
}

/**
 * The first scheduled time at or after `now` for a probe: `offset + k × interval` on the epoch grid.
 *
 * @example nextDueAt(61_000, 60_000, 500) // 120_500
 */
export function nextDueAt(now: number, intervalMs: number, offsetMs: number): number {
  const base = Math.floor((now - offsetMs) / intervalMs) * intervalMs + offsetMs;
  return base >= now ? base : base + intervalMs;
}

interface Slot<P> {
  probe: P;
  /** The run queued or in flight, until it settles. */
  pending?: Promise<ProbeResult>;
  inFlight?: Promise<ProbeResult>;
  queued?: { dueAt: number; resolve: (r: ProbeResult) => void; reject: (e: unknown) => void };
  missed: number;
  latest?: ProbeResult;
  state: ProbeState;
}

/**
 * The controller whose signal every run in flight shares (up to the gate's concurrency, 32 by default),
 * each adding an abort listener and removing it as it settles: past Node's default cap of 10 listeners,
 * MaxListenersExceededWarning would report a leak that is not one, so the cap is lifted on this signal.
 */
function abortableRuns(): AbortController {
  const runs = new AbortController();
  setMaxListeners(0, runs.signal);
  return runs;
}

/**
 * Runs probes on their intervals. One run per probe at a time (a run falling due while the previous one
 * is still going is counted as missed, not stacked); a global and a per-host cap hold runs in a queue,
 * and a run's timings start when it leaves the queue, so waiting never inflates a probe's latency.
 *
 * @example
 *   const scheduler = createScheduler({ probes, clock: systemClock, logger, metrics,
 *     run: (p, signal) => runProbe(p, { now: () => systemClock.now(), signal, metrics }) });
 *   scheduler.start(); … await scheduler.stop();
 */
export function createScheduler<P extends SchedulableProbe = PreparedProbe>(
  options: SchedulerOptions<P>,
): Scheduler<P> {
  const { clock, logger } = options;
  const gate =
    options.gate ??
    createRunGate({
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      ...(options.perHostConcurrency !== undefined ? { perHostConcurrency: options.perHostConcurrency } : {}),
    });
  const lane = gate.openLane();
  const lateAfterMs = options.lateAfterMs ?? 1000;
  const busyAfterMs = options.busyAfterMs ?? 100;
  const listeners = new Set<ResultListener<P>>(options.onResult ? [options.onResult] : []);
  const slots = options.probes.map<Slot<P>>((probe) => ({
    probe,
    missed: 0,
    state: INITIAL_PROBE_STATE,
  }));
  const byName = new Map(slots.map((s) => [s.probe.name, s]));
  let loop: AbortController | undefined;
  let runs = abortableRuns();
  let monitor: LoopDelayMonitor | undefined;
  let loopDone: Promise<void> = Promise.resolve();
  const offsetKey = (name: string): string =>
    options.offsetSalt === undefined ? name : `${options.offsetSalt}/${name}`;
  const loopDelay = (): number => options.eventLoopDelayMs?.() ?? monitor?.read() ?? 0;

  /** Called by the gate when the run gets its slot: from here on its timings count. */
  function startRun(slot: Slot<P>, release: () => void): void {
    const job = slot.queued as NonNullable<Slot<P>['queued']>;
    slot.queued = undefined;
    const lagMs = Math.max(0, clock.now() - job.dueAt);
    const delayMs = loopDelay();
    options.metrics?.probeScheduleLag.observe(lagMs / 1000);
    // A run that throws instead of rejecting must still settle its job and give its slot back: the gate
    // may be shared, and a lost slot would shrink every service's share of it.
    let started: Promise<ProbeResult>;
    try {
      started = options.run(slot.probe, runs.signal);
    } catch (error) {
      started = Promise.reject(error);
    }
    const promise = started.then((raw) => {
      const result =
        lagMs > lateAfterMs || delayMs > busyAfterMs
          ? { ...raw, late: { scheduleLagMs: lagMs, eventLoopDelayMs: delayMs } }
          : raw;
      slot.latest = result;
      slot.state = nextProbeState(slot.state, result.success, slot.probe.config, clock.now());
      for (const listener of listeners) {
        try {
          listener(result, slot.state, slot.probe);
        } catch (error) {
          logger.error({ probe: slot.probe.name, err: errorMessage(error) }, 'probe result listener failed');
        }
      }
      return result;
    });
    slot.inFlight = promise;
    promise.then(job.resolve, (error: unknown) => {
      logger.error({ probe: slot.probe.name, err: errorMessage(error) }, 'probe run crashed');
      job.reject(error);
    });
    promise
      .catch(() => {})
      .finally(() => {
        slot.inFlight = undefined;
        release();
      });
  }

  function enqueue(slot: Slot<P>, dueAt: number): Promise<ProbeResult> {
    const pending = new Promise<ProbeResult>((resolve, reject) => {
      slot.queued = { dueAt, resolve, reject };
    });
    slot.pending = pending;
    const clear = (): void => {
      if (slot.pending === pending) slot.pending = undefined;
    };
    pending.then(clear, clear);
    lane.enter(slot.probe.host, (release) => startRun(slot, release));
    return pending;
  }

  function fire(slot: Slot<P>, dueAt: number): void {
    if (slot.pending) {
      slot.missed++;
      logger.warn(
        { probe: slot.probe.name, missed: slot.missed },
        'probe run skipped: the previous run is still going',
      );
      return;
    }
    enqueue(slot, dueAt).catch(() => {});
  }

  async function runLoop(signal: AbortSignal): Promise<void> {
    const due = new DueQueue<Slot<P>>();
    const now = clock.now();
    for (const slot of slots) {
      const interval = slot.probe.config.interval;
      due.push(slot, nextDueAt(now, interval, scheduleOffsetMs(offsetKey(slot.probe.name), interval)));
    }
    while (!signal.aborted && due.size > 0) {
      try {
        await clock.sleep(Math.max(0, due.peekDueAt() - clock.now()), signal);
      } catch {
        return;
      }
      const woke = clock.now();
      while (due.peekDueAt() <= woke) {
        const { item: slot, dueAt } = due.pop() as { item: Slot<P>; dueAt: number };
        fire(slot, dueAt);
        const interval = slot.probe.config.interval;
        // The next due time strictly after now: a daemon that slept through several is not made to catch up.
        due.push(slot, nextDueAt(woke + 1, interval, scheduleOffsetMs(offsetKey(slot.probe.name), interval)));
      }
    }
  }

  return {
    start() {
      if (loop) return;
      loop = new AbortController();
      runs = abortableRuns();
      if (!options.eventLoopDelayMs) monitor = createLoopDelayMonitor();
      loopDone = runLoop(loop.signal);
    },
    async stop() {
      loop?.abort();
      loop = undefined;
      await loopDone;
      // Runs still waiting give their places at the gate up; those in flight release theirs as they settle.
      lane.clear();
      for (const slot of slots) {
        slot.queued?.reject(
          new VigilError('PROBE_SCHEDULER_STOPPED', 'the scheduler stopped before this run began'),
        );
        slot.queued = undefined;
      }
      const inFlight = slots.flatMap((s) => (s.inFlight ? [s.inFlight.catch(() => undefined)] : []));
      if (inFlight.length > 0) {
        const timer = new AbortController();
        const waited = await Promise.race([
          Promise.all(inFlight).then(() => true),
          clock.sleep(options.stopTimeoutMs ?? 10_000, timer.signal).then(
            () => false,
            () => false,
          ),
        ]);
        timer.abort();
        if (!waited) {
          runs.abort(new Error('scheduler stopped'));
          await Promise.all(inFlight);
        }
      }
      monitor?.close();
      monitor = undefined;
    },
    latest: () => slots.flatMap((s) => (s.latest ? [s.latest] : [])),
    states: () => Object.fromEntries(slots.map((s) => [s.probe.name, s.state])),
    missedRuns: () => Object.fromEntries(slots.map((s) => [s.probe.name, s.missed])),
    onResult(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async runOnce(names) {
      const wanted = names ? names.map((n) => byName.get(n)) : slots;
      const missing = names?.filter((n) => !byName.has(n)) ?? [];
      if (missing.length > 0) throw new VigilError('PROBE_UNKNOWN', `no probe named ${missing.join(', ')}`);
      const now = clock.now();
      return Promise.all((wanted as Slot<P>[]).map((slot) => slot.pending ?? enqueue(slot, now)));
    },
  };
}
