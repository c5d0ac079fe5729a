import type { LoadProfileConfig } from '../config/schema.js';
import type { Tolerance } from '../config/units.js';
import { toleranceLimit } from '../evaluator/compare.js';
import type { LoadSummary } from './summary.js';

/**
 * Comparison of a run with the previous good run of the same profile (DESIGN §5 tolerances): p95 and
 * failed rate may not rise, throughput may not fall, by more than the profile's `compare` tolerance
 * (`20%` relative to the previous value, or an absolute amount: ms for p95, a ratio for the failed
 * rate, requests per second for throughput). A measure without a tolerance is reported, not judged.
 * The limit arithmetic is the SLO baselines' (`toleranceLimit`), so `20%` means the same everywhere.
 */

export type CompareMeasure = 'p95' | 'failedRate' | 'throughput';

/** The previous run compared with. */
export interface PreviousRun {
  runId: string;
  watchId: string | null;
  startedAt: number;
  summary: LoadSummary;
}

export interface ComparisonItem {
  measure: CompareMeasure;
  current: number | null;
  previous: number | null;
  tolerance: Tolerance | null;
  /** The worst value allowed; null when not judged. */
  limit: number | null;
  /** null when not judged (no tolerance, or a value missing). */
  passed: boolean | null;
  text: string;
}

export interface LoadComparison {
  /** `none`: no previous run; `report`: compared, nothing judged; `pass`/`fail`: judged. */
  result: 'none' | 'report' | 'pass' | 'fail';
  previous: Pick<PreviousRun, 'runId' | 'watchId' | 'startedAt'> | null;
  items: ComparisonItem[];
  explanation: string;
}

const DIRECTION: Record<CompareMeasure, 'increase' | 'decrease'> = {
  p95: 'increase',
  failedRate: 'increase',
  throughput: 'decrease',
};

const VALUE: Record<CompareMeasure, (s: LoadSummary) => number | null> = {
  p95: (s) => s.latencyMs?.p95 ?? null,
  failedRate: (s) => s.failedRate,
  throughput: (s) => s.requests?.ratePerSecond ?? null,
};

const FORMAT: Record<CompareMeasure, (v: number) => string> = {
  p95: (v) => `${round(v)} ms`,
  failedRate: (v) => `${round(v * 100)} %`,
  throughput: (v) => `${round(v)} req/s`,
};

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function compareMeasure(
  measure: CompareMeasure,
  current: LoadSummary,
  previous: LoadSummary,
  tolerance: Tolerance | undefined,
): ComparisonItem {
  const now = VALUE[measure](current);
  const before = VALUE[measure](previous);
  const fmt = FORMAT[measure];
  if (now === null || before === null) {
    return {
      measure,
      current: now,
      previous: before,
      tolerance: tolerance ?? null,
      limit: null,
      passed: null,
      text: `${measure} not compared (${now === null ? 'missing in this run' : 'missing in the previous run'})`,
    };
  }
  const change =
    before === 0 ? '' : ` (${now >= before ? '+' : ''}${round(((now - before) / before) * 100)} %)`;
  const base = `${measure} ${fmt(now)} vs ${fmt(before)}${change}`;
  if (!tolerance) {
    return {
      measure,
      current: now,
      previous: before,
      tolerance: null,
      limit: null,
      passed: null,
      text: base,
    };
  }
  const limit = toleranceLimit(before, DIRECTION[measure], tolerance);
  const passed = DIRECTION[measure] === 'increase' ? now <= limit : now >= limit;
  const bound = DIRECTION[measure] === 'increase' ? 'at most' : 'at least';
  return {
    measure,
    current: now,
    previous: before,
    tolerance,
    limit,
    passed,
    text: `${base} ${passed ? 'within' : 'outside'} tolerance (${bound} ${fmt(limit)})`,
  };
}

/**
 * Compares a run's summary with the previous good run's. No previous run is stated, never a failure.
 *
 * @example
 *   compareWithPrevious(summary, previous, { p95: { kind: 'relative', ratio: 0.2 } }).result // 'pass' | 'fail'
 */
export function compareWithPrevious(
  current: LoadSummary,
  previous: PreviousRun | null,
  tolerances: LoadProfileConfig['compare'],
): LoadComparison {
  if (!previous) {
    return {
      result: 'none',
      previous: null,
      items: [],
      explanation: 'no previous passed run of this profile to compare with',
    };
  }
  const measures: CompareMeasure[] = ['p95', 'failedRate', 'throughput'];
  const items = measures.map((m) => compareMeasure(m, current, previous.summary, tolerances?.[m]));
  const judged = items.filter((i) => i.passed !== null);
  const result = judged.length === 0 ? 'report' : judged.every((i) => i.passed) ? 'pass' : 'fail';
  const shown = result === 'fail' ? items.filter((i) => i.passed === false) : items;
  return {
    result,
    previous: { runId: previous.runId, watchId: previous.watchId, startedAt: previous.startedAt },
    items,
    explanation: `vs previous run ${previous.runId}: ${shown.map((i) => i.text).join('; ')}`,
  };
}
