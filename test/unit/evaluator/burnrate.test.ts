import { describe, expect, it } from 'vitest';
import {
  BURN_RATE_PAIRS,
  burnRate,
  burnRateFactor,
  errorBudgetRemaining,
  evaluateBurnPairs,
  judgeBurnRates,
} from '../../../src/evaluator/burnrate.js';

const DAY = 86_400_000;

describe('burn-rate factors (SRE Workbook table 5-8)', () => {
  it.each([
    ['page-fast', 30 * DAY, 14.4],
    ['page-slow', 30 * DAY, 6],
    ['ticket-fast', 30 * DAY, 3],
    ['ticket-slow', 30 * DAY, 1],
    ['page-fast', 28 * DAY, 13.44],
    ['ticket-slow', 28 * DAY, 0.9333],
    ['page-fast', 7 * DAY, 3.36],
  ])('%s over a %d ms budget window is %d×', (name, period, factor) => {
    const pair = BURN_RATE_PAIRS.find((p) => p.name === name);
    expect(pair).toBeDefined();
    expect(burnRateFactor(pair as (typeof BURN_RATE_PAIRS)[number], period)).toBeCloseTo(factor, 3);
  });

  it('burn rate and budget follow from the target', () => {
    expect(burnRate(0.0144, 0.999)).toBeCloseTo(14.4, 9);
    expect(errorBudgetRemaining(0.0005, 0.999)).toBeCloseTo(0.5, 9);
    expect(errorBudgetRemaining(0.002, 0.999)).toBeCloseTo(-1, 9);
  });
});

describe('multi-window evaluation', () => {
  const calm = { '5m': 0.5, '30m': 0.5, '1h': 0.5, '2h': 0.5, '6h': 0.5, '1d': 0.5, '3d': 0.5 };
  it.each([
    ['calm windows pass', calm, 'pass'],
    ['both fast windows above 14.4× fail', { ...calm, '1h': 15, '5m': 20 }, 'fail'],
    ['a 5m spike alone does not fire (long window below)', { ...calm, '5m': 100 }, 'pass'],
    [
      'a 1h burn that already stopped does not fire (short window below)',
      { ...calm, '1h': 20, '5m': 1 },
      'pass',
    ],
    ['exactly at the factor does not fire', { ...calm, '1h': 14.4, '5m': 14.4 }, 'pass'],
    ['the slow page pair warns', { ...calm, '6h': 7, '30m': 8 }, 'warn'],
    ['a ticket pair warns', { ...calm, '3d': 1.5, '6h': 1.2 }, 'warn'],
    ['no data for the fast pair is inconclusive', { ...calm, '5m': null }, 'inconclusive'],
  ] as const)('%s', (_, rates, expected) => {
    const judgement = judgeBurnRates(evaluateBurnPairs(rates, 30 * DAY), 30 * DAY);
    expect(judgement.result).toBe(expected);
    expect(judgement.explanation).toContain('page-fast 1h/5m');
  });

  it('a fast-burn failure names both windows and the factor', () => {
    const judgement = judgeBurnRates(evaluateBurnPairs({ '1h': 15, '5m': 20 }, 30 * DAY));
    expect(judgement.violation).toBe('burn rate 15× over 1h and 20× over 5m > 14.4×');
  });
});
