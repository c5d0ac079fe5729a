import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyEnding, type K6Ending } from '../../../src/loadtest/exit-codes.js';
import { failedChecksReason, judgeLoadRun, lastK6Message } from '../../../src/loadtest/judge.js';
import { type LoadSummary, parseSummaryText } from '../../../src/loadtest/summary.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/k6');
const stderr = (name: string) => readFileSync(join(FIXTURES, 'stderr', `${name}.txt`), 'utf8');

describe('k6 exit-code table', () => {
  it.each<[K6Ending, string, string]>([
    [{ kind: 'exited', code: 0 }, 'pass', 'passed'],
    [{ kind: 'exited', code: 99 }, 'fail', 'thresholds-failed'],
    [{ kind: 'exited', code: 104 }, 'inconclusive', 'invalid-config'],
    [{ kind: 'exited', code: 105 }, 'inconclusive', 'external-abort'],
    [{ kind: 'exited', code: 107 }, 'inconclusive', 'script-error'],
    [{ kind: 'exited', code: 108 }, 'fail', 'script-aborted'],
    [{ kind: 'exited', code: 110 }, 'fail', 'marked-failed'],
    [{ kind: 'exited', code: 255 }, 'inconclusive', 'k6-error'],
    [{ kind: 'signaled', signal: 'SIGKILL' }, 'inconclusive', 'killed'],
    [{ kind: 'deadline', deadlineMs: 150_000 }, 'inconclusive', 'deadline'],
    [{ kind: 'cancelled', reason: 'watch aborted' }, 'inconclusive', 'cancelled'],
    [{ kind: 'not-found' }, 'inconclusive', 'not-found'],
    [{ kind: 'spawn-failed', error: 'EACCES' }, 'inconclusive', 'spawn-failed'],
  ])('%j → %s', (ending, result, label) => {
    expect(classifyEnding(ending)).toMatchObject({ result, label });
  });
});

describe("k6's own message from stderr", () => {
  it.each([
    [
      'thresholds-failed',
      "thresholds on metrics 'checks, http_req_duration{endpoint:slow}, http_req_failed' have been crossed",
    ],
    [
      'script-abort',
      'test aborted: dependency returned 500, aborting test at file:///path/to/scripts/test-abort.js:18:21(40)',
    ],
    ['external-abort', "test run was aborted because k6 received a 'interrupt' signal"],
    ['hang', 'Aborting k6 in response to signal'],
  ])('%s', (name, message) => {
    expect(lastK6Message(stderr(name))).toBe(message);
  });

  it('keeps only the first line of a syntax error with its embedded code frame', () => {
    expect(lastK6Message(stderr('script-error'))).toBe(
      'SyntaxError: file:///path/to/scripts/syntax-error.js: Unexpected token, expected , (4:54)',
    );
  });

  it('has nothing to say about empty stderr', () => {
    expect(lastK6Message('\n')).toBeNull();
  });
});

describe('the load check', () => {
  const pass = parseSummaryText(readFileSync(join(FIXTURES, 'handle-summary-pass.json'), 'utf8'));
  if (!pass.ok) throw new Error(pass.error);
  const base = {
    profile: 'smoke',
    script: 'loadtests/smoke.js',
    summaryError: null,
    comparison: null,
    stderrMessage: null,
    evaluatedAt: Date.parse('2026-11-27T10:00:00Z'),
  };

  it('carries p95 as value, the request count as samples, and is critical', () => {
    const check = judgeLoadRun({
      ...base,
      ending: classifyEnding({ kind: 'exited', code: 0 }),
      summary: pass.summary,
    });
    expect(check).toMatchObject({
      name: 'load:smoke',
      kind: 'load',
      result: 'pass',
      samples: 212,
      query: 'loadtests/smoke.js',
      critical: true,
      evaluatedAt: '2026-11-27T10:00:00.000Z',
    });
    expect(check.value).toBeCloseTo(0.9287305999999994, 12);
  });

  it('a run that sent no request is inconclusive, not a pass', () => {
    const empty = { ...pass.summary, requests: { count: 0, ratePerSecond: 0 } };
    const check = judgeLoadRun({
      ...base,
      ending: classifyEnding({ kind: 'exited', code: 0 }),
      summary: empty,
    });
    expect(check.result).toBe('inconclusive');
    expect(check.explanation).toMatch(/without sending a single request/);
  });

  it('a failed threshold with no summary still fails, quoting k6', () => {
    const check = judgeLoadRun({
      ...base,
      ending: classifyEnding({ kind: 'exited', code: 99 }),
      summary: null,
      stderrMessage: "thresholds on metrics 'http_req_failed' have been crossed",
    });
    expect(check.result).toBe('fail');
    expect(check.explanation).toBe(
      "k6 exited 99 (thresholds crossed): thresholds on metrics 'http_req_failed' have been crossed",
    );
    expect(check.violation).toMatch(/^load profile smoke: /);
  });
});

describe('the failed-checks rule', () => {
  const read = (name: string): LoadSummary => {
    const parsed = parseSummaryText(readFileSync(join(FIXTURES, name), 'utf8'));
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.summary;
  };
  const checksFailed = read('handle-summary-checks-failed.json');
  const allPassed = read('handle-summary-pass.json');
  const base = {
    profile: 'smoke',
    script: 'loadtests/smoke.js',
    summaryError: null,
    comparison: null,
    stderrMessage: null,
    evaluatedAt: Date.parse('2026-11-27T10:00:00Z'),
  };
  const exited = (code: number) => classifyEnding({ kind: 'exited', code });

  it('passes the recorded run whose 414 checks all held (100 %), even at a 100 % minimum', () => {
    expect(failedChecksReason(allPassed, 0.99)).toBeNull();
    expect(failedChecksReason(allPassed, 1)).toBeNull();
    expect(judgeLoadRun({ ...base, ending: exited(0), summary: allPassed, checksMinRate: 1 }).result).toBe(
      'pass',
    );
  });

  it('fails the recorded exit-0 run with 10 of 50 checks failed, naming the check and the numbers', () => {
    const check = judgeLoadRun({ ...base, ending: exited(0), summary: checksFailed, k6Version: 'v0.49.0' });
    expect(check.result).toBe('fail');
    expect(check.violation).toBe("load profile smoke: checks 80 % < 99 %: 'status is 200' failed 10 of 50");
    expect(check.explanation).toMatch(
      /^k6 exited 0 \(every threshold held\) but too many checks failed; checks 80 % < 99 %: 'status is 200' failed 10 of 50; .*; k6 v0\.49\.0$/,
    );
    expect(check.consecutiveFailures).toBe(1);
  });

  it('the minimum is inclusive: 80 % passes a profile asking 80 %', () => {
    expect(failedChecksReason(checksFailed, 0.8)).toBeNull();
    expect(
      judgeLoadRun({ ...base, ending: exited(0), summary: checksFailed, checksMinRate: 0.8 }).result,
    ).toBe('pass');
  });

  it('names every failing check of the recorded summary-export run, most failures first', () => {
    expect(failedChecksReason(read('summary-export-fail.json'), 0.99)).toBe(
      "checks 60 % < 99 %: 'slow responds < 250ms' failed 101 of 101, 'flaky status is 200' failed 20 of 101",
    );
  });

  it('writes large counts with separators and rounds the rate down, never up to the minimum', () => {
    const summary: LoadSummary = {
      ...checksFailed,
      checks: { passed: 1_373, failed: 41 },
      checkResults: [
        { name: 'booking created', path: '::bookings::booking created', passes: 1_361, fails: 41 },
        { name: 'health ok', path: '::health ok', passes: 12, fails: 0 },
      ],
    };
    expect(failedChecksReason(summary, 0.99)).toBe(
      "checks 97.1 % < 99 %: 'booking created' failed 41 of 1,402",
    );
    const almost = { ...summary, checks: { passed: 9_999, failed: 1 } };
    expect(failedChecksReason(almost, 1)).toMatch(/^checks 99\.9 % < 100 %/);
  });

  it('sums up beyond five failing checks, and falls back to the totals without per-check data', () => {
    const many: LoadSummary = {
      ...checksFailed,
      checkResults: Array.from({ length: 7 }, (_, i) => ({
        name: `c${i}`,
        path: `::c${i}`,
        passes: 5,
        fails: i + 1,
      })),
    };
    expect(failedChecksReason(many, 0.99)).toMatch(
      /'c6' failed 7 of 12, .*'c2' failed 3 of 8, 2 more checks failed$/,
    );
    expect(failedChecksReason({ ...checksFailed, checkResults: [] }, 0.99)).toBe(
      'checks 80 % < 99 %: 10 of 50 failed',
    );
  });

  it('adds the checks to a run that failed its thresholds, and leaves a stopped run inconclusive', () => {
    const crossed = judgeLoadRun({ ...base, ending: exited(99), summary: checksFailed });
    expect(crossed.result).toBe('fail');
    expect(crossed.explanation).toContain("checks 80 % < 99 %: 'status is 200' failed 10 of 50");
    const stopped = judgeLoadRun({ ...base, ending: exited(105), summary: checksFailed });
    expect(stopped.result).toBe('inconclusive');
    expect(stopped.explanation).not.toMatch(/checks 80 %/);
  });

  it('a run without checks is not judged on them', () => {
    const none = { ...checksFailed, checks: null, checkResults: [] };
    expect(judgeLoadRun({ ...base, ending: exited(0), summary: none }).result).toBe('pass');
  });
});
