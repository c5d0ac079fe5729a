import { formatDuration } from '../config/units.js';
import { formatValue, type Judgement } from './objective.js';

/*
 * Error budget and multi-window, multi-burn-rate evaluation (SRE Workbook ch. 5; REFERENCE §6).
 * Error budget = 1 − target; burn rate = error ratio / (1 − target): 1 spends exactly the budget over the
 * budget window. A pair fires only when BOTH its long and short window burn faster than its factor, and
 * the factor scales with the budget window: factor = budget share consumed × period / long window
 * (2 % × 30d / 1h = 14.4).
 */

export const BURN_WINDOWS = {
  '5m': 300_000,
  '30m': 1_800_000,
  '1h': 3_600_000,
  '2h': 7_200_000,
  '6h': 21_600_000,
  '1d': 86_400_000,
  '3d': 259_200_000,
} as const;
export type BurnWindow = keyof typeof BURN_WINDOWS;
export const BURN_WINDOW_NAMES = Object.keys(BURN_WINDOWS) as BurnWindow[];

export interface BurnRatePair {
  name: 'page-fast' | 'page-slow' | 'ticket-fast' | 'ticket-slow';
  severity: 'page' | 'ticket';
  long: BurnWindow;
  short: BurnWindow;
  /** Share of the whole budget spent over the long window when the pair fires. */
  budgetConsumed: number;
}

/** The four pairs of the Workbook's recommended rule (Table 5-8 plus its 24h/2h ticket pair). */
export const BURN_RATE_PAIRS: readonly BurnRatePair[] = [
  { name: 'page-fast', severity: 'page', long: '1h', short: '5m', budgetConsumed: 0.02 },
  { name: 'page-slow', severity: 'page', long: '6h', short: '30m', budgetConsumed: 0.05 },
  { name: 'ticket-fast', severity: 'ticket', long: '1d', short: '2h', budgetConsumed: 0.1 },
  { name: 'ticket-slow', severity: 'ticket', long: '3d', short: '6h', budgetConsumed: 0.1 },
];

/**
 * The burn-rate threshold of a pair for a budget window.
 *
 * @example burnRateFactor(BURN_RATE_PAIRS[0], 30 * 86_400_000) // 14.4
 */
export function burnRateFactor(pair: BurnRatePair, budgetWindowMs: number): number {
  return (pair.budgetConsumed * budgetWindowMs) / BURN_WINDOWS[pair.long];
}

/**
 * Burn rate of an observed error ratio against a target (0.999 for 99.9 %).
 *
 * @example burnRate(0.0144, 0.999) // 14.4
 */
export function burnRate(errorRatio: number, target: number): number {
  return errorRatio / (1 - target);
}

/**
 * Share of the error budget left after an error ratio observed over the whole budget window: 1 untouched,
 * 0 spent, negative overspent.
 *
 * @example errorBudgetRemaining(0.0005, 0.999) // 0.5
 */
export function errorBudgetRemaining(errorRatio: number, target: number): number {
  return 1 - errorRatio / (1 - target);
}

export interface PairEvaluation {
  pair: BurnRatePair;
  factor: number;
  longRate: number | null;
  shortRate: number | null;
  /** `unknown` when either window had no value. */
  state: 'firing' | 'ok' | 'unknown';
}

/**
 * Evaluates every pair from per-window burn rates (null where the window had no value).
 *
 * @example evaluateBurnPairs({ '1h': 20, '5m': 30 }, 30 * 86_400_000)[0].state // 'firing'
 */
export function evaluateBurnPairs(
  rates: Partial<Record<BurnWindow, number | null>>,
  budgetWindowMs: number,
): PairEvaluation[] {
  return BURN_RATE_PAIRS.map((pair) => {
    const factor = burnRateFactor(pair, budgetWindowMs);
    const longRate = rates[pair.long] ?? null;
    const shortRate = rates[pair.short] ?? null;
    let state: PairEvaluation['state'] = 'unknown';
    if (longRate !== null && shortRate !== null)
      state = longRate > factor && shortRate > factor ? 'firing' : 'ok';
    return { pair, factor, longRate, shortRate, state };
  });
}

function describePair(e: PairEvaluation): string {
  const rate = (r: number | null): string => (r === null ? 'no data' : `${formatValue(r)}×`);
  return `${e.pair.name} ${e.pair.long}/${e.pair.short} ${rate(e.longRate)}/${rate(e.shortRate)} vs ${formatValue(e.factor)}×`;
}

/**
 * The burn-rate check of a watch: `fail` when the fast page pair (1h/5m) fires — the budget burns fast
 * enough to page — `warn` when any slower pair fires, `inconclusive` when the fast pair has no data.
 *
 * @example judgeBurnRates(evaluateBurnPairs({ '1h': 20, '5m': 30 }, 2_592_000_000)).result // 'fail'
 */
export function judgeBurnRates(pairs: readonly PairEvaluation[], budgetWindowMs?: number): Judgement {
  const detail = pairs.map(describePair).join(', ');
  const suffix = budgetWindowMs === undefined ? '' : ` (budget window ${formatDuration(budgetWindowMs)})`;
  const fast = pairs.find((p) => p.pair.name === 'page-fast');
  if (fast?.state === 'firing') {
    return {
      result: 'fail',
      explanation: `error budget burning fast: ${detail}${suffix}`,
      violation: `burn rate ${formatValue(fast.longRate as number)}× over 1h and ${formatValue(fast.shortRate as number)}× over 5m > ${formatValue(fast.factor)}×`,
    };
  }
  if (fast === undefined || fast.state === 'unknown') {
    return { result: 'inconclusive', explanation: `no burn rate for the 1h/5m pair: ${detail}${suffix}` };
  }
  const slow = pairs.filter((p) => p.state === 'firing');
  if (slow.length > 0) {
    return {
      result: 'warn',
      explanation: `error budget burning (${slow.map((p) => p.pair.name).join(', ')}): ${detail}${suffix}`,
      violation: `burn rate above ${slow.map((p) => `${formatValue(p.factor)}× (${p.pair.long}/${p.pair.short})`).join(', ')}`,
    };
  }
  return { result: 'pass', explanation: `burn rates within limits: ${detail}${suffix}` };
}
