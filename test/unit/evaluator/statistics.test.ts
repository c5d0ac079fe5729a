import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fisherExact, proportionTest, proportionZTest } from '../../../src/evaluator/proportions.js';
import { judgeMannWhitney, judgeProportion, type TestSettings } from '../../../src/evaluator/significance.js';
import {
  hodgesLehmann,
  logGamma,
  mannWhitney,
  median,
  normalUpperTail,
} from '../../../src/evaluator/statistics.js';

// Hollander, Wolfe & Chicken, Nonparametric Statistical Methods, Example 4.1: permeability constants of
// the human chorioamnion at term (x) and at 12–26 weeks (y); also the example of R's wilcox.test.
const TERM = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
const EARLY = [1.15, 0.88, 0.9, 0.74, 1.21];

const settings: TestSettings = { confidence: 0.98, direction: 'increase', minSamples: 5, minTotal: 30 };

describe('Mann-Whitney U against published values', () => {
  it('Hollander-Wolfe Example 4.1: U = 35, exact one-sided p = 0.1272', () => {
    const r = mannWhitney(TERM, EARLY, 'greater');
    expect(r.statistic).toBe(35);
    expect(r.method).toBe('exact');
    expect(r.pValue).toBeCloseTo(0.1272061, 6);
  });

  it('Hollander-Wolfe Example 4.1: exact two-sided p = 0.2544', () => {
    expect(mannWhitney(TERM, EARLY, 'two-sided').pValue).toBeCloseTo(0.2544123, 6);
  });

  it('Hollander-Wolfe Example 4.1 swapped: U = 15 with the same p for the mirrored alternative', () => {
    const r = mannWhitney(EARLY, TERM, 'less');
    expect(r.statistic).toBe(15);
    expect(r.pValue).toBeCloseTo(0.1272061, 6);
  });

  it('small samples with ties get the exact conditional distribution (brute-force enumeration of all 792 splits)', () => {
    const x = [1, 2, 2, 3, 5];
    const y = [2, 3, 3, 4, 6, 6, 7];
    expect(mannWhitney(x, y, 'less')).toMatchObject({ method: 'exact', statistic: 7 });
    expect(mannWhitney(x, y, 'less').pValue).toBeCloseTo(41 / 792, 12);
    expect(mannWhitney(x, y, 'greater').pValue).toBeCloseTo(764 / 792, 12);
    expect(mannWhitney(x, y, 'two-sided').pValue).toBeCloseTo(73 / 792, 12);
  });

  it('over 50 values with ties use the normal approximation with tie and continuity corrections (values cross-checked with SciPy)', () => {
    const a = [1, 2, 2, 3, 3, 3, 4, 5, 5, 6, 7, 8];
    const b = [2, 3, 4, 4, 5, 6, 6, 7, 8, 8, 9, 9, 10];
    const x = [...a, ...a, ...a];
    const y = [...b, ...b, ...b];
    const less = mannWhitney(x, y, 'less');
    expect(less.method).toBe('normal');
    expect(less.statistic).toBe(360);
    expect(less.pValue).toBeCloseTo(0.00013286, 7);
    expect(mannWhitney(x, y, 'greater').pValue).toBeCloseTo(0.99987255, 6);
    expect(mannWhitney(x, y, 'two-sided').pValue).toBeCloseTo(0.00026572, 7);
  });

  it('large samples without ties use the normal approximation', () => {
    const x = Array.from({ length: 30 }, (_, i) => i + 0.5);
    const y = Array.from({ length: 30 }, (_, i) => i);
    // 60 values: past the exact limit of 50.
    expect(mannWhitney(x, y, 'greater').method).toBe('normal');
  });
});

describe('proportion tests against published values', () => {
  it("Fisher's lady tasting tea: 3 of 4 right, one-sided p = 17/70", () => {
    expect(fisherExact({ successes: 3, total: 4 }, { successes: 1, total: 4 }, 'greater').pValue).toBeCloseTo(
      17 / 70,
      10,
    );
  });

  it('Fisher exact on the 2×2 table [[1,9],[11,3]]: two-sided p = 0.002759, one-sided 0.001380', () => {
    const a = { successes: 1, total: 10 };
    const b = { successes: 11, total: 14 };
    expect(fisherExact(a, b, 'two-sided').pValue).toBeCloseTo(0.0027595, 6);
    expect(fisherExact(a, b, 'less').pValue).toBeCloseTo(0.0013797, 6);
  });

  it('small expected counts switch the proportion test to Fisher exact', () => {
    expect(proportionTest({ successes: 3, total: 4 }, { successes: 1, total: 4 }, 'greater').method).toBe(
      'exact',
    );
  });

  it('pooled z-test: 950/1000 vs 990/1000 gives z = -5.243', () => {
    const r = proportionZTest({ successes: 950, total: 1000 }, { successes: 990, total: 1000 }, 'less');
    expect(r.method).toBe('normal');
    expect(r.statistic).toBeCloseTo(-5.24323, 4);
    expect(r.pValue).toBeCloseTo(7.89e-8, 9);
  });
});

/** Fisher's exact test summed term by term from log-binomials: slow, obviously right, for small tables. */
function naiveFisher(
  a: { successes: number; total: number },
  b: { successes: number; total: number },
  alternative: 'greater' | 'less' | 'two-sided',
): number {
  const lc = (n: number, k: number) => logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
  const k = a.successes + b.successes;
  const n = a.total + b.total;
  const prob = (x: number) => Math.exp(lc(k, x) + lc(n - k, a.total - x) - lc(n, a.total));
  const observed = prob(a.successes);
  let p = 0;
  for (let x = Math.max(0, a.total - (n - k)); x <= Math.min(k, a.total); x++) {
    const px = prob(x);
    if (
      alternative === 'greater'
        ? x >= a.successes
        : alternative === 'less'
          ? x <= a.successes
          : px <= observed * (1 + 1e-7)
    )
      p += px;
  }
  return Math.min(1, p);
}

describe('Fisher exact up to large counts', () => {
  it('2/500k vs 9/500k: Fisher p = 67/2048 = 0.0327, where the z-test said 0.017 and failed at 98 %', () => {
    const current = { successes: 9, total: 500_000 };
    const baseline = { successes: 2, total: 500_000 };
    // Given the 11 events, each falls on either side with probability ≈ ½: P(X ≥ 9) ≈ (55 + 11 + 1) / 2^11
    // (exactly: the hypergeometric over 1 M requests, 0.0327141).
    const r = proportionTest(current, baseline, 'greater');
    expect(r.method).toBe('exact');
    expect(r.pValue).toBeCloseTo(0.0327141, 7);
    expect(r.pValue).toBeCloseTo(67 / 2048, 5);
    // The anti-conservative answer the z-test gave at this boundary (every expected cell ≥ 5).
    expect(proportionZTest(current, baseline, 'greater').pValue).toBeCloseTo(0.0175, 3);
    const j = judgeProportion(current, baseline, settings, 'pre-deploy');
    expect(j.result).toBe('pass');
    expect(j.explanation).toContain('fisher exact');
  });

  it('the same boundary on a good/total ratio (a drop of successes) is judged the same way', () => {
    const j = judgeProportion(
      { successes: 499_991, total: 500_000 },
      { successes: 499_998, total: 500_000 },
      { ...settings, direction: 'decrease' },
      'pre-deploy',
    );
    expect(j.result).toBe('pass');
    expect(j.explanation).toMatch(/p=0\.0327\d* \(fisher exact\)/);
  });

  it('matches term-by-term summation on random tables', () => {
    const side = fc.record({
      total: fc.integer({ min: 1, max: 120 }),
      share: fc.double({ min: 0, max: 1, noNaN: true }),
    });
    fc.assert(
      fc.property(side, side, fc.constantFrom('greater', 'less', 'two-sided' as const), (x, y, alt) => {
        const a = { successes: Math.round(x.share * x.total), total: x.total };
        const b = { successes: Math.round(y.share * y.total), total: y.total };
        expect(fisherExact(a, b, alt).pValue).toBeCloseTo(naiveFisher(a, b, alt), 9);
      }),
      { numRuns: 300 },
    );
  });

  it('stays exact and fast for totals of millions', () => {
    const started = performance.now();
    // 3 M requests a side, 0.1 % vs 0.12 % errors: a support of 6,600 tables around the mode.
    const r = proportionTest(
      { successes: 3_600, total: 3_000_000 },
      { successes: 3_000, total: 3_000_000 },
      'greater',
    );
    // Millions on every margin: the walk covers only the tables that matter, not the whole support.
    const big = proportionTest(
      { successes: 1_500_000, total: 3_000_000 },
      { successes: 1_497_000, total: 3_000_000 },
      'greater',
    );
    expect(performance.now() - started).toBeLessThan(500);
    expect(r.method).toBe('exact');
    // Normal approximation with continuity correction as a cross-check: same answer to 3 digits here.
    expect(r.pValue).toBeCloseTo(
      proportionZTest(
        { successes: 3_600, total: 3_000_000 },
        { successes: 3_000, total: 3_000_000 },
        'greater',
        true,
      ).pValue,
      3,
    );
    expect(r.pValue).toBeLessThan(1e-6);
    expect(big.pValue).toBeGreaterThan(0.0005);
    expect(big.pValue).toBeLessThan(0.01);
  });
});

describe('numerical building blocks', () => {
  it.each([
    [0, 0.5],
    [1.959964, 0.025],
    [2.326348, 0.01],
    [-1.644854, 0.95],
  ])('normal upper tail at %d is %d', (z, p) => {
    expect(normalUpperTail(z)).toBeCloseTo(p, 6);
  });

  it('logGamma matches log-factorials', () => {
    expect(logGamma(11)).toBeCloseTo(Math.log(3628800), 10);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 10);
  });

  it('median and Hodges-Lehmann shift', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(hodgesLehmann([3, 4, 5], [1, 2, 3])).toBe(2);
  });
});

const sample = fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: 5, maxLength: 40 });

describe('properties', () => {
  it('identical samples never fail', () => {
    fc.assert(
      fc.property(sample, fc.constantFrom('increase', 'decrease', 'both' as const), (xs, direction) => {
        expect(judgeMannWhitney(xs, [...xs], { ...settings, direction }, 'pre-deploy').result).toBe('pass');
      }),
    );
  });

  it('swapping the samples mirrors the direction', () => {
    fc.assert(
      fc.property(sample, sample, (x, y) => {
        const greater = mannWhitney(x, y, 'greater');
        const mirrored = mannWhitney(y, x, 'less');
        expect(mirrored.pValue).toBeCloseTo(greater.pValue, 9);
        expect(mirrored.statistic).toBeCloseTo(x.length * y.length - greater.statistic, 9);
      }),
    );
  });

  it('a constant shift beyond the tolerance eventually fails, within it never does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 100, max: 200, noNaN: true }), { minLength: 15, maxLength: 30 }),
        (base) => {
          const tolerance = { ...settings, effectSize: { kind: 'absolute' as const, amount: 150 } };
          const small = base.map((v) => v + 140);
          expect(judgeMannWhitney(small, base, tolerance, 'pre-deploy').result).toBe('pass');
          const large = base.map((v) => v + 1000);
          expect(judgeMannWhitney(large, base, tolerance, 'pre-deploy').result).toBe('fail');
        },
      ),
    );
  });

  it('the exact distribution matches brute-force enumeration, ties included', () => {
    const small = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(small, small, (x, y) => {
        const pooled = [...x, ...y];
        // U of the values at `picked` against all the others (ties count ½).
        const uOf = (picked: readonly number[]): number => {
          let u = 0;
          for (const i of picked) {
            for (let j = 0; j < pooled.length; j++) {
              if (picked.includes(j)) continue;
              const a = pooled[i] as number;
              const b = pooled[j] as number;
              u += a > b ? 1 : a === b ? 0.5 : 0;
            }
          }
          return u;
        };
        const observed = mannWhitney(x, y, 'greater').statistic;
        let all = 0;
        let atLeast = 0;
        const walk = (start: number, picked: number[]): void => {
          if (picked.length === x.length) {
            all++;
            if (uOf(picked) >= observed - 1e-9) atLeast++;
            return;
          }
          for (let i = start; i < pooled.length; i++) walk(i + 1, [...picked, i]);
        };
        walk(0, []);
        expect(mannWhitney(x, y, 'greater').pValue).toBeCloseTo(atLeast / all, 12);
      }),
      { numRuns: 200 },
    );
  });

  it('p-values stay within [0, 1]', () => {
    fc.assert(
      fc.property(sample, sample, fc.constantFrom('greater', 'less', 'two-sided' as const), (x, y, alt) => {
        const p = mannWhitney(x, y, alt).pValue;
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThanOrEqual(1 + 1e-12);
      }),
    );
  });
});

describe('test judgements', () => {
  const base = [100, 102, 98, 101, 99, 100, 103, 97, 100, 101];
  it.each([
    ['a clear latency increase fails', base.map((v) => v * 2), 'increase', undefined, 'fail'],
    [
      'a decrease does not fail a check guarding increases',
      base.map((v) => v / 2),
      'increase',
      undefined,
      'pass',
    ],
    [
      'a clear decrease fails a check guarding decreases',
      base.map((v) => v / 2),
      'decrease',
      undefined,
      'fail',
    ],
    ['both directions: a decrease fails', base.map((v) => v / 2), 'both', undefined, 'fail'],
    ['a significant shift within a 10% effect size passes', base.map((v) => v + 5), 'increase', 0.1, 'pass'],
  ] as const)('%s', (_, current, direction, ratio, expected) => {
    const s: TestSettings = { ...settings, direction };
    if (ratio !== undefined) s.effectSize = { kind: 'relative', ratio };
    const j = judgeMannWhitney(current, base, s, 'pre-deploy');
    expect(j.result).toBe(expected);
    expect(j.explanation).toContain('p=');
  });

  it('below minSamples the test is inconclusive, never pass', () => {
    const j = judgeMannWhitney([1, 2, 3], base, settings, 'pre-deploy');
    expect(j.result).toBe('inconclusive');
    expect(j.explanation).toContain('minSamples 5');
  });

  it('below minTotal the proportion test is inconclusive', () => {
    const j = judgeProportion(
      { successes: 2, total: 10 },
      { successes: 100, total: 100 },
      settings,
      'pre-deploy',
    );
    expect(j.result).toBe('inconclusive');
    expect(j.explanation).toContain('minTotal 30');
  });

  it('a success ratio that drops fails with direction decrease and names the counts', () => {
    const j = judgeProportion(
      { successes: 950, total: 1000 },
      { successes: 995, total: 1000 },
      { ...settings, direction: 'decrease' },
      'offset 7d',
    );
    expect(j.result).toBe('fail');
    expect(j.explanation).toContain('950/1000 vs 995/1000 (offset 7d)');
    expect(j.explanation).toContain('fisher exact');
  });

  it('an effect size tolerance of 10% absorbs a tiny significant drop', () => {
    const j = judgeProportion(
      { successes: 98_000, total: 100_000 },
      { successes: 99_000, total: 100_000 },
      { ...settings, direction: 'decrease', effectSize: { kind: 'relative', ratio: 0.1 } },
      'pre-deploy',
    );
    expect(j.result).toBe('pass');
    expect(j.explanation).toContain('within effect-size tolerance 10%');
  });
});
