import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { LoadProfileConfig } from '../config/schema.js';
import { errorMessage, VigilError } from '../errors.js';
import type { CheckResult } from '../evaluator/types.js';
import { findExecutable } from '../executable.js';
import type { Store } from '../store/port.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { compareWithPrevious, type LoadComparison } from './compare.js';
import { executeProfile, type RunOutcome } from './execute.js';
import { classifyEnding, type EndingVerdict } from './exit-codes.js';
import { judgeLoadRun, lastK6Message } from './judge.js';
import { checkK6, type K6Health } from './k6-process.js';
import type { LoadProgress } from './progress.js';
import { createRunQueue, type RunQueue } from './queue.js';
import { createLoadRunStore, type LoadRunTrigger } from './runs.js';
import type { LoadSummary } from './summary.js';

export interface LoadRunnerDeps {
  /** `loadtests.k6`: a path (used as given) or a bare name searched in `searchPath`. */
  k6Path: string;
  profiles: Readonly<Record<string, LoadProfileConfig>>;
  /** `target.baseUrl`: the only URL profiles ever run against. */
  targetBaseUrl: string;
  /** Where runs are recorded (and the previous good run is found). */
  store: Pick<Store, 'loadRuns'>;
  /** The service whose target this runner loads: its runs, baselines and `service` label. */
  service: string;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** `loadtests.gracePeriod`: SIGINT → SIGKILL. */
  gracePeriodMs: number;
  /** Folder profile scripts resolve against (the config file's folder). */
  cwd: string;
  /** PATH used to find a bare `k6`. */
  searchPath: string;
  /** Base environment of the k6 process (PATH, HOME…); never the daemon's whole environment. */
  baseEnv?: Record<string, string>;
  progressIntervalMs?: number;
  /** Parent folder of the per-run temp dirs. */
  tmpDir?: string;
  /** How long a `/health` answer about k6 is reused. */
  healthCacheMs?: number;
  /**
   * Turns shared with the other services' runners: the daemon-wide cap on k6 runs at once. A run takes
   * its own runner's turn first, then one of these. Absent: only the one-run-per-runner limit applies.
   */
  sharedQueue?: RunQueue;
}

/** What a config reload may change in a running load runner. */
export type LoadRunnerSettings = Pick<
  LoadRunnerDeps,
  'k6Path' | 'profiles' | 'targetBaseUrl' | 'gracePeriodMs'
>;

export interface RunOptions {
  watchId?: string;
  trigger?: LoadRunTrigger;
  /** Aborting stops k6 (SIGINT, then SIGKILL after the grace period) or leaves the queue. */
  signal?: AbortSignal;
  /**
   * Live progress. While the run waits, a `queued` report gives its place in the line it joins: this
   * runner's line first, then (with a shared queue) the daemon-wide one.
   */
  onProgress?: (progress: LoadProgress) => void;
}

/** Everything one run produced; `check` is what the watch records. */
export interface LoadRunResult {
  runId: string;
  profile: string;
  check: CheckResult;
  /** How k6 ended, as a stable label (`passed`, `thresholds-failed`, `deadline`, `not-found`, …). */
  ending: EndingVerdict['label'];
  exitCode: number | null;
  signal: string | null;
  summary: LoadSummary | null;
  comparison: LoadComparison | null;
  startedAt: number;
  endedAt: number;
  /** Last 64 KiB of k6's stderr. */
  stderr: string;
}

export interface LoadRunner {
  run(profile: string, options?: RunOptions): Promise<LoadRunResult>;
  /**
   * k6's state for `/health` (cached; `disabled` when no profile is configured): path, version and a
   * `warning` (also logged, once) when the version is older than the supported minimum. The daemon
   * calls it at startup so an old k6 is a startup warning.
   */
  health(signal?: AbortSignal): Promise<K6Health>;
  /**
   * A reload: the next runs use these profiles, k6 path, target and grace period (a run already going
   * keeps what it started with), and the cached k6 health is dropped.
   */
  reconfigure(settings: LoadRunnerSettings): void;
  /** Whether a run of this runner holds its turns (k6 is running or about to). */
  readonly busy: boolean;
  /** Runs of this runner waiting for a turn, in its own line or the shared one. */
  readonly queued: number;
}

/**
 * Creates a service's k6 runner: one run at a time (and, with `sharedQueue`, no more k6 in the daemon
 * than its turns), recorded in the store's load runs, judged into a `load` check with the previous good run
 * of the same profile as comparison.
 *
 * @example
 *   const runner = createLoadRunner({ k6Path: 'k6', profiles, targetBaseUrl, store, service: 'prep-api', clock,
 *     logger, metrics, gracePeriodMs: 10_000, cwd: configDir, searchPath: process.env.PATH ?? '' });
 *   const { check } = await runner.run('smoke', { watchId, signal, onProgress });
 */
export function createLoadRunner(initial: LoadRunnerDeps): LoadRunner {
  // Replaced as a whole by reconfigure(): runs that start afterwards see the new settings.
  let deps = initial;
  const queue = createRunQueue();
  // Not a reloadable setting: the daemon hands every runner the same queue for its whole life.
  const shared = initial.sharedQueue;
  let running = false;
  let waitingShared = 0;
  const store = createLoadRunStore(deps.store, deps.service);
  const log = deps.logger.child({ component: 'loadtest' });
  let cachedHealth: { at: number; health: K6Health } | undefined;
  let warned: string | undefined;

  async function run(profileName: string, options: RunOptions = {}): Promise<LoadRunResult> {
    const profile = deps.profiles[profileName];
    if (!profile) {
      const known = Object.keys(deps.profiles).join(', ') || 'none';
      throw new VigilError(
        'LOADTEST_UNKNOWN_PROFILE',
        `unknown load profile "${profileName}" (configured: ${known})`,
      );
    }
    const runId = `lr_${randomUUID()}`;
    let release: () => void;
    try {
      release = await takeTurns(profileName, options);
    } catch (error) {
      return finish(profileName, profile, runId, options, deps.clock.now(), {
        ending: { kind: 'cancelled', reason: `while waiting for another k6 run: ${errorMessage(error)}` },
      });
    }
    const startedAt = deps.clock.now();
    running = true;
    try {
      await store.insert({
        id: runId,
        watchId: options.watchId ?? null,
        profile: profileName,
        trigger: options.trigger ?? (options.watchId ? 'watch' : 'manual'),
        startedAt,
      });
      const outcome = await executeProfile(deps, log, { profileName, profile, runId, options });
      return await finish(profileName, profile, runId, options, startedAt, outcome, true);
    } finally {
      running = false;
      release();
    }
  }

  /**
   * Takes this runner's turn, then a shared one: always in that order, so two runners never hold one
   * each while waiting for the other's, and a runner has at most one run in the shared line. Resolves
   * to the release of both; a wait cancelled in either line leaves no turn held.
   */
  async function takeTurns(profileName: string, options: RunOptions): Promise<() => void> {
    const waitFor = (line: RunQueue): Promise<() => void> =>
      line.acquire({
        ...(options.signal ? { signal: options.signal } : {}),
        onQueued: (position) => options.onProgress?.(queuedProgress(profileName, position)),
      });
    const releaseOwn = await waitFor(queue);
    if (!shared) return releaseOwn;
    waitingShared++;
    try {
      const releaseShared = await waitFor(shared);
      // The shared turn goes back first, to the other services already in its line, before this
      // runner's next run can join that line.
      return () => {
        releaseShared();
        releaseOwn();
      };
    } catch (error) {
      releaseOwn();
      throw error;
    } finally {
      waitingShared--;
    }
  }

  async function finish(
    profileName: string,
    profile: LoadProfileConfig,
    runId: string,
    options: RunOptions,
    startedAt: number,
    outcome: RunOutcome,
    recorded = false,
  ): Promise<LoadRunResult> {
    const ending = classifyEnding(outcome.ending);
    const summary = outcome.summary ?? null;
    const fingerprint = outcome.fingerprint ?? '';
    let comparison: LoadComparison | null = null;
    if (summary && ending.result !== 'inconclusive' && fingerprint) {
      const previous = await store.findPrevious(profileName, { fingerprint, excludeId: runId });
      comparison = compareWithPrevious(
        summary,
        previous?.summary
          ? {
              runId: previous.id,
              watchId: previous.watchId,
              startedAt: previous.startedAt,
              summary: previous.summary,
            }
          : null,
        profile.compare,
      );
    }
    const endedAt = deps.clock.now();
    const stderr = outcome.process?.stderr ?? '';
    const check = judgeLoadRun({
      profile: profileName,
      script: profile.script,
      ending,
      summary,
      summaryError: outcome.summaryError ?? null,
      comparison,
      stderrMessage: lastK6Message(stderr),
      ...(profile.checks !== undefined ? { checksMinRate: profile.checks } : {}),
      k6Version: outcome.k6Version ?? null,
      evaluatedAt: endedAt,
    });
    if (recorded) {
      await store.finish(runId, {
        endedAt,
        exitCode: outcome.process?.exitCode ?? null,
        result: check.result,
        explanation: check.explanation,
        summary,
        comparison,
        fingerprint,
      });
    }
    // A run cancelled while still queued never ran: it is neither recorded nor counted.
    if (recorded)
      deps.metrics.loadtestRuns.inc({
        service: deps.service ?? '',
        profile: profileName,
        result: check.result,
      });
    log[check.result === 'pass' ? 'info' : 'warn'](
      { profile: profileName, runId, watchId: options.watchId, result: check.result, ending: ending.label },
      check.explanation,
    );
    return {
      runId,
      profile: profileName,
      check,
      ending: ending.label,
      exitCode: outcome.process?.exitCode ?? null,
      signal: outcome.process?.signal ?? null,
      summary,
      comparison,
      startedAt,
      endedAt,
      stderr,
    };
  }

  return {
    run,
    reconfigure(settings) {
      deps = { ...deps, ...settings };
      cachedHealth = undefined;
    },
    async health(signal) {
      if (Object.keys(deps.profiles).length === 0) return { status: 'disabled' };
      const now = deps.clock.now();
      if (cachedHealth && now - cachedHealth.at < (deps.healthCacheMs ?? 60_000)) return cachedHealth.health;
      const k6 = await findExecutable(deps.k6Path, deps.searchPath, deps.cwd);
      const health: K6Health = k6
        ? await checkK6(k6, { env: deps.baseEnv ?? {}, ...(signal ? { signal } : {}) })
        : { status: 'down', error: 'k6 not found (set VIGIL_K6_PATH)' };
      // Said once per k6 found, not at every /health refresh.
      if (health.warning && health.warning !== warned) log.warn({ path: health.path }, health.warning);
      warned = health.warning;
      cachedHealth = { at: now, health };
      return health;
    },
    get busy() {
      return running;
    },
    get queued() {
      return queue.waiting + waitingShared;
    },
  };
}

function queuedProgress(profile: string, position: number): LoadProgress {
  return {
    profile,
    state: 'queued',
    queuePosition: position,
    elapsedMs: 0,
    vus: null,
    vusMax: null,
    requests: null,
    requestsPerSecond: null,
    failedRate: null,
    p95Ms: null,
    iterations: null,
    thresholdsBreached: null,
  };
}
