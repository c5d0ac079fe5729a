import { describe, expect, it } from 'vitest';
import { failedFigure, fixed, median, percentile } from '../../../bench/lib/figure.js';
import { procCpuMicros, procRssBytes } from '../../../bench/lib/proc.js';

describe('bench statistics', () => {
  it.each([
    { name: 'odd count takes the middle', values: [5, 1, 3], expected: 3 },
    { name: 'even count averages the middle two', values: [4, 1, 3, 2], expected: 2.5 },
    { name: 'empty is NaN', values: [], expected: Number.NaN },
  ])('median: $name', ({ values, expected }) => {
    expect(median(values)).toBe(expected);
  });

  it.each([
    { p: 50, expected: 50 },
    { p: 99, expected: 99 },
    { p: 100, expected: 100 },
    { p: 0, expected: 1 },
  ])('percentile $p of 1..100 is the nearest rank $expected', ({ p, expected }) => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, p)).toBe(expected);
  });

  it('prints n/a for a value that could not be computed', () => {
    expect(fixed(Number.NaN)).toBe('n/a');
    expect(fixed(1.256, 2)).toBe('1.26');
  });

  it('turns an error into a missed row that says why', () => {
    const row = failedFigure('Start to /ready', '< 1500 ms', new Error('exit 1'));
    expect(row).toMatchObject({ value: 'error', met: false, note: 'not measured: exit 1' });
  });
});

describe('bench /proc readers', () => {
  it('reads this process: CPU grows with work, RSS is plausible', () => {
    const before = procCpuMicros(process.pid);
    const until = performance.now() + 60;
    let x = 0;
    while (performance.now() < until) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    expect(procCpuMicros(process.pid)).toBeGreaterThan(before);
    expect(procRssBytes(process.pid)).toBeGreaterThan(10 * 2 ** 20);
  });
});
