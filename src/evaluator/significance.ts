import type { Tolerance } from '../config/units.js';
import { formatValue, type Judgement } from './objective.js';
import { type Proportion, proportionTest } from './proportions.js';
import { type Alternative, hodgesLehmann, mannWhitney, median, shift } from './statistics.js';

/*
 * Turns a statistical test into a check judgement (DESIGN §5). A regression fails only when it is both
 * significant at `confidence` and larger than the effect-size tolerance: with minutes of samples at a
 * high rate, a shift of 0.1 % is "significant" and still nothing to roll back for.
 */

/** Which change is a regression: `increase` (latency, errors), `decrease` (throughput, success ratio) or both. */
export type TestDirection = 'increase' | 'decrease' | 'both';

export interface TestSettings {
  confidence: number;
  direction: TestDirection;
  effectSize?: Tolerance;
  minSamples: number;
  minTotal: number;
}

const ALTERNATIVE = { increase: 'greater', decrease: 'less', both: 'two-sided' } as const satisfies Record<
  TestDirection,
  Alternative
>;

function effectRoom(reference: number, effectSize: Tolerance | undefined): number {
  if (effectSize === undefined) return 0;
  return effectSize.kind === 'relative' ? Math.abs(reference) * effectSize.ratio : effectSize.amount;
}

/** Whether `shift` is a move in the guarded direction larger than `room`. */
function beyond(shift: number, room: number, direction: TestDirection): boolean {
  if (direction === 'increase') return shift > room;
  if (direction === 'decrease') return -shift > room;
  return Math.abs(shift) > room;
}

function describeEffect(effectSize: Tolerance | undefined): string {
  if (effectSize === undefined) return 'no effect-size tolerance';
  return effectSize.kind === 'relative'
    ? `effect-size tolerance ${formatValue(effectSize.ratio * 100)}%`
    : `effect-size tolerance ${formatValue(effectSize.amount)}`;
}

function signed(value: number): string {
  return `${value >= 0 ? '+' : ''}${formatValue(value)}`;
}

/**
 * Mann-Whitney comparison of current samples against baseline samples. Fails only when the shift is
 * significant in the guarded direction AND both the Hodges-Lehmann estimate and the median difference
 * exceed the effect-size tolerance (relative to the baseline median, or absolute).
 *
 * @example
 *   judgeMannWhitney([5, 6, 7, 8, 9], [1, 2, 3, 4, 5], { confidence: 0.98, direction: 'increase', minSamples: 5, minTotal: 30 })
 */
export function judgeMannWhitney(
  current: readonly number[],
  baseline: readonly number[],
  settings: TestSettings,
  label: string,
): Judgement {
  const counts = `${current.length} current vs ${baseline.length} baseline samples`;
  if (current.length < settings.minSamples || baseline.length < settings.minSamples) {
    return {
      result: 'inconclusive',
      explanation: `too few samples for mann-whitney: ${counts} (${label}), minSamples ${settings.minSamples}`,
    };
  }
  const test = mannWhitney(current, baseline, ALTERNATIVE[settings.direction]);
  const shiftHl = hodgesLehmann(current, baseline);
  const baseMedian = median(baseline);
  const shiftMedian = shift(median(current), baseMedian);
  const room = effectRoom(baseMedian, settings.effectSize);
  const alpha = 1 - settings.confidence;
  const significant = test.pValue < alpha;
  const large = beyond(shiftHl, room, settings.direction) && beyond(shiftMedian, room, settings.direction);
  const facts =
    `median ${formatValue(median(current))} vs ${formatValue(baseMedian)} (${label}), ` +
    `shift ${signed(shiftHl)} (Hodges-Lehmann), U=${formatValue(test.statistic)}, ` +
    `p=${formatValue(test.pValue)} (${test.method}), ${counts}`;
  if (significant && large) {
    return {
      result: 'fail',
      explanation: `significant ${settings.direction === 'both' ? 'change' : settings.direction}: ${facts}; p < ${formatValue(alpha)} and shift beyond ${describeEffect(settings.effectSize)}`,
      violation: `median ${formatValue(median(current))} vs baseline ${formatValue(baseMedian)} (mann-whitney p=${formatValue(test.pValue)})`,
    };
  }
  const why = significant
    ? `shift within ${describeEffect(settings.effectSize)}`
    : `p ≥ ${formatValue(alpha)}`;
  return {
    result: 'pass',
    explanation: `no significant ${settings.direction === 'both' ? 'change' : settings.direction}: ${facts}; ${why}`,
  };
}

/**
 * Two-proportion comparison of a ratio SLI given as counts (good or bad events over total), current
 * against baseline: Fisher's exact test, or a continuity-corrected z-test when every margin is in the
 * millions. `direction` applies to the ratio as given — for a good/total ratio the regression is a
 * `decrease` (the default the config derives, see regressionDirection).
 *
 * @example
 *   judgeProportion({ successes: 950, total: 1000 }, { successes: 995, total: 1000 },
 *     { confidence: 0.98, direction: 'decrease', minSamples: 5, minTotal: 30 }, 'pre-deploy').result // 'fail'
 */
export function judgeProportion(
  current: Proportion,
  baseline: Proportion,
  settings: TestSettings,
  label: string,
): Judgement {
  const counts = `${formatValue(current.successes)}/${formatValue(current.total)} vs ${formatValue(baseline.successes)}/${formatValue(baseline.total)} (${label})`;
  if (current.total < settings.minTotal || baseline.total < settings.minTotal) {
    return {
      result: 'inconclusive',
      explanation: `too few events for the proportion test: ${counts}, minTotal ${settings.minTotal}`,
    };
  }
  // Counts from rate()/increase() are extrapolated and rarely integers; the tests need whole events.
  const whole = (p: Proportion): Proportion => ({
    successes: Math.round(Math.min(p.successes, p.total)),
    total: Math.round(p.total),
  });
  const a = whole(current);
  const b = whole(baseline);
  const test = proportionTest(a, b, ALTERNATIVE[settings.direction]);
  const p1 = a.successes / a.total;
  const p2 = b.successes / b.total;
  const shift = p1 - p2;
  const room = effectRoom(p2, settings.effectSize);
  const alpha = 1 - settings.confidence;
  const significant = test.pValue < alpha;
  const facts = `ratio ${formatValue(p1)} vs ${formatValue(p2)}: ${counts}, p=${formatValue(test.pValue)} (${test.method === 'exact' ? 'fisher exact' : 'z-test, continuity-corrected'})`;
  if (significant && beyond(shift, room, settings.direction)) {
    return {
      result: 'fail',
      explanation: `significant ${settings.direction === 'both' ? 'change' : settings.direction}: ${facts}; p < ${formatValue(alpha)} and shift ${signed(shift)} beyond ${describeEffect(settings.effectSize)}`,
      violation: `ratio ${formatValue(p1)} vs baseline ${formatValue(p2)} (proportion test p=${formatValue(test.pValue)})`,
    };
  }
  const why = significant
    ? `shift ${signed(shift)} within ${describeEffect(settings.effectSize)}`
    : `p ≥ ${formatValue(alpha)}`;
  return {
    result: 'pass',
    explanation: `no significant ${settings.direction === 'both' ? 'change' : settings.direction}: ${facts}; ${why}`,
  };
}
