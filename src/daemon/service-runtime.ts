import path from 'node:path';
import type { Dispatcher } from 'undici';
import type { Actions } from '../actions/index.js';
import type { Clock } from '../clock.js';
import type { ServiceConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import {
  type ContinuousEvaluator,
  createContinuousEvaluator,
  type SloState,
} from '../evaluator/continuous.js';
import { evaluateChecks } from '../evaluator/evaluate.js';
import type { CheckResult, SnapshotReader } from '../evaluator/types.js';
import type { RunQueue } from '../loadtest/queue.js';
import { createLoadRunner, type LoadRunner, type LoadRunnerSettings } from '../loadtest/runner.js';
import { type LoadSchedule, startLoadSchedule } from '../loadtest/schedule.js';
import type { PatternStore } from '../patterns/store.js';
import { patternsWiring } from '../patterns/wiring.js';
import type { RunGate } from '../prober/gate.js';
import { createProbeRollups } from '../prober/rollups.js';
import { scheduleOffsetMs } from '../prober/scheduler.js';
import { createProber, type Prober, type ProberDeps } from '../prober/service.js';
import type { JudgeTurns } from '../prober/turns.js';
import type { ProbeResult } from '../prober/types.js';
import { createSources, type Sources } from '../sources/index.js';
import type { Store } from '../store/port.js';
import type { Logger } from '../telemetry/logger.js';
import { type Metrics, seedServiceCounters } from '../telemetry/metrics.js';
import type { EvaluationContext } from '../watch/types.js';
import { probeChecks } from './probe-checks.js';
import { createSerialSwap, type Restartable } from './serial-swap.js';
import { bakeCheckNames } from './settings.js';
import { raiseSloAlerts } from './slo-alerts.js';

/** What every service's runtime shares with the others: the daemon's store, clock, metrics and caps. */
/** What the continuous evaluation needs of a service's newest watch. */
export interface LastWatch {
  version: string;
  previousVersion: string | null;
  startedAt: number;
}

export interface SharedParts {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  dispatcher: Dispatcher;
  actions: Actions;
  patternStore: PatternStore;
  snapshots: SnapshotReader;
  /** The global probe caps, shared fairly between the services' schedulers. */
  gate: RunGate;
  /** Where every service's finished exchanges wait to be judged, one per check phase. */
  judgeTurns: JudgeTurns;
  /** The global cap of k6 runs at once (each service runs one at a time on its own). */
  loadQueue: RunQueue;
  /** PATH, used to find a bare `k6` (and the only PATH k6 sees); HOME for the k6 process. */
  searchPath: string;
  home?: string;
  /** Event-loop delay now (ms): one monitor for every scheduler. */
  eventLoopDelayMs: () => number;
  /** How many services the daemon runs now: with more than one, each evaluates at its own phase. */
  fleetSize: () => number;
  createProber?: (deps: ProberDeps) => Prober;
  /** A service's newest watch, kept by the daemon (the evaluator asks on every cycle). */
  lastWatch: (service: string) => LastWatch | undefined;
}

/**
 * One service of the daemon: its probes, sources, continuous evaluation, k6 runner and schedule, and what
 * its watches call (smoke probes, bake evaluations, the load phase). Each service's loops run on their own,
 * so a slow source, a probe storm or a k6 run of one does not hold up another's evaluations; probes share
 * the global caps through the gate, k6 runs through the shared queue.
 */
export interface ServiceRuntime {
  readonly name: string;
  config(): ServiceConfig;
  prober(): Prober;
  readonly loadRunner: LoadRunner;
  /** Latest probe results, each with its service. */
  probeResults(): (ProbeResult & { service: string })[];
  /** Current SLO states, each with its service. */
  sloStates(): (SloState & { service: string })[];
  runSmokeProbes(signal: AbortSignal, only?: readonly string[]): Promise<ProbeResult[]>;
  bakeChecks(): string[];
  evaluate(context: EvaluationContext, signal: AbortSignal): Promise<CheckResult[]>;
  runLoad(watchId: string, signal: AbortSignal, onProgress: (line: string) => void): Promise<CheckResult>;
  start(): void;
  /**
   * Readies a changed config of the same service — what can throw (preparing probes) happens here —
   * and returns the commit that swaps it in (the prober is replaced; the old one stops first).
   */
  prepare(next: ServiceConfig): () => { removedSlos: string[] };
  /** Stops every loop; with `forget`, drops the service's SLO series too (the service was removed). */
  stop(options?: { forget?: boolean }): Promise<void>;
}

/**
 * Builds one service's runtime; nothing runs until `start()`.
 *
 * @example
 *   const runtime = createServiceRuntime(serviceNamed(config, 'prep-api'), shared);
 *   runtime.start(); … await runtime.stop();
 */
export function createServiceRuntime(initial: ServiceConfig, shared: SharedParts): ServiceRuntime {
  const { store, clock, metrics, dispatcher } = shared;
  let config = initial;
  const name = initial.root.service;
  const logger = shared.logger.child({ service: name });
  const rollups = createProbeRollups(store, name);
  const sourceLogger = logger.child({ component: 'sources' });
  const sources: Sources = {};
  const rebuildSources = (): void => {
    for (const key of Object.keys(sources) as (keyof Sources)[]) delete sources[key];
    Object.assign(
      sources,
      createSources(config.root, { dispatcher, metrics, logger: sourceLogger, rollups }),
    );
  };
  rebuildSources();
  const patterns = patternsWiring(shared.patternStore, { dispatcher, metrics, logger: sourceLogger });

  // A probe in flight at shutdown is only a measurement: it gets at most a second (never more than
  // server.shutdownTimeout) to finish, then is aborted, so it cannot hold the exit past the deadline.
  const newProber = (from: ServiceConfig): Prober =>
    (shared.createProber ?? createProber)({
      config: from,
      clock,
      metrics,
      logger: logger.child({ component: 'prober' }),
      rollups,
      gate: shared.gate,
      turns: shared.judgeTurns,
      eventLoopDelayMs: shared.eventLoopDelayMs,
      stopTimeoutMs: Math.min(1_000, from.root.server.shutdownTimeout),
    });
  // `prober` is the newest one, which reads go to; `probers` starts and stops them one at a time.
  let prober = newProber(config);
  const probers = createSerialSwap(prober, (error) =>
    logger.error({ err: errorMessage(error) }, 'cannot stop the previous prober'),
  );

  const loadRunner = createLoadRunner({
    ...loadRunnerSettings(config),
    store,
    service: name,
    sharedQueue: shared.loadQueue,
    clock,
    logger,
    metrics,
    cwd: path.dirname(config.file),
    searchPath: shared.searchPath,
    // k6 gets PATH and HOME only, never the daemon's whole environment (tokens, secrets).
    baseEnv: { PATH: shared.searchPath, ...(shared.home ? { HOME: shared.home } : {}) },
  });
  const scheduleFor = (from: ServiceConfig): Restartable => {
    let schedule: LoadSchedule | undefined;
    return {
      start() {
        const entries = from.root.loadtests?.schedule ?? [];
        if (entries.length === 0) return;
        schedule = startLoadSchedule({
          entries,
          runner: loadRunner,
          logger: logger.child({ component: 'loadtest-schedule' }),
        });
      },
      stop: async () => schedule?.stop(),
    };
  };
  const schedules = createSerialSwap(scheduleFor(config), (error) =>
    logger.error({ err: errorMessage(error) }, 'cannot stop the previous load schedule'),
  );

  let removed = false;
  const continuous: ContinuousEvaluator = createContinuousEvaluator({
    // Read at start: one service alone evaluates at once, as ever; a fleet's spread over the interval.
    phaseMs: () =>
      shared.fleetSize() > 1 ? scheduleOffsetMs(name, config.root.watch.evaluationInterval) : 0,
    slos: () => (removed ? [] : config.slos),
    sources,
    clock,
    metrics,
    logger: logger.child({ component: 'evaluator' }),
    intervalMs: () => config.root.watch.evaluationInterval,
    windowMs: () => config.root.watch.window,
    vars: () => {
      const last = shared.lastWatch(name);
      return {
        service: name,
        ...(last ? { version: last.version } : {}),
        ...(last?.previousVersion ? { previousVersion: last.previousVersion } : {}),
      };
    },
    lastDeployAt: () => shared.lastWatch(name)?.startedAt,
    snapshots: shared.snapshots,
    onEvaluation: (_states, checks) => raiseSloAlerts(shared.actions.alerts, config, checks),
  });
  const loops = new AbortController();

  return {
    name,
    config: () => config,
    prober: () => prober,
    loadRunner,
    probeResults: () => prober.scheduler.latest().map((result) => ({ service: name, ...result })),
    sloStates: () => continuous.getStates().map((state) => ({ service: name, ...state })),
    async runSmokeProbes(_signal, only) {
      const smoke = config.probes.filter((p) => p.kind === 'smoke').map((p) => p.name);
      const names = only ? smoke.filter((n) => only.includes(n)) : smoke;
      return names.length === 0 ? [] : prober.scheduler.runOnce(names);
    },
    bakeChecks: () => bakeCheckNames(config),
    async evaluate(context, signal) {
      const watch = config.root.watch;
      const checks = await evaluateChecks(config.slos, {
        sources,
        at: context.at,
        deployedAt: context.deployedAt,
        windowMs: watch.window,
        // DESIGN §6: a watch judges post-deploy data only; minWindow defaults to 2 × each source's scrapeInterval.
        postDeployOnly: true,
        ...(watch.minWindow === undefined ? {} : { minWindowMs: watch.minWindow }),
        vars: context.vars,
        watchId: context.watchId,
        snapshots: shared.snapshots,
        signal,
        patterns: patterns(config.root),
      });
      return [
        ...checks,
        ...(await probeChecks({
          probes: config.probes,
          judged: watch.probes,
          targetBaseUrl: config.root.target.baseUrl,
          states: prober.scheduler.states(),
          latest: prober.scheduler.latest(),
          at: context.at,
          deployedAt: context.deployedAt,
          windowMs: watch.window,
          rollups,
        })),
      ];
    },
    // Read at each run, so a reload that changes loadProfile or the profiles applies to the next watch.
    async runLoad(watchId, signal, onProgress) {
      const profile = config.root.watch.loadProfile ?? '';
      const result = await loadRunner.run(profile, {
        watchId,
        trigger: 'watch',
        signal,
        onProgress: (p) =>
          onProgress(
            `k6 ${profile}: ${Math.round(p.elapsedMs / 1000)}s, ${p.vus ?? '?'} VUs, ${p.requests ?? 0} requests, ` +
              `failed ${p.failedRate === null || p.failedRate === undefined ? '?' : (p.failedRate * 100).toFixed(2)} %, ` +
              `p95 ${p.p95Ms === null || p.p95Ms === undefined ? '?' : p.p95Ms.toFixed(0)} ms`,
          ),
      });
      return result.check;
    },
    start() {
      seedServiceCounters(metrics, name);
      probers.start();
      void continuous.run(loops.signal);
      schedules.start();
    },
    prepare(next) {
      const nextProber = newProber(next);
      return () => {
        config = next;
        rebuildSources();
        prober = nextProber;
        void probers.swap(nextProber);
        void schedules.swap(scheduleFor(next));
        loadRunner.reconfigure(loadRunnerSettings(next));
        return { removedSlos: continuous.forgetRemoved() };
      };
    },
    async stop(options = {}) {
      loops.abort(new Error(options.forget ? `service ${name} removed` : 'shutting down'));
      await Promise.allSettled([probers.stop(), schedules.stop()]);
      if (options.forget) {
        removed = true;
        continuous.forgetRemoved();
        seedServiceCounters(metrics, name, true);
        // After the prober stopped, so no run in flight records its probes again.
        metrics.probes.retain([], name);
      }
    },
  };
}

/** The load runner's part of a service's config: what a reload hands to `loadRunner.reconfigure`. */
function loadRunnerSettings(config: ServiceConfig): LoadRunnerSettings {
  const loadtests = config.root.loadtests;
  return {
    k6Path: loadtests?.k6 ?? 'k6',
    profiles: loadtests?.profiles ?? {},
    targetBaseUrl: config.root.target.baseUrl,
    gracePeriodMs: loadtests?.gracePeriod ?? 10_000,
  };
}
