import { ManualClock } from '../../../src/clock.js';
import type { CheckResult } from '../../../src/evaluator/types.js';
import type { ProbeResult } from '../../../src/prober/types.js';
import { openStore } from '../../../src/store/open.js';
import type { Store, StoreChange, StoreTx, WatchRepo } from '../../../src/store/port.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics, type Metrics } from '../../../src/telemetry/metrics.js';
import { WatchManager, type WatchManagerOptions } from '../../../src/watch/manager.js';
import type {
  EvaluationContext,
  Verdict,
  WatchAlert,
  WatchDeps,
  WatchSettings,
} from '../../../src/watch/types.js';

export const T0 = Date.parse('2026-11-27T10:00:00.000Z');
export const MINUTE = 60_000;
export const HOUR = 3_600_000;

export const SETTINGS: WatchSettings = {
  durationMs: 24 * HOUR,
  phases: ['smoke', 'load', 'bake'],
  evaluationIntervalMs: MINUTE,
  smokeTimeoutMs: 5 * MINUTE,
  failureLimit: 3,
  inconclusiveLimitMs: 15 * MINUTE,
  smokeRetryMs: 15_000,
};

/** A check result as the evaluator would produce it. */
export function check(
  name: string,
  result: CheckResult['result'],
  value: number | null,
  extra: Partial<CheckResult> = {},
): CheckResult {
  return {
    name,
    kind: 'slo',
    result,
    value,
    objective: { lt: 0.01 },
    baseline: null,
    samples: 5,
    query: 'sum(rate(http_requests_total{code=~"5.."}[5m]))',
    explanation:
      value === null ? 'no data: the query returned an empty result' : `${value} vs objective < 0.01`,
    consecutiveFailures: 0,
    evaluatedAt: new Date(T0).toISOString(),
    ...(result === 'fail' && value !== null ? { violation: `${value} ≥ objective 0.01` } : {}),
    ...extra,
  };
}

export function probeResult(probe: string, success: boolean): ProbeResult {
  return {
    probe,
    kind: 'smoke',
    success,
    startedAt: new Date(T0).toISOString(),
    durationMs: 12.5,
    phases: { dnsMs: 0, connectMs: 0.2, tlsMs: 0, ttfbMs: 12, transferMs: 0.3 },
    failure: success ? null : { class: 'assertion', message: 'status (503) equals 200' },
    assertions: [{ description: 'status equals 200', passed: success, actual: success ? 200 : 503 }],
    steps: [],
  };
}

export interface Harness {
  clock: ManualClock;
  /** The store the manager was given: the opened one, recording which evaluations it stored. */
  store: Store;
  /** Closes the store (once). */
  close(): Promise<void>;
  /** What was published to the other replicas through this harness's store, in order. */
  published: StoreChange[];
  metrics: Metrics;
  manager: WatchManager;
  deps: WatchDeps;
  /** `inTransaction`: the hook was handed a transaction, which then committed. */
  failed: { watch: Verdict; inTransaction: boolean }[];
  manualRollbacks: { who: string; reason: string }[];
  events: string[];
  ended: string[];
  alerts: { action: 'fire' | 'resolve'; alert: WatchAlert }[];
  evaluations: EvaluationContext[];
  smokeRuns: number;
}

export interface HarnessOptions {
  settings?: Partial<WatchSettings>;
  dbPath?: string;
  clock?: ManualClock;
  /** Results of one bake evaluation, by elapsed minutes since the deploy. */
  evaluate?: (elapsedMinutes: number, context: EvaluationContext) => CheckResult[];
  /** Smoke results by attempt number (1-based). */
  smoke?: (attempt: number) => ProbeResult[];
  runLoad?: WatchDeps['runLoad'];
  withActions?: boolean;
  /** The manager's options (e.g. a follower replica: `{ leading: false }`). */
  manager?: WatchManagerOptions;
  /** Another harness's store (a second replica on the same database): not closed by this one. */
  store?: Store;
}

/** A WatchManager over an in-memory (or file) store with in-test deps that record what they were asked. */
export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const clock = options.clock ?? new ManualClock(T0);
  const shared = options.store;
  const published: StoreChange[] = [];
  const store = recording(shared ?? (await openStore({ path: options.dbPath ?? ':memory:' })), published);
  let closed = shared !== undefined;
  const metrics = createMetrics({ version: 'test', defaultMetrics: false });
  const harness = {
    clock,
    store,
    close: async () => {
      if (closed) return;
      closed = true;
      await store.close();
    },
    metrics,
    published,
    failed: [],
    manualRollbacks: [],
    events: [],
    ended: [],
    alerts: [],
    evaluations: [],
    smokeRuns: 0,
  } as unknown as Harness;
  const evaluate = options.evaluate ?? (() => [check('error-rate', 'pass', 0.002)]);
  const smoke = options.smoke ?? (() => [probeResult('health', true)]);
  const deps: WatchDeps = {
    store,
    clock,
    logger: silentLogger(),
    metrics,
    runSmokeProbes: async () => {
      harness.smokeRuns++;
      return smoke(harness.smokeRuns);
    },
    evaluate: async (context) => {
      harness.evaluations.push(context);
      const minutes = Math.floor(context.elapsedMs / MINUTE);
      return evaluate(minutes, context).map((r) => ({
        ...r,
        evaluatedAt: new Date(context.at).toISOString(),
      }));
    },
    onEvent: (event) => harness.events.push(event),
    onEnded: (watch) => harness.ended.push(`${watch.id} ${watch.status}`),
    alerts: {
      fire: (alert) => harness.alerts.push({ action: 'fire', alert }),
      resolve: (alert) => harness.alerts.push({ action: 'resolve', alert }),
    },
  };
  if (options.runLoad) deps.runLoad = options.runLoad;
  if (options.withActions !== false) {
    deps.onFailed = async (tx, watch) => {
      const entry = { watch, inTransaction: false };
      harness.failed.push(entry);
      tx.afterCommit(() => {
        entry.inTransaction = true;
      });
      return 1; // one rollback target, as the actions layer reports it
    };
    deps.manualRollback = async (_tx, _watch, request) => {
      harness.manualRollbacks.push(request);
      return undefined;
    };
  }
  harness.deps = deps;
  harness.manager = new WatchManager(deps, { ...SETTINGS, ...options.settings }, options.manager);
  return harness;
}

/**
 * Bake, smoke and load evaluations whose results a store committed, by watch id (ids are unique, so
 * one map serves every store of a test, a store reopened after a "crash" included).
 */
const committedEvaluations = new Map<string, Set<number>>();

function recordCommitted(watchId: string, evaluation: number): void {
  const seen = committedEvaluations.get(watchId) ?? new Set<number>();
  seen.add(evaluation);
  committedEvaluations.set(watchId, seen);
}

/** The watch repository, noting each evaluation whose results were new rows once they are committed. */
function recordingWatches(repo: WatchRepo, afterCommit: (fn: () => void) => void): WatchRepo {
  return new Proxy(repo, {
    get(target, property) {
      if (property === 'saveResults') {
        const save: WatchRepo['saveResults'] = async (watchId, evaluation, results) => {
          const stored = await target.saveResults(watchId, evaluation, results);
          if (stored > 0) afterCommit(() => recordCommitted(watchId, evaluation));
          return stored;
        };
        return save;
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * The store, with its watch repositories (the store's and each transaction's) recording stored
 * evaluations, and what is published recorded in `published`.
 */
function recording(store: Store, published: StoreChange[]): Store {
  const watches = recordingWatches(store.watches, (fn) => fn());
  return new Proxy(store, {
    get(target, property) {
      if (property === 'watches') return watches;
      if (property === 'publish') {
        const publish: Store['publish'] = async (change) => {
          published.push(change);
          await target.publish(change);
        };
        return publish;
      }
      if (property === 'transaction') {
        const transaction: Store['transaction'] = (fn) =>
          target.transaction((tx) => {
            const txWatches = recordingWatches(tx.watches, (after) => tx.afterCommit(after));
            const wrapped = new Proxy(tx, {
              get(inner, name) {
                if (name === 'watches') return txWatches;
                const value: unknown = Reflect.get(inner, name, inner);
                return typeof value === 'function' ? value.bind(inner) : value;
              },
            }) as StoreTx;
            return fn(wrapped);
          });
        return transaction;
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Advances virtual time in steps so every loop gets to run between them. */
export async function advance(clock: ManualClock, ms: number, stepMs = HOUR): Promise<void> {
  for (let done = 0; done < ms; done += stepMs) await clock.advance(Math.min(stepMs, ms - done));
}

/** The bake evaluations stored (committed) for a watch, ascending; smoke and load (negative) left out. */
export function storedEvaluations(watchId: string): number[] {
  return [...(committedEvaluations.get(watchId) ?? [])].filter((e) => e >= 0).sort((a, b) => a - b);
}
