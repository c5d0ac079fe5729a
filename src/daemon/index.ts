import { setMaxListeners } from 'node:events';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Agent } from 'undici';
import { createActions } from '../actions/index.js';
import { createWatchHooks, deliveryTimelineEvent } from '../actions/watch-hooks.js';
import { type Clock, systemClock } from '../clock.js';
import { configWarnings as loaderWarnings } from '../config/load.js';
import type { VigilConfig } from '../config/schema.js';
import { errorMessage, formatProblem } from '../errors.js';
import { createContinuousEvaluator } from '../evaluator/continuous.js';
import { evaluateChecks } from '../evaluator/evaluate.js';
import { createLoadRunner, type LoadRunnerSettings } from '../loadtest/runner.js';
import { type LoadSchedule, startLoadSchedule } from '../loadtest/schedule.js';
import { createPatternStore } from '../patterns/store.js';
import { patternsWiring } from '../patterns/wiring.js';
import { createProber, type Prober, type ProberDeps } from '../prober/service.js';
import { buildApp } from '../server/app.js';
import { createHealthReporter } from '../server/health.js';
import { configWarnings, dependencyChecks } from '../server/health-checks.js';
import { listen } from '../server/listen.js';
import { patternRoutes } from '../server/routes/patterns.js';
import { watchRoutes } from '../server/routes/watches.js';
import { createSources, type Sources } from '../sources/index.js';
import { checkStoreWritable, openDatabase } from '../store/db.js';
import { createLoadRunStore } from '../store/loadtests.js';
import { createProbeRollups } from '../store/rollups.js';
import { createSnapshotReader, pruneSnapshots, saveSnapshots } from '../store/snapshots.js';
import { createWatchStore } from '../store/watches.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import { VERSION } from '../version.js';
import { WatchManager } from '../watch/manager.js';
import type { WatchDeps } from '../watch/types.js';
import { probeChecks } from './probe-checks.js';
import { createSerialSwap, type Restartable } from './serial-swap.js';
import { bakeCheckNames, watchSettings } from './settings.js';
import { raiseSloAlerts, resolveStaleSloAlerts } from './slo-alerts.js';

export interface DaemonOptions {
  config: VigilConfig;
  logger: Logger;
  /** PATH, used to find a bare `k6` (and the only PATH k6 sees). */
  searchPath: string;
  /** HOME for the k6 process. */
  home?: string;
  clock?: Clock;
  /** Default metrics (process, GC) on; tests that build many daemons turn them off. */
  defaultMetrics?: boolean;
  /** Builds a prober (default createProber); tests wrap it to watch probers start and stop. */
  createProber?: (deps: ProberDeps) => Prober;
}

export interface Daemon {
  readonly app: FastifyInstance;
  readonly metrics: Metrics;
  readonly watches: WatchManager;
  readonly config: () => VigilConfig;
  /** Starts probing, evaluation, deliveries and resumes watches, then listens; resolves with the bound port. */
  start(): Promise<{ address: string; port: number }>;
  /**
   * SIGHUP: swaps in a validated config — probes (the old prober stops before the new one starts),
   * SLOs, sources, watch settings, load profiles and k6 path, load schedule, token, rate limit, webhook
   * targets. SLOs that are gone drop their state and metrics, and their VigilSLOViolation resolves.
   * Throws ConfigError (changing nothing) when the webhook targets are invalid.
   */
  reload(next: VigilConfig): void;
  /** Graceful stop: not ready, no new work, in-flight work under `deadlineMs`, store closed. */
  stop(deadlineMs?: number): Promise<void>;
}

const RETENTION_SWEEP_MS = 3_600_000;

/**
 * Wires every part of the daemon from one loaded config: store, metrics, probes, sources, evaluator,
 * watches, actions, k6 and the HTTP app. Building it opens the store but starts nothing; `start()`
 * does. This is the one place that knows how the parts fit.
 *
 * @example
 *   const daemon = await createDaemon({ config, logger, searchPath: process.env.PATH ?? '' });
 *   const { port } = await daemon.start();
 *   process.once('SIGTERM', () => daemon.stop().then(() => process.exit(0)));
 */
export async function createDaemon(options: DaemonOptions): Promise<Daemon> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger;
  let config = options.config;
  const metrics = createMetrics({ version: VERSION, defaultMetrics: options.defaultMetrics !== false });
  const db = openDatabase(config.root.storage.path);
  const dispatcher = new Agent({ connections: 16, keepAliveTimeout: 10_000, connect: { timeout: 5_000 } });
  const rollups = createProbeRollups(db);
  const snapshots = createSnapshotReader(db);
  const watchStore = createWatchStore(db);
  const patternStore = createPatternStore(db);
  const configDir = path.dirname(config.file);
  let ready = false;
  let stopping = false;
  const background = new AbortController();
  // Every query and probe of the background loops listens on this one signal while it runs; dozens at
  // once are normal, not a leak.
  setMaxListeners(0, background.signal);

  const sources: Sources = {};
  const rebuildSources = (): void => {
    for (const key of Object.keys(sources) as (keyof Sources)[]) delete sources[key];
    Object.assign(
      sources,
      createSources(config.root, {
        dispatcher,
        metrics,
        logger: logger.child({ component: 'sources' }),
        rollups,
      }),
    );
  };
  rebuildSources();
  const patterns = patternsWiring(patternStore, {
    dispatcher,
    metrics,
    logger: logger.child({ component: 'sources' }),
  });

  const actions = createActions({
    db,
    service: config.root.service,
    actions: config.root.actions,
    ...(config.root.alertmanager ? { alertmanager: config.root.alertmanager } : {}),
    clock,
    dispatcher,
    logger: logger.child({ component: 'actions' }),
    metrics,
    userAgent: `vigil/${VERSION}`,
    configFile: config.file,
    onAttempt: (attempt) => {
      if (!attempt.watchId) return;
      try {
        // Through the manager, so long polls wake on a delivery too.
        watches.appendTimeline(attempt.watchId, deliveryTimelineEvent(attempt));
      } catch (error) {
        logger.warn({ err: errorMessage(error) }, 'cannot record a delivery in the watch timeline');
      }
    },
  });

  // A probe in flight at shutdown is only a measurement: it gets at most a second (never more than
  // server.shutdownTimeout) to finish, then is aborted, so it cannot hold the exit past the deadline.
  const newProber = (from: VigilConfig): Prober =>
    (options.createProber ?? createProber)({
      config: from,
      clock,
      metrics,
      logger: logger.child({ component: 'prober' }),
      rollups,
      stopTimeoutMs: Math.min(1_000, from.root.server.shutdownTimeout),
    });
  // `prober` is the newest one, which reads go to; `probers` starts and stops them one at a time.
  let prober: Prober = newProber(config);
  const probers = createSerialSwap(prober, (error) =>
    logger.error({ err: errorMessage(error) }, 'cannot stop the previous prober'),
  );

  // Always there, so a reload that adds load tests finds a runner; with no profile it reports disabled.
  const loadRunner = createLoadRunner({
    ...loadRunnerSettings(config),
    db,
    clock,
    logger,
    metrics,
    cwd: configDir,
    searchPath: options.searchPath,
    // k6 gets PATH and HOME only, never the daemon's whole environment (tokens, secrets).
    baseEnv: { PATH: options.searchPath, ...(options.home ? { HOME: options.home } : {}) },
  });
  // Runs left open by a crash are closed as interrupted, so they never count as a previous good run.
  createLoadRunStore(db).closeInterrupted(clock.now());
  const scheduleFor = (from: VigilConfig): Restartable => {
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

  const watchDeps: WatchDeps = {
    db,
    clock,
    logger: logger.child({ component: 'watch' }),
    metrics,
    runSmokeProbes: async (_signal, only) => {
      const smoke = config.probes.filter((p) => p.kind === 'smoke').map((p) => p.name);
      const names = only ? smoke.filter((n) => only.includes(n)) : smoke;
      return names.length === 0 ? [] : prober.scheduler.runOnce(names);
    },
    bakeChecks: () => bakeCheckNames(config),
    evaluate: async (context, signal) => {
      const checks = await evaluateChecks(config.slos, {
        sources,
        at: context.at,
        deployedAt: context.deployedAt,
        windowMs: config.root.watch.window,
        // DESIGN §6: a watch judges post-deploy data only; minWindow defaults to 2 × each source's scrapeInterval.
        postDeployOnly: true,
        ...(config.root.watch.minWindow === undefined ? {} : { minWindowMs: config.root.watch.minWindow }),
        vars: context.vars,
        watchId: context.watchId,
        snapshots,
        signal,
        patterns: patterns(config.root),
      });
      return [
        ...checks,
        ...probeChecks({
          probes: config.probes,
          judged: config.root.watch.probes,
          targetBaseUrl: config.root.target.baseUrl,
          states: prober.scheduler.states(),
          latest: prober.scheduler.latest(),
          at: context.at,
          deployedAt: context.deployedAt,
          windowMs: config.root.watch.window,
          rollups,
        }),
      ];
    },
    // Read at each run, so a reload that changes loadProfile or the profiles applies to the next watch.
    runLoad: async (watchId, signal, onProgress) => {
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
    saveSnapshots: (tx, snapshot) => saveSnapshots(tx, snapshot),
    ...createWatchHooks(actions, clock),
    onEnded: (watch) => actions.onWatchEnded(watch.id),
  };
  const watches = new WatchManager(watchDeps, watchSettings(config));

  const continuous = createContinuousEvaluator({
    slos: () => config.slos,
    sources,
    clock,
    metrics,
    logger: logger.child({ component: 'evaluator' }),
    intervalMs: () => config.root.watch.evaluationInterval,
    windowMs: () => config.root.watch.window,
    vars: () => {
      const last = watchStore.last(config.root.service);
      return {
        service: config.root.service,
        ...(last ? { version: last.version } : {}),
        ...(last?.previousVersion ? { previousVersion: last.previousVersion } : {}),
      };
    },
    lastDeployAt: () => watchStore.last(config.root.service)?.startedAt,
    snapshots,
    onEvaluation: (_states, checks) => raiseSloAlerts(actions.alerts, config, checks),
  });

  const health = createHealthReporter({
    clock,
    checks: () => {
      const checks = dependencyChecks(config.root, {
        db,
        storeWritable: () => checkStoreWritable(db),
        dispatcher,
        ...(config.root.loadtests ? { k6Command: config.root.loadtests.k6 } : {}),
        searchPath: options.searchPath,
      });
      if (config.root.loadtests) {
        checks.k6 = async (signal) => {
          const k6 = await loadRunner.health(signal);
          return k6.status === 'disabled' ? { status: 'ok' } : k6;
        };
      }
      return checks;
    },
    warnings: () => [
      ...configWarnings(config.root),
      ...actions.disabledTargets().map((key) => `webhook target ${key} is off (empty url)`),
    ],
  });

  const app = await buildApp({
    logger,
    metrics,
    health,
    apiToken: () => config.root.server.apiToken,
    rateLimit: () => ({
      max: config.root.server.rateLimit.max,
      windowMs: config.root.server.rateLimit.window,
    }),
    isReady: () => ready && !stopping,
    isShuttingDown: () => stopping,
    probes: () => prober.scheduler.latest(),
    slos: () => continuous.getStates(),
    routes: [
      watchRoutes(watches, { services: () => [config.root.service] }),
      patternRoutes({ watches, store: patternStore, clock }),
    ],
  });

  async function retentionLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const removed = pruneSnapshots(db, clock.now() - config.root.storage.retention);
        if (removed > 0) logger.debug({ removed }, 'pruned old SLI snapshots');
        const signatures = patternStore.prune(clock.now() - config.root.storage.retention);
        if (signatures > 0) logger.debug({ removed: signatures }, 'pruned old log signature rows');
      } catch (error) {
        logger.error({ err: errorMessage(error) }, 'cannot prune SLI snapshots');
      }
      await clock.sleep(RETENTION_SWEEP_MS, signal).catch(() => {});
    }
  }

  return {
    app,
    metrics,
    watches,
    config: () => config,
    async start() {
      for (const warning of loaderWarnings(config)) logger.warn(formatProblem(warning));
      const bound = await listen(app, config.root.server.listen);
      actions.start();
      // SLOs removed or renamed while the daemon was down: no evaluation will ever resolve their alerts.
      resolveStaleSloAlerts(actions.alerts, config);
      probers.start();
      void continuous.run(background.signal);
      void retentionLoop(background.signal);
      schedules.start();
      // Finds k6 and asks its version now: one older than the supported minimum is a startup warning.
      void loadRunner.health().catch(() => {});
      const resumed = watches.start();
      if (resumed > 0) logger.info({ resumed }, 'resumed running watches');
      ready = true;
      logger.info({ address: bound.address, port: bound.port, version: VERSION }, 'vigil is serving');
      return bound;
    },
    reload(next) {
      // What can throw comes first, so a refused reload changes nothing.
      const nextProber = newProber(next);
      try {
        actions.reload(next.root.actions);
      } catch (error) {
        void nextProber.stop();
        throw error;
      }
      const previous = config;
      config = next;
      rebuildSources();
      prober = nextProber;
      void probers.swap(nextProber);
      void schedules.swap(scheduleFor(next));
      loadRunner.reconfigure(loadRunnerSettings(next));
      watches.reconfigure(watchSettings(next));
      const removedSlos = continuous.forgetRemoved();
      const resolvedAlerts = resolveStaleSloAlerts(actions.alerts, next, previous);
      logger.info(
        { probes: next.probes.length, slos: next.slos.length, removedSlos, resolvedAlerts },
        'configuration reloaded',
      );
    },
    async stop(deadlineMs = config.root.server.shutdownTimeout) {
      stopping = true;
      const deadline = clock.now() + deadlineMs;
      const left = (): number => Math.max(0, deadline - clock.now());
      background.abort(new Error('shutting down'));
      const closeApp = app.close();
      await Promise.allSettled([probers.stop(), schedules.stop(), watches.stop()]);
      const timer = setTimeout(() => app.server.closeAllConnections(), left());
      await closeApp.catch(() => {});
      clearTimeout(timer);
      await actions.stop(left());
      await dispatcher.close().catch(() => {});
      db.close();
    },
  };
}

/** The load runner's part of a config: what a reload hands to `loadRunner.reconfigure`. */
function loadRunnerSettings(config: VigilConfig): LoadRunnerSettings {
  const loadtests = config.root.loadtests;
  return {
    k6Path: loadtests?.k6 ?? 'k6',
    profiles: loadtests?.profiles ?? {},
    targetBaseUrl: config.root.target.baseUrl,
    gracePeriodMs: loadtests?.gracePeriod ?? 10_000,
  };
}
