import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crossedThresholds, parseSummary, parseSummaryText } from '../../../src/loadtest/summary.js';

const fixtures = join(import.meta.dirname, '../../fixtures/k6');
const load = (name: string): unknown => JSON.parse(readFileSync(join(fixtures, name), 'utf8'));

function parsed(name: string) {
  const result = parseSummary(load(name));
  if (!result.ok) throw new Error(result.error);
  return result.summary;
}

/** Rebuilds an object with its keys in reverse order, recursively: k6 writes Go map order. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .reverse()
        .map(([k, v]) => [k, reverseKeys(v)]),
    );
  }
  return value;
}

describe('k6 summaries', () => {
  it.each([
    ['handle-summary-pass.json', 'handle-summary'],
    ['summary-export-pass.json', 'summary-export'],
  ])('reads the passing run from %s with the same figures', (file, source) => {
    const summary = parsed(file);
    expect(summary.source).toBe(source);
    expect(summary.requests).toEqual({ count: 212, ratePerSecond: 21.16509871623626 });
    expect(summary.failedRate).toBe(0);
    expect(summary.latencyMs?.p95).toBeCloseTo(0.9287305999999994, 12);
    expect(summary.latencyMs?.avg).toBeCloseTo(0.6052786226415093, 12);
    expect(summary.latencyMs?.p99).toBeNull();
    expect(summary.iterations?.count).toBe(111);
    expect(summary.checks).toEqual({ passed: 414, failed: 0 });
    expect(summary.vusMax).toBe(6);
    expect(summary.thresholds.every((t) => t.passed)).toBe(true);
    expect(summary.thresholds.map((t) => `${t.metric} ${t.expression}`)).toEqual([
      'booking_latency avg<200',
      'checks rate>0.99',
      'http_req_duration p(95)<500',
      'http_req_duration{scenario:api_load} p(99)<800',
      'http_req_failed rate<0.01',
    ]);
  });

  it.each([['handle-summary-fail.json'], ['summary-export-fail.json']])(
    'names exactly the crossed thresholds of the failing run in %s',
    (file) => {
      const summary = parsed(file);
      expect(crossedThresholds(summary)).toEqual([
        'checks rate>0.99',
        'http_req_duration{endpoint:slow} p(95)<250',
        'http_req_failed rate<0.01',
      ]);
      // http_req_duration p(95)<500 held in that run (301 ms).
      expect(summary.thresholds.find((t) => t.metric === 'http_req_duration')?.passed).toBe(true);
      expect(summary.failedRate).toBeCloseTo(0.09900990099009901, 12);
      expect(summary.checks).toEqual({ passed: 182, failed: 121 });
      expect(summary.requests?.count).toBe(202);
    },
  );

  it('takes the run length only from the handleSummary shape', () => {
    expect(parsed('handle-summary-pass.json').durationMs).toBeCloseTo(10016.490017, 6);
    expect(parsed('summary-export-pass.json').durationMs).toBeNull();
  });

  it.each(['handle-summary-fail.json', 'summary-export-fail.json'])(
    'does not depend on key order (%s)',
    (file) => {
      const straight = parsed(file);
      const reversed = parseSummary(reverseKeys(load(file)));
      expect(reversed.ok && reversed.summary).toEqual(straight);
    },
  );

  it('reads p99 when the trend stats include it', () => {
    const data = load('handle-summary-pass.json') as {
      metrics: Record<string, { values: Record<string, number> }>;
    };
    (data.metrics.http_req_duration as { values: Record<string, number> }).values['p(99)'] = 2.5;
    const result = parseSummary(data);
    expect(result.ok && result.summary.latencyMs?.p99).toBe(2.5);
  });

  it.each([
    ['not JSON', '{"metrics":', /not JSON/],
    ['no metrics', '{"root_group":{}}', /not a k6 summary \(metrics/],
    ['a metric with text values', '{"metrics":{"http_reqs":{"count":"many"}}}', /not a k6 summary/],
  ])('refuses %s with a reason', (_name, text, message) => {
    const result = parseSummaryText(text);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(message);
  });
});

describe('per-check tallies from root_group', () => {
  it('flattens the groups of the handleSummary shape, sorted by path', () => {
    expect(
      parsed('handle-summary-pass.json').checkResults.map((c) => `${c.path} ${c.passes}/${c.fails}`),
    ).toEqual([
      '::bookings::booking created (201) 101/0',
      '::bookings::booking has id 101/0',
      '::health::health body is ok 101/0',
      '::health::health status is 200 101/0',
      '::probe status is 200 10/0',
    ]);
  });

  it('reads the map-shaped groups of --summary-export', () => {
    expect(parsed('summary-export-fail.json').checkResults).toEqual([
      { name: 'flaky status is 200', path: '::flaky dependency::flaky status is 200', passes: 81, fails: 20 },
      { name: 'slow responds < 250ms', path: '::slow report::slow responds < 250ms', passes: 0, fails: 101 },
      { name: 'slow status is 200', path: '::slow report::slow status is 200', passes: 101, fails: 0 },
    ]);
  });

  it('reads the recorded exit-0 run with failed checks', () => {
    const summary = parsed('handle-summary-checks-failed.json');
    expect(summary.checks).toEqual({ passed: 40, failed: 10 });
    expect(summary.checkResults).toEqual([
      { name: 'status is 200', path: '::status is 200', passes: 40, fails: 10 },
    ]);
  });

  it('a malformed root_group costs the tallies, not the summary', () => {
    const json = {
      ...(load('handle-summary-pass.json') as object),
      root_group: { checks: 'nope', groups: [7] },
    };
    const result = parseSummary(json);
    expect(result.ok && result.summary.checkResults).toEqual([]);
    expect(result.ok && result.summary.requests?.count).toBe(212);
  });
});
