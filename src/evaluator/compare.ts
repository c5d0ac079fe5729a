import type { Tolerance } from '../config/units.js';
import { formatValue, type Judgement } from './objective.js';
import type { CheckOutcome } from './types.js';

/*
 * Baseline comparison by tolerance (DESIGN §5): `maxIncrease` / `maxDecrease`, each relative to the
 * baseline (`20%`) or absolute in the SLI's unit (`0.05`). A relative bound is measured against |baseline|,
 * so a baseline of 0 leaves no room at all: any increase from 0 breaks `maxIncrease: 50%`. That is the
 * arithmetic, not an accident, and the explanation says so and points at absolute tolerances.
 */

export interface ToleranceCriteria {
  maxIncrease?: Tolerance;
  maxDecrease?: Tolerance;
}

type Direction = 'increase' | 'decrease';

function describeTolerance(direction: Direction, tolerance: Tolerance): string {
  const sign = direction === 'increase' ? '+' : '-';
  return tolerance.kind === 'relative'
    ? `${sign}${formatValue(tolerance.ratio * 100)}%`
    : `${sign}${formatValue(tolerance.amount)}`;
}

/** The change from baseline to value, as text: `+55%` (relative) or `+0.22` (absolute, or from a zero baseline). */
function describeChange(value: number, baseline: number, tolerance: Tolerance): string {
  const delta = value - baseline;
  if (!Number.isFinite(delta)) return delta > 0 ? '+Inf' : '-Inf';
  const sign = delta >= 0 ? '+' : '-';
  if (tolerance.kind === 'absolute' || baseline === 0) return `${sign}${formatValue(Math.abs(delta))}`;
  return `${sign}${formatValue((Math.abs(delta) / Math.abs(baseline)) * 100)}%`;
}

/** The furthest the value may move from the baseline in `direction` under `tolerance`. */
export function toleranceLimit(baseline: number, direction: Direction, tolerance: Tolerance): number {
  const room = tolerance.kind === 'relative' ? Math.abs(baseline) * tolerance.ratio : tolerance.amount;
  return direction === 'increase' ? baseline + room : baseline - room;
}

/**
 * Compares a value with its baseline under `maxIncrease` / `maxDecrease`. A missing baseline is
 * `inconclusive` — never a silent pass. `label` names where the baseline came from (`pre-deploy`, …).
 *
 * @example
 *   compareToBaseline(0.62, 0.4, { maxIncrease: { kind: 'relative', ratio: 0.2 } }, 'pre-deploy')
 *   // { result: 'fail', explanation: '0.62 is +55% vs baseline 0.4 (pre-deploy), beyond maxIncrease +20%', … }
 */
export function compareToBaseline(
  value: number,
  baseline: number | null,
  criteria: ToleranceCriteria,
  label: string,
): Judgement {
  const shown = formatValue(value);
  if (baseline === null || !Number.isFinite(baseline)) {
    return { result: 'inconclusive', explanation: `no baseline value (${label}) to compare ${shown} with` };
  }
  const base = `baseline ${formatValue(baseline)} (${label})`;
  const checks: [Direction, Tolerance | undefined][] = [
    ['increase', criteria.maxIncrease],
    ['decrease', criteria.maxDecrease],
  ];
  const within: string[] = [];
  for (const [direction, tolerance] of checks) {
    if (tolerance === undefined) continue;
    const limit = toleranceLimit(baseline, direction, tolerance);
    const broken = direction === 'increase' ? value > limit : value < limit;
    const allowed = describeTolerance(direction, tolerance);
    const name = direction === 'increase' ? 'maxIncrease' : 'maxDecrease';
    if (broken) {
      const change = describeChange(value, baseline, tolerance);
      const zeroNote =
        baseline === 0 && tolerance.kind === 'relative'
          ? `; a relative tolerance allows no ${direction} from a baseline of 0 (use an absolute ${name} such as ${name}: 5)`
          : '';
      return {
        result: 'fail',
        explanation: `${shown} is ${change} vs ${base}, beyond ${name} ${allowed}${zeroNote}`,
        violation: `${shown} is ${change} vs ${base} (${name} ${allowed})`,
      };
    }
    within.push(`${name} ${allowed}`);
  }
  const change = describeChange(value, baseline, criteria.maxIncrease ?? criteria.maxDecrease ?? RELATIVE);
  return { result: 'pass', explanation: `${shown} is ${change} vs ${base}, within ${within.join(' and ')}` };
}

const RELATIVE: Tolerance = { kind: 'relative', ratio: 0 };

const SEVERITY: Record<CheckOutcome, number> = { pass: 0, warn: 1, inconclusive: 2, fail: 3 };

/**
 * Combines the judgements of one check (objective, baseline, test): the worst wins, in the order
 * fail > inconclusive > warn > pass — a known failure is not hidden by a missing baseline, and a missing
 * baseline is never hidden by a passing objective.
 *
 * @example combineJudgements([{ result: 'pass', … }, { result: 'inconclusive', … }]).result // 'inconclusive'
 */
export function combineJudgements(judgements: readonly Judgement[]): Judgement {
  if (judgements.length === 0) return { result: 'inconclusive', explanation: 'nothing to judge' };
  let worst = judgements[0] as Judgement;
  for (const j of judgements) if (SEVERITY[j.result] > SEVERITY[worst.result]) worst = j;
  const explanation = judgements.map((j) => j.explanation).join('; ');
  return worst.violation === undefined
    ? { result: worst.result, explanation }
    : { result: worst.result, explanation, violation: worst.violation };
}
