import { setMaxListeners } from 'node:events';
import type { FastifyInstance } from 'fastify';
import { Agent } from 'undici';
import { createActions, type FleetActions } from '../actions/index.js';
import { createWatchHooks, deliveryTimelineEvent } from '../actions/watch-hooks.js';
import { type Clock, systemClock } from '../clock.js';
import { servicesOf } from '../config/fleet.js';
import { configWarnings as loaderWarnings } from '../config/load.js';
import type { ServiceConfig, VigilConfig } from '../config/schema.js';
import { errorMessage, formatProblem } from '../errors.js';
import { createRunQueue } from '../loadtest/queue.js';
import { createPatternStore } from '../patterns/store.js';
import { createRunGate } from '../prober/gate.js';
import { createLoopDelayMonitor } from '../prober/loop-delay.js';
import type { Prober, ProberDeps } from '../prober/service.js';
import { createJudgeTurns } from '../prober/turns.js';
import { buildApp } from '../server/app.js';
import { createHealthReporter } from '../server/health.js';
import { configWarnings, dependencyChecks, httpCheck, READY_PATHS } from '../server/health-checks.js';
import { listen } from '../server/listen.js';
import { patternRoutes } from '../server/routes/patterns.js';
import { watchRoutes } from '../server/routes/watches.js';
import { checkStoreWritable, openDatabase } from '../store/db.js';
import { createLoadRunStore } from '../store/loadtests.js';
import { adoptUnownedRows } from '../store/rollups.js';
import { createSnapshotReader, pruneSnapshots, saveSnapshots } from '../store/snapshots.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import { VERSION } from '../version.js';
import { WatchManager } from '../watch/manager.js';
import type { WatchDeps, WatchSettings } from '../watch/types.js';
import { createServiceRuntime, type ServiceRuntime, type SharedParts } from './service-runtime.js';
import { watchSettings } from './settings.js';
import { resolveStaleSloAlerts } from './slo-alerts.js';

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
   * SIGHUP: swaps in a validated config. Services added start; services removed stop, their running
   * watches end `aborted` with that reason and their series go; for every other service: probes (the
   * old prober stops before the new one starts), SLOs, sources, watch settings, load profiles and k6
   * path, load schedule. Also token, rate limit, webhook targets. SLOs that are gone drop their state
   * and metrics, and their VigilSLOViolation resolves. Throws ConfigError (changing nothing) when the
   * webhook targets are invalid.
   */
  reload(next: VigilConfig): void;
  /** Graceful stop: not ready, no new work, in-flight work under `deadlineMs`, store closed. */
  stop(deadlineMs?: number): Promise<void>;
}

const RETENTION_SWEEP_MS = 3_600_000;

/**
 * Wires every part of the daemon from one loaded config: the shared store, metrics, actions, watches and
 * HTTP app, and one runtime per service (probes, sources, evaluator, k6; src/daemon/service-runtime.ts). Building it opens the store but starts nothing; `start()`
 * does. This is the one place that knows how the parts fit.
 *
 * @example
 *   const daemon = await createDaemon({ config, logger, searchPath: process.env.PATH ?? '' });
 *   const { port } = await daemon.start();
 *   process.once('SIGTERM', () => daemon.stop().then(() => process.exit(0)));
 */
export async function createDaemon(options: DaemonOptions): Promise<Daemon> {
  // No closure below may read `options`: one that did would keep it, and with it the config the daemon
  // started with, alive for the daemon's life (13 MB at 10,000 probes, kept across every reload).
  const { logger, searchPath } = options;
  const clock = options.clock ?? systemClock;
  let config = options.config;
  const metrics = createMetrics({ version: VERSION, defaultMetrics: options.defaultMetrics !== false });
  const db = openDatabase(config.root.storage.path);
  const dispatcher = new Agent({ connections: 16, keepAliveTimeout: 10_000, connect: { timeout: 5_000 } });
  const snapshots = createSnapshotReader(db);
  const patternStore = createPatternStore(db);
  // Rows from before fleets belong to the one service of a single-service config.
  const initialServices = servicesOf(config);
  if (initialServices.length === 1) adoptUnownedRows(db, (initialServices[0] as ServiceConfig).root.service);
  let ready = false;
  let stopping = false;
  let started = false;
  const background = new AbortController();
  // Every query and probe of the background loops listens on this one signal while it runs; dozens at
  // once are normal, not a leak.
  setMaxListeners(0, background.signal);

  const actions = createActions({
    db,
    service: (initialServices[0] as ServiceConfig).root.service,
    actions: fleetActions(config),
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

  // One loop-delay monitor and one set of global caps for every service's prober; one k6 per service,
  // `loadtests.maxConcurrentRuns` across the fleet.
  const loopDelay = createLoopDelayMonitor();
  const shared: SharedParts = {
    db,
    clock,
    logger,
    metrics,
    dispatcher,
    actions,
    patternStore,
    snapshots,
    gate: createRunGate({}),
    judgeTurns: createJudgeTurns(),
    loadQueue: createRunQueue(config.root.loadtests?.maxConcurrentRuns ?? 2),
    searchPath,
    ...(options.home ? { home: options.home } : {}),
    eventLoopDelayMs: () => loopDelay.read(),
    fleetSize: () => runtimes.size,
    ...(options.createProber ? { createProber: options.createProber } : {}),
  };
  const runtimes = new Map<string, ServiceRuntime>(
    initialServices.map((service) => [service.root.service, createServiceRuntime(service, shared)]),
  );
  // Runs left open by a crash are closed as interrupted, so they never count as a previous good run.
  createLoadRunStore(db).closeInterrupted(clock.now());
  /** Runtimes of services a reload removed, still stopping. */
  const retiring = new Set<Promise<void>>();
  const runtimeOf = (service: string): ServiceRuntime => {
    const runtime = runtimes.get(service);
    if (!runtime) throw new Error(`service ${service} is not configured`);
    return runtime;
  };

  const watchDeps: WatchDeps = {
    db,
    clock,
    logger: logger.child({ component: 'watch' }),
    metrics,
    runSmokeProbes: (signal, only, service) => runtimeOf(service).runSmokeProbes(signal, only),
    bakeChecks: (service) => runtimes.get(service)?.bakeChecks() ?? [],
    evaluate: (context, signal) => runtimeOf(context.vars.service).evaluate(context, signal),
    runLoad: (watchId, signal, onProgress, service) =>
      runtimeOf(service).runLoad(watchId, signal, onProgress),
    saveSnapshots: (tx, snapshot) => saveSnapshots(tx, snapshot),
    ...createWatchHooks(actions, clock),
    onEnded: (watch) => actions.onWatchEnded(watch.id),
  };
  const watches = new WatchManager(watchDeps, fleetWatchSettings(config));

  const k6Runtime = (): ServiceRuntime | undefined =>
    [...runtimes.values()].find((r) => Object.keys(r.config().root.loadtests?.profiles ?? {}).length > 0);
  const health = createHealthReporter({
    clock,
    checks: () => {
      const checks = dependencyChecks(config.root, {
        db,
        storeWritable: () => checkStoreWritable(db),
        dispatcher,
        ...(config.root.loadtests ? { k6Command: config.root.loadtests.k6 } : {}),
        searchPath,
      });
      // A service that reads another Prometheus or Loki than the root's gets its own entry.
      for (const runtime of runtimes.values()) {
        const own = runtime.config().root.sources;
        for (const key of ['prometheus', 'loki'] as const) {
          const source = own[key];
          if (source?.url && source.url !== config.root.sources[key]?.url)
            checks[`${key}:${runtime.name}`] = httpCheck(source, READY_PATHS[key], dispatcher);
        }
      }
      if (config.root.loadtests) {
        checks.k6 = async (signal) => {
          const k6 = await (k6Runtime()?.loadRunner.health(signal) ?? { status: 'disabled' as const });
          return k6.status === 'disabled' ? { status: 'ok' } : k6;
        };
      }
      return checks;
    },
    warnings: () => [
      ...[...runtimes.values()].flatMap((r) =>
        configWarnings(r.config().root).map((w) => (runtimes.size > 1 ? `${r.name}: ${w}` : w)),
      ),
      ...actions.disabledTargets().map((key) => `webhook target ${key} is off (empty url)`),
    ],
  });

  const serviceList = (): string[] => [...runtimes.keys()];
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
    probes: () => [...runtimes.values()].flatMap((r) => r.probeResults()),
    slos: () => [...runtimes.values()].flatMap((r) => r.sloStates()),
    services: serviceList,
    routes: [
      watchRoutes(watches, { services: serviceList }),
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
      for (const runtime of runtimes.values()) runtime.start();
      started = true;
      void retentionLoop(background.signal);
      // Finds k6 and asks its version now: one older than the supported minimum is a startup warning.
      void k6Runtime()
        ?.loadRunner.health()
        .catch(() => {});
      // Watches of a service no longer configured would have nobody to run them.
      for (const service of new Set(watchesOfUnknownServices(watches, runtimes))) {
        watches.endService(service, `service ${service} is no longer configured`);
      }
      const resumed = watches.start();
      if (resumed > 0) logger.info({ resumed }, 'resumed running watches');
      ready = true;
      logger.info(
        { address: bound.address, port: bound.port, version: VERSION, services: runtimes.size },
        'vigil is serving',
      );
      return bound;
    },
    reload(next) {
      // What can throw comes first (webhook targets, preparing probes), so a refused reload changes nothing.
      const nextServices = servicesOf(next);
      const added = nextServices
        .filter((service) => !runtimes.has(service.root.service))
        .map((service) => createServiceRuntime(service, shared));
      const commits = nextServices.flatMap((service) => {
        const existing = runtimes.get(service.root.service);
        return existing ? [existing.prepare(service)] : [];
      });
      actions.reload(fleetActions(next));
      const previous = config;
      config = next;
      const names = new Set(nextServices.map((s) => s.root.service));
      const removedServices = [...runtimes.keys()].filter((name) => !names.has(name));
      for (const name of removedServices) {
        const runtime = runtimes.get(name) as ServiceRuntime;
        runtimes.delete(name);
        watches.endService(name, `service ${name} was removed from the configuration`);
        // Awaited by stop() before the store closes: the prober flushes its last rollups as it stops.
        const retired = runtime.stop({ forget: true }).finally(() => retiring.delete(retired));
        retiring.add(retired);
      }
      const removedSlos = commits.flatMap((commit) => commit().removedSlos);
      for (const runtime of added) {
        runtimes.set(runtime.name, runtime);
        if (started) runtime.start();
      }
      const addedServices = added.map((runtime) => runtime.name);
      watches.reconfigure(fleetWatchSettings(next));
      const resolvedAlerts = resolveStaleSloAlerts(actions.alerts, next, previous);
      logger.info(
        {
          services: nextServices.length,
          addedServices,
          removedServices,
          probes: next.probes.length,
          slos: next.slos.length,
          removedSlos,
          resolvedAlerts,
        },
        'configuration reloaded',
      );
    },
    async stop(deadlineMs = config.root.server.shutdownTimeout) {
      stopping = true;
      const deadline = clock.now() + deadlineMs;
      const left = (): number => Math.max(0, deadline - clock.now());
      background.abort(new Error('shutting down'));
      const closeApp = app.close();
      await Promise.allSettled([...[...runtimes.values()].map((r) => r.stop()), ...retiring, watches.stop()]);
      loopDelay.close();
      const timer = setTimeout(() => app.server.closeAllConnections(), left());
      await closeApp.catch(() => {});
      clearTimeout(timer);
      await actions.stop(left());
      await dispatcher.close().catch(() => {});
      db.close();
    },
  };
}

/** Each service's webhook targets (root defaults merged in by the loader). */
function fleetActions(config: VigilConfig): FleetActions {
  return new Map(servicesOf(config).map((s) => [s.root.service, s.root.actions]));
}

/** Each service's watch settings. */
function fleetWatchSettings(config: VigilConfig): ReadonlyMap<string, WatchSettings> {
  return new Map(servicesOf(config).map((s) => [s.root.service, watchSettings(s)]));
}

/** Services with running watches that the configuration no longer has. */
function watchesOfUnknownServices(watches: WatchManager, runtimes: ReadonlyMap<string, unknown>): string[] {
  return watches
    .list({ status: 'running', limit: 10_000 })
    .map((w) => w.service)
    .filter((service) => !runtimes.has(service));
}
