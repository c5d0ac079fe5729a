import type { Objective } from '../config/schema.js';
import type { CheckOutcome } from './types.js';

/*
 * Absolute objectives (DESIGN §4, §6): `lt`, `lte`, `gt`, `gte`; several keys form a range and all must
 * hold. A `warn` objective is a second, stricter range: breaking it while the objective holds gives `warn`.
 */

export type ObjectiveOperator = keyof Objective;

/** A judgement of one value: the outcome, a sentence naming the numbers, and the violated bound if any. */
export interface Judgement {
  result: CheckOutcome;
  explanation: string;
  /** Short phrase for verdict reasons when the value breaks a bound, e.g. `0.034 ≥ objective 0.01`. */
  violation?: string;
}

const SYMBOL = { lt: '<', lte: '≤', gt: '>', gte: '≥' } as const satisfies Record<ObjectiveOperator, string>;
/** The relation that holds when the bound is broken: the negation of the operator. */
const NEGATION = { lt: '≥', lte: '>', gt: '≤', gte: '<' } as const satisfies Record<
  ObjectiveOperator,
  string
>;
const HOLDS = {
  lt: (v, b) => v < b,
  lte: (v, b) => v <= b,
  gt: (v, b) => v > b,
  gte: (v, b) => v >= b,
} as const satisfies Record<ObjectiveOperator, (value: number, bound: number) => boolean>;

const OPERATORS: readonly ObjectiveOperator[] = ['lt', 'lte', 'gt', 'gte'];

/**
 * Formats a number for explanations: at most 4 significant digits, no exponent for everyday magnitudes;
 * the infinities as PromQL writes them (`+Inf`, `-Inf`), since JSON carries neither.
 *
 * @example formatValue(0.0341234) // '0.03412'
 */
export function formatValue(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  if (Number.isNaN(value)) return 'NaN';
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e-4 && magnitude < 1e15) return String(Number(value.toPrecision(4)));
  return value.toPrecision(4);
}

/**
 * What an infinite SLI value means, for its explanation; undefined for a finite one. Prometheus 2.42's
 * histogram_quantile answers +Inf only for φ > 1 (a rank in the +Inf bucket gives the highest finite
 * bound instead, checked against the real binary); elsewhere ±Inf comes from a division by zero, e.g. a
 * queue depth over a drain rate that stopped.
 *
 * @example explainInfinity(Infinity, 'sum(queue_depth) / sum(rate(drained_total[5m]))') // '+Inf: the query divided by zero (or overflowed)'
 */
export function explainInfinity(value: number, query: string): string | undefined {
  if (Number.isFinite(value) || Number.isNaN(value)) return undefined;
  const shown = formatValue(value);
  if (/histogram_quantile\s*\(/.test(query)) {
    return value > 0
      ? `${shown}: histogram_quantile answers +Inf for a quantile above 1 (the worst value there is)`
      : `${shown}: histogram_quantile answers -Inf only for a quantile below 0`;
  }
  return `${shown}: the query divided by zero (or overflowed)`;
}

/**
 * Renders an objective as text: `< 0.01`, or `≥ 0.2 and < 0.8` for a range.
 *
 * @example describeObjective({ gte: 0.99 }) // '≥ 0.99'
 */
export function describeObjective(objective: Objective): string {
  return OPERATORS.filter((op) => objective[op] !== undefined)
    .map((op) => `${SYMBOL[op]} ${formatValue(objective[op] as number)}`)
    .join(' and ');
}

/** The first bound of `objective` that `value` breaks, or undefined when every bound holds. */
export function brokenBound(
  value: number,
  objective: Objective,
): { op: ObjectiveOperator; bound: number } | undefined {
  for (const op of OPERATORS) {
    const bound = objective[op];
    if (bound !== undefined && !HOLDS[op](value, bound)) return { op, bound };
  }
  return undefined;
}

/**
 * Judges a value against an objective and an optional warn objective.
 *
 * @example
 *   judgeObjective(0.034, { lt: 0.01 })
 *   // { result: 'fail', explanation: '0.034 is not < 0.01', violation: '0.034 ≥ objective 0.01' }
 */
export function judgeObjective(value: number, objective: Objective | undefined, warn?: Objective): Judgement {
  const shown = formatValue(value);
  if (objective !== undefined) {
    const broken = brokenBound(value, objective);
    if (broken) {
      return {
        result: 'fail',
        explanation: `${shown} is not ${SYMBOL[broken.op]} ${formatValue(broken.bound)}`,
        violation: `${shown} ${NEGATION[broken.op]} objective ${formatValue(broken.bound)}`,
      };
    }
  }
  if (warn !== undefined) {
    const broken = brokenBound(value, warn);
    if (broken) {
      return {
        result: 'warn',
        explanation: `${shown} is not ${SYMBOL[broken.op]} ${formatValue(broken.bound)} (warn threshold)`,
        violation: `${shown} ${NEGATION[broken.op]} warn threshold ${formatValue(broken.bound)}`,
      };
    }
  }
  const target = objective ?? warn;
  return {
    result: 'pass',
    explanation: target === undefined ? `${shown}` : `${shown} is ${describeObjective(target)}`,
  };
}
