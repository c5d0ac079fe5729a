import { describe, expect, it } from 'vitest';
import { tolerance } from '../../../src/config/units.js';
import { compareWithPrevious } from '../../../src/loadtest/compare.js';
import type { LoadSummary } from '../../../src/loadtest/summary.js';

function summary(p95: number | null, failedRate: number | null, rps: number | null): LoadSummary {
  return {
    source: 'handle-summary',
    durationMs: 30_000,
    requests: rps === null ? null : { count: rps * 30, ratePerSecond: rps },
    failedRate,
    latencyMs: { avg: null, p95, p99: null, max: null },
    iterations: null,
    checks: null,
    checkResults: [],
    vusMax: 2,
    thresholds: [],
  };
}

const previous = { runId: 'lr_prev', watchId: 'w_prev', startedAt: 1, summary: summary(200, 0.001, 100) };
const tol = (text: string | number) => tolerance.parse(text);

describe('comparison with the previous run', () => {
  it.each([
    ['p95 within +20%', summary(235, 0.001, 100), { p95: tol('20%') }, 'pass'],
    ['p95 beyond +20%', summary(245, 0.001, 100), { p95: tol('20%') }, 'fail'],
    ['p95 beyond an absolute +30 ms', summary(231, 0.001, 100), { p95: tol(30) }, 'fail'],
    ['failed rate up by more than 0.5 points', summary(200, 0.007, 100), { failedRate: tol(0.005) }, 'fail'],
    ['throughput down 5% with 10% allowed', summary(200, 0.001, 95), { throughput: tol('10%') }, 'pass'],
    ['throughput down 15% with 10% allowed', summary(200, 0.001, 85), { throughput: tol('10%') }, 'fail'],
    ['higher throughput is never a regression', summary(200, 0.001, 500), { throughput: tol('10%') }, 'pass'],
    ['no tolerance configured: reported, not judged', summary(900, 0.5, 1), undefined, 'report'],
  ])('%s', (_name, current, tolerances, result) => {
    expect(compareWithPrevious(current, previous, tolerances).result).toBe(result);
  });

  it('names the limit that was broken', () => {
    const comparison = compareWithPrevious(summary(245, 0.001, 100), previous, { p95: tol('20%') });
    expect(comparison.explanation).toBe(
      'vs previous run lr_prev: p95 245 ms vs 200 ms (+22.5 %) outside tolerance (at most 240 ms)',
    );
  });

  it('states a missing previous run without failing', () => {
    const comparison = compareWithPrevious(summary(245, 0.001, 100), null, { p95: tol('20%') });
    expect(comparison).toMatchObject({ result: 'none', previous: null });
    expect(comparison.explanation).toMatch(/no previous passed run/);
  });

  it('does not judge a measure missing from either run', () => {
    const comparison = compareWithPrevious(summary(null, 0.001, 100), previous, { p95: tol('20%') });
    expect(comparison.result).toBe('report');
    expect(comparison.items[0]?.text).toBe('p95 not compared (missing in this run)');
  });
});
