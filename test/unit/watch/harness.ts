import { ManualClock } from '../../../src/clock.js';
import type { CheckResult } from '../../../src/evaluator/types.js';
import type { ProbeResult } from '../../../src/prober/types.js';
import { type Db, openDatabase } from '../../../src/store/db.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics, type Metrics } from '../../../src/telemetry/metrics.js';
import { WatchManager } from '../../../src/watch/manager.js';
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
  db: Db;
  metrics: Metrics;
  manager: WatchManager;
  deps: WatchDeps;
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
}

/** A WatchManager over an in-memory (or file) store with in-test deps that record what they were asked. */
export function createHarness(options: HarnessOptions = {}): Harness {
  const clock = options.clock ?? new ManualClock(T0);
  const db = openDatabase(options.dbPath ?? ':memory:');
  const metrics = createMetrics({ version: 'test', defaultMetrics: false });
  const harness = {
    clock,
    db,
    metrics,
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
    db,
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
    deps.onFailed = (tx, watch) => {
      harness.failed.push({ watch, inTransaction: tx.inTransaction });
      return 1; // one rollback target, as the actions layer reports it
    };
    deps.manualRollback = (_tx, _watch, request) => {
      harness.manualRollbacks.push(request);
      return undefined;
    };
  }
  harness.deps = deps;
  harness.manager = new WatchManager(deps, { ...SETTINGS, ...options.settings });
  return harness;
}

/** Advances virtual time in steps so every loop gets to run between them. */
export async function advance(clock: ManualClock, ms: number, stepMs = HOUR): Promise<void> {
  for (let done = 0; done < ms; done += stepMs) await clock.advance(Math.min(stepMs, ms - done));
}

/** Rows in check_results for a watch. */
export function storedEvaluations(db: Db, watchId: string): number[] {
  return (
    db
      .prepare(
        'SELECT DISTINCT evaluation FROM check_results WHERE watch_id = ? AND evaluation >= 0 ORDER BY evaluation',
      )
      .all(watchId) as { evaluation: number }[]
  ).map((r) => r.evaluation);
}
