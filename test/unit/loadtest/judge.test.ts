import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyEnding, type K6Ending } from '../../../src/loadtest/exit-codes.js';
import { judgeLoadRun, lastK6Message } from '../../../src/loadtest/judge.js';
import { parseSummaryText } from '../../../src/loadtest/summary.js';

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
      "k6 thresholds were crossed (exit 99): thresholds on metrics 'http_req_failed' have been crossed",
    );
    expect(check.violation).toMatch(/^load profile smoke: /);
  });
});
