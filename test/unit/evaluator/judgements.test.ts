import { describe, expect, it } from 'vitest';
import { combineJudgements, compareToBaseline } from '../../../src/evaluator/compare.js';
import { describeObjective, formatValue, judgeObjective } from '../../../src/evaluator/objective.js';

const pct = (ratio: number) => ({ kind: 'relative' as const, ratio });
const abs = (amount: number) => ({ kind: 'absolute' as const, amount });

describe('objectives', () => {
  it.each([
    ['below an lt bound passes', 0.004, { lt: 0.01 }, 'pass', '0.004 is < 0.01'],
    ['above an lt bound fails naming both numbers', 0.034, { lt: 0.01 }, 'fail', '0.034 is not < 0.01'],
    ['equal to an lt bound fails', 0.01, { lt: 0.01 }, 'fail', '0.01 is not < 0.01'],
    ['equal to an lte bound passes', 0.01, { lte: 0.01 }, 'pass', '0.01 is ≤ 0.01'],
    ['equal to a gte bound passes', 0.99, { gte: 0.99 }, 'pass', '0.99 is ≥ 0.99'],
    ['below a gt bound fails', 0.5, { gt: 0.9 }, 'fail', '0.5 is not > 0.9'],
    ['inside a range passes', 0.5, { gte: 0.2, lt: 0.8 }, 'pass', '0.5 is < 0.8 and ≥ 0.2'],
    ['above a range fails on its upper bound', 0.9, { gte: 0.2, lt: 0.8 }, 'fail', '0.9 is not < 0.8'],
    ['below a range fails on its lower bound', 0.1, { gte: 0.2, lt: 0.8 }, 'fail', '0.1 is not ≥ 0.2'],
  ] as const)('%s', (_, value, objective, result, explanation) => {
    const j = judgeObjective(value, objective);
    expect(j.result).toBe(result);
    expect(j.explanation).toBe(explanation);
  });

  it('a failure carries the reason phrase of DESIGN §6', () => {
    expect(judgeObjective(0.034, { lt: 0.01 }).violation).toBe('0.034 ≥ objective 0.01');
  });

  it('a warn threshold broken while the objective holds gives warn', () => {
    const j = judgeObjective(0.42, { lt: 0.5 }, { lt: 0.4 });
    expect(j.result).toBe('warn');
    expect(j.explanation).toBe('0.42 is not < 0.4 (warn threshold)');
  });

  it('a broken objective wins over the warn threshold', () => {
    expect(judgeObjective(0.6, { lt: 0.5 }, { lt: 0.4 }).result).toBe('fail');
  });

  it('formats numbers to 4 significant digits', () => {
    expect(formatValue(0.0341234)).toBe('0.03412');
    expect(formatValue(1234567)).toBe('1235000');
    expect(formatValue(0.00001234)).toBe('0.00001234');
    expect(describeObjective({ gte: 0.99 })).toBe('≥ 0.99');
  });
});

describe('baseline tolerances', () => {
  it.each([
    [
      'an increase within +20% passes',
      0.45,
      0.4,
      { maxIncrease: pct(0.2) },
      'pass',
      '0.45 is +12.5% vs baseline 0.4 (pre-deploy), within maxIncrease +20%',
    ],
    [
      'an increase beyond +20% fails',
      0.62,
      0.4,
      { maxIncrease: pct(0.2) },
      'fail',
      '0.62 is +55% vs baseline 0.4 (pre-deploy), beyond maxIncrease +20%',
    ],
    [
      'a throughput drop beyond -10% fails',
      85,
      100,
      { maxDecrease: pct(0.1) },
      'fail',
      '85 is -15% vs baseline 100 (pre-deploy), beyond maxDecrease -10%',
    ],
    [
      'a drop of exactly -10% passes',
      90,
      100,
      { maxDecrease: pct(0.1) },
      'pass',
      '90 is -10% vs baseline 100 (pre-deploy), within maxDecrease -10%',
    ],
    [
      'an absolute increase beyond 0.1 fails',
      0.62,
      0.4,
      { maxIncrease: abs(0.1) },
      'fail',
      '0.62 is +0.22 vs baseline 0.4 (pre-deploy), beyond maxIncrease +0.1',
    ],
    [
      'an absolute increase within 0.3 passes',
      0.62,
      0.4,
      { maxIncrease: abs(0.3) },
      'pass',
      '0.62 is +0.22 vs baseline 0.4 (pre-deploy), within maxIncrease +0.3',
    ],
  ] as const)('%s', (_, value, baseline, criteria, result, explanation) => {
    const j = compareToBaseline(value, baseline, criteria, 'pre-deploy');
    expect(j.result).toBe(result);
    expect(j.explanation).toBe(explanation);
  });

  it('no baseline value makes a relative check inconclusive, never pass', () => {
    const j = compareToBaseline(0.5, null, { maxIncrease: pct(0.2) }, 'previous watch');
    expect(j.result).toBe('inconclusive');
    expect(j.explanation).toContain('no baseline value (previous watch)');
  });

  it('a zero baseline with a relative tolerance fails any increase and says why', () => {
    const j = compareToBaseline(3, 0, { maxIncrease: pct(0.5) }, 'pre-deploy');
    expect(j.result).toBe('fail');
    expect(j.explanation).toContain('a relative tolerance allows no increase from a baseline of 0');
    expect(j.explanation).toContain('3 is +3 vs baseline 0');
  });

  it('a zero baseline with a zero value passes', () => {
    expect(compareToBaseline(0, 0, { maxIncrease: pct(0.5) }, 'pre-deploy').result).toBe('pass');
  });

  it('a zero baseline with an absolute tolerance allows that much', () => {
    expect(compareToBaseline(3, 0, { maxIncrease: abs(5) }, 'pre-deploy').result).toBe('pass');
  });
});

describe('combining judgements', () => {
  const pass = { result: 'pass' as const, explanation: 'p' };
  const fail = { result: 'fail' as const, explanation: 'f', violation: 'v' };
  const inc = { result: 'inconclusive' as const, explanation: 'i' };
  const warn = { result: 'warn' as const, explanation: 'w' };
  it.each([
    ['a passing objective does not hide a missing baseline', [pass, inc], 'inconclusive'],
    ['a failing objective is not hidden by a missing baseline', [fail, inc], 'fail'],
    ['warn beats pass', [pass, warn], 'warn'],
    ['inconclusive beats warn', [warn, inc], 'inconclusive'],
  ] as const)('%s', (_, judgements, expected) => {
    expect(combineJudgements(judgements).result).toBe(expected);
  });
});
