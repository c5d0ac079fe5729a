import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { Agent } from 'undici';
import { createActions, type FleetActions } from '../actions/index.js';
import { createWatchHooks, deliveryTimelineEvent } from '../actions/watch-hooks.js';
import { type Clock, systemClock } from '../clock.js';
import { servicesOf } from '../config/fleet.js';
import { configWarnings as loaderWarnings } from '../config/load.js';
import type { ServiceConfig, VigilConfig } from '../config/schema.js';
import { errorMessage, formatProblem } from '../errors.js';
import { createSnapshotReader } from '../evaluator/snapshot-baselines.js';
import { createRunQueue } from '../loadtest/queue.js';
import { createLoadRunStore } from '../loadtest/runs.js';
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
import { openStore } from '../store/open.js';
import type { LeadershipStatus } from '../store/port.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import { VERSION } from '../version.js';
import { WatchManager } from '../watch/manager.js';
import type { WatchDeps, WatchSettings } from '../watch/types.js';
import {
  createServiceRuntime,
  type LastWatch,
  type ServiceRuntime,
  type SharedParts,
} from './service-runtime.js';
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
  /**
   * This replica's name among the replicas of one PostgreSQL store (`VIGIL_INSTANCE`; default the host
   * name and process id), in `/health` and `vigil_leader{instance}`.
   */
  instance?: string;
}

export interface Daemon {
  readonly app: FastifyInstance;
  readonly metrics: Metrics;
  readonly watches: WatchManager;
  readonly config: () => VigilConfig;
  /** Who leads the replicas; with SQLite, always this process. */
  leadership(): LeadershipStatus;
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
  reload(next: VigilConfig): Promise<void>;
  /** Graceful stop: not ready, no new work, in-flight work under `deadlineMs`, store closed. */
  stop(deadlineMs?: number): Promise<void>;
}

const RETENTION_SWEEP_MS = 3_600_000;
/** How long a replica that holds the lock waits before taking the lead again after a failed attempt. */
const LEAD_RETRY_MS = 5_000;
/** How often the leader of replicas reads the running watches again (a missed notification). */
const ADOPTION_SWEEP_MS = 10_000;
/** How often a replica on PostgreSQL checks that the database answers (for /ready). */
const STORE_CHECK_MS = 5_000;

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
  const instance = options.instance ?? `${hostname()}-${process.pid}`;
  const metrics = createMetrics({ version: VERSION, defaultMetrics: options.defaultMetrics !== false });
  const storage = config.root.storage;
  const store = await openStore({
    path: storage.path,
    ...(storage.url === undefined ? {} : { url: storage.url }),
    instance,
  });
  const leadership = store.leadership({ instance });
  const dispatcher = new Agent({ connections: 16, keepAliveTimeout: 10_000, connect: { timeout: 5_000 } });
  const snapshots = createSnapshotReader(store);
  const patternStore = createPatternStore(store);
  const initialServices = servicesOf(config);
  let ready = false;
  let stopping = false;
  /** This instance leads: it runs watches, probes, evaluations, k6, schedules and deliveries. */
  let leading = false;
  /** The leader's background loops (retention); aborted the moment leadership is lost. */
  let leaderLoops = new AbortController();
  /** The work of taking or giving up the lead, in order: a new lead waits for the last stand-down. */
  let transition: Promise<void> = Promise.resolve();
  /** Why the store cannot be used right now (PostgreSQL unreachable), for /ready; null when it can. */
  let storeProblem: string | null = null;
  const background = new AbortController();
  // Every query and probe of the background loops listens on this one signal while it runs; dozens at
  // once are normal, not a leak.
  setMaxListeners(0, background.signal);
  metrics.leader.set({ instance }, 0);

  const actions = createActions({
    store,
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
      if (!attempt.watchId) return undefined;
      // Through the manager, so long polls wake on a delivery too; the worker awaits it, so a flush sees it.
      return watches.appendTimeline(attempt.watchId, deliveryTimelineEvent(attempt)).then(
        () => {},
        (error: unknown) => {
          logger.warn({ err: errorMessage(error) }, 'cannot record a delivery in the watch timeline');
        },
      );
    },
  });

  // One loop-delay monitor and one set of global caps for every service's prober; one k6 per service,
  // `loadtests.maxConcurrentRuns` across the fleet.
  const loopDelay = createLoopDelayMonitor();
  /** Each service's newest watch (version, previous version, start), for the continuous evaluation's vars. */
  const lastWatches = new Map<string, LastWatch>();
  const shared: SharedParts = {
    store,
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
    lastWatch: (service) => lastWatches.get(service),
    ...(options.createProber ? { createProber: options.createProber } : {}),
  };
  let runtimes = new Map<string, ServiceRuntime>(
    initialServices.map((service) => [service.root.service, createServiceRuntime(service, shared)]),
  );
  /** Runtimes of services a reload removed, still stopping. */
  const retiring = new Set<Promise<void>>();
  const runtimeOf = (service: string): ServiceRuntime => {
    const runtime = runtimes.get(service);
    if (!runtime) throw new Error(`service ${service} is not configured`);
    return runtime;
  };
  async function refreshLastWatches(): Promise<void> {
    for (const name of runtimes.keys()) {
      const last = await store.watches.last(name);
      if (last) lastWatches.set(name, last);
      else lastWatches.delete(name);
    }
  }

  const hooks = createWatchHooks(actions, clock);
  const watchDeps: WatchDeps = {
    store,
    clock,
    logger: logger.child({ component: 'watch' }),
    metrics,
    runSmokeProbes: (signal, only, service) => runtimeOf(service).runSmokeProbes(signal, only),
    bakeChecks: (service) => runtimes.get(service)?.bakeChecks() ?? [],
    evaluate: (context, signal) => runtimeOf(context.vars.service).evaluate(context, signal),
    runLoad: (watchId, signal, onProgress, service) =>
      runtimeOf(service).runLoad(watchId, signal, onProgress),
    saveSnapshots: (tx, snapshot) => tx.snapshots.save(snapshot),
    ...hooks,
    onEvent: (event, watch) => {
      if (event === 'watch.started') {
        lastWatches.set(watch.service, {
          version: watch.version,
          previousVersion: watch.previousVersion ?? null,
          startedAt: Date.parse(watch.startedAt),
        });
      }
      hooks.onEvent(event, watch);
    },
    onEnded: (watch) => actions.onWatchEnded(watch.id),
  };
  const watches = new WatchManager(watchDeps, fleetWatchSettings(config), { leading: false });

  // Another replica committed: a follower's watch created or overridden reaches the leader's loops, an
  // enqueued rollback wakes the leader's worker, and every replica's long polls wake.
  const unsubscribe = store.subscribe((change) => {
    if (change.kind === 'watch') {
      watches.remoteChange(change.id).catch((error: unknown) => {
        logger.warn(
          { watchId: change.id, err: errorMessage(error) },
          'cannot apply a change made by another replica',
        );
      });
      void refreshLastWatches().catch(() => {});
    } else if (change.kind === 'outbox' && leading) {
      actions.wake();
    }
  });

  /**
   * Takes the lead: everything a single daemon does at start — deliveries and alerts, stale SLO alerts,
   * every service's probes, evaluation and schedule, retention, and the running watches (resumed, one
   * gap event each).
   */
  async function lead(): Promise<void> {
    if (stopping || leading) return;
    leading = true;
    leaderLoops = new AbortController();
    metrics.leader.set({ instance }, 1);
    logger.info({ instance }, 'this instance leads: running watches, probes, evaluations, k6 and deliveries');
    // Rows from before fleets belong to the one service of a single-service config.
    if (runtimes.size === 1) await store.rollups.adoptUnowned([...runtimes.keys()][0] as string);
    // Runs left open by a leader that died are closed as interrupted, never a previous good run.
    await createLoadRunStore(store).closeInterrupted(clock.now());
    await refreshLastWatches();
    if (!leading) return;
    actions.start();
    // SLOs removed or renamed while no one led: no evaluation will ever resolve their alerts.
    await resolveStaleSloAlerts(actions.alerts, config);
    for (const runtime of runtimes.values()) runtime.start();
    void retentionLoop(leaderLoops.signal);
    if (store.engine === 'postgres') void adoptionLoop(leaderLoops.signal);
    // Finds k6 and asks its version now: one older than the supported minimum is a startup warning.
    void k6Runtime()
      ?.loadRunner.health()
      .catch(() => {});
    // Watches of a service no longer configured would have nobody to run them.
    for (const service of new Set(await watchesOfUnknownServices(watches, runtimes))) {
      await watches.endService(service, `service ${service} is no longer configured`);
    }
    if (!leading) return;
    const resumed = await watches.lead();
    if (resumed > 0) logger.info({ resumed }, 'resumed running watches');
  }

  /**
   * Gives up the lead at once (the lock's connection is gone): every loop is told to stop in this call,
   * before another replica can take over — watches, every service's probes, evaluation and schedule, k6,
   * deliveries, retention. Their in-flight work winds down after; the runtimes are then rebuilt idle,
   * ready for the next lead.
   */
  function standDown(reason: string): void {
    if (!leading) return;
    leading = false;
    metrics.leader.set({ instance }, 0);
    leaderLoops.abort(new Error(reason));
    const winding = [
      watches.standDown(),
      ...[...runtimes.values()].map((runtime) => runtime.stop()),
      actions.stop(0),
    ];
    logger.warn(
      { instance, reason },
      'this instance no longer leads: every watch, probe and delivery stopped',
    );
    transition = transition
      .then(() => Promise.allSettled(winding))
      .then(() => {
        runtimes = new Map(
          servicesOf(config).map((service) => [service.root.service, createServiceRuntime(service, shared)]),
        );
      });
  }

  /**
   * Takes the lead after the last stand-down. One that fails half-way (the database went while it
   * resumed) stands down again and, while this instance still holds the lock, tries once more after
   * LEAD_RETRY_MS: holding the lock without leading would leave every replica idle.
   */
  function takeLead(): void {
    transition = transition.then(lead).catch((error: unknown) => {
      logger.error({ err: errorMessage(error) }, 'cannot take the lead; trying again');
      standDown(`taking the lead failed: ${errorMessage(error)}`);
      void clock
        .sleep(LEAD_RETRY_MS, background.signal)
        .then(() => {
          if (!stopping && !leading && leadership.status().leader) takeLead();
        })
        .catch(() => {});
    });
  }
  leadership.onAcquired(takeLead);
  leadership.onLost(standDown);

  const k6Runtime = (): ServiceRuntime | undefined =>
    [...runtimes.values()].find((r) => Object.keys(r.config().root.loadtests?.profiles ?? {}).length > 0);
  const health = createHealthReporter({
    clock,
    checks: () => {
      const checks = dependencyChecks(config.root, {
        store,
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
    leadership: () => leadership.status(),
    notReadyReason: () => storeProblem,
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
        const removed = await store.snapshots.prune(clock.now() - config.root.storage.retention);
        if (removed > 0) logger.debug({ removed }, 'pruned old SLI snapshots');
        const signatures = await patternStore.prune(clock.now() - config.root.storage.retention);
        if (signatures > 0) logger.debug({ removed: signatures }, 'pruned old log signature rows');
      } catch (error) {
        logger.error({ err: errorMessage(error) }, 'cannot prune SLI snapshots');
      }
      await clock.sleep(RETENTION_SWEEP_MS, signal).catch(() => {});
    }
  }

  /**
   * Replicas only, on the leader: a notification sent while this replica's LISTEN connection was down is
   * never replayed, so every ADOPTION_SWEEP_MS the running watches are read again; one with no loop here
   * (created or resumed on a follower in that window) is launched.
   */
  async function adoptionLoop(signal: AbortSignal): Promise<void> {
    for (;;) {
      await clock.sleep(ADOPTION_SWEEP_MS, signal).catch(() => {});
      if (signal.aborted) return;
      try {
        for (const watch of await store.watches.running()) {
          if (signal.aborted) return;
          await watches.remoteChange(watch.id);
        }
      } catch (error) {
        logger.warn({ err: errorMessage(error) }, 'cannot read the running watches');
      }
    }
  }

  /**
   * Replicas only: whether PostgreSQL answers, every few seconds, for /ready. Leadership has its own
   * connection and steps down by itself; this says why a replica cannot serve.
   */
  async function storeWatch(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await store.checkWritable();
        if (storeProblem !== null) logger.info('the database answers again');
        storeProblem = null;
      } catch (error) {
        if (storeProblem === null) logger.error({ err: errorMessage(error) }, 'the database does not answer');
        storeProblem = `the database (${store.location}) does not answer: ${errorMessage(error)}`;
      }
      await clock.sleep(STORE_CHECK_MS, signal).catch(() => {});
    }
  }

  return {
    app,
    metrics,
    watches,
    config: () => config,
    leadership: () => leadership.status(),
    async start() {
      for (const warning of loaderWarnings(config)) logger.warn(formatProblem(warning));
      const bound = await listen(app, config.root.server.listen);
      if (store.engine === 'postgres') void storeWatch(background.signal);
      // With SQLite this process leads at once; with PostgreSQL it campaigns and may follow.
      await leadership.start();
      await transition;
      ready = true;
      logger.info(
        {
          address: bound.address,
          port: bound.port,
          version: VERSION,
          services: runtimes.size,
          instance,
          leader: leading,
          store: store.engine,
        },
        'vigil is serving',
      );
      return bound;
    },
    async reload(next) {
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
        // Awaited by stop() before the store closes: the prober flushes its last rollups as it stops.
        const retired = runtime.stop({ forget: true }).finally(() => retiring.delete(retired));
        retiring.add(retired);
      }
      const removedSlos = commits.flatMap((commit) => commit().removedSlos);
      for (const runtime of added) {
        runtimes.set(runtime.name, runtime);
        if (leading) runtime.start();
      }
      const addedServices = added.map((runtime) => runtime.name);
      // Ending and annotating watches writes them: the leader does it (a follower's turn comes when it leads).
      if (leading) {
        for (const name of removedServices) {
          await watches.endService(name, `service ${name} was removed from the configuration`);
        }
      }
      await watches.reconfigure(fleetWatchSettings(next));
      const resolvedAlerts = leading ? await resolveStaleSloAlerts(actions.alerts, next, previous) : [];
      // The resolutions are queued writes: the reload is done once they are stored, not merely asked for.
      if (resolvedAlerts.length > 0) await actions.alerts.settled();
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
      unsubscribe();
      const closeApp = app.close();
      leaderLoops.abort(new Error('shutting down'));
      await Promise.allSettled([
        ...[...runtimes.values()].map((r) => r.stop()),
        ...retiring,
        watches.stop(),
        transition,
      ]);
      loopDelay.close();
      const timer = setTimeout(() => app.server.closeAllConnections(), left());
      await closeApp.catch(() => {});
      clearTimeout(timer);
      await actions.stop(left());
      await actions.alerts.settled();
      // Last: the lock goes only once nothing of this leader runs any more.
      await leadership.stop().catch(() => {});
      leading = false;
      metrics.leader.set({ instance }, 0);
      await dispatcher.close().catch(() => {});
      await store.close();
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
async function watchesOfUnknownServices(
  watches: WatchManager,
  runtimes: ReadonlyMap<string, unknown>,
): Promise<string[]> {
  return (await watches.list({ status: 'running', limit: 10_000 }))
    .map((w) => w.service)
    .filter((service) => !runtimes.has(service));
}
