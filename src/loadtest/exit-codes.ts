import type { CheckOutcome } from '../evaluator/types.js';

/**
 * What a k6 process's end means for the service under test. k6's exit codes come from
 * `errext/exitcodes/codes.go` (REFERENCE §4.2; observed codes in fixtures/k6/exit-codes.md). The rule
 * that matters: a k6 that could not judge the service — it did not start, the script broke, it was
 * stopped, killed or hung — is `inconclusive`, never `pass`.
 */
export type K6Ending =
  | { kind: 'exited'; code: number }
  | { kind: 'signaled'; signal: string }
  | { kind: 'deadline'; deadlineMs: number }
  | { kind: 'cancelled'; reason: string }
  | { kind: 'not-found' }
  | { kind: 'spawn-failed'; error: string };

/** The outcome k6's ending gives before the summary and the comparison are looked at. */
export interface EndingVerdict {
  result: Extract<CheckOutcome, 'pass' | 'fail' | 'inconclusive'>;
  /** Short label, e.g. `thresholds-failed`; stable, for logs and tests. */
  label: string;
  explanation: string;
}

interface ExitCodeEntry {
  label: string;
  result: EndingVerdict['result'];
  explanation: string;
}

/** k6 exit codes; any code not listed is a k6 error (inconclusive). */
export const K6_EXIT_CODES: Readonly<Record<number, ExitCodeEntry>> = {
  0: { label: 'passed', result: 'pass', explanation: 'every threshold held' },
  97: { label: 'cloud-failed', result: 'inconclusive', explanation: 'cloud test run failed' },
  98: { label: 'cloud-progress', result: 'inconclusive', explanation: 'could not get cloud progress' },
  99: { label: 'thresholds-failed', result: 'fail', explanation: 'thresholds crossed' },
  100: { label: 'setup-timeout', result: 'inconclusive', explanation: "the script's setup() timed out" },
  101: {
    label: 'teardown-timeout',
    result: 'inconclusive',
    explanation: "the script's teardown() timed out",
  },
  102: { label: 'timeout', result: 'inconclusive', explanation: 'timed out' },
  103: {
    label: 'stopped-via-api',
    result: 'inconclusive',
    explanation: 'stopped through its REST API',
  },
  104: { label: 'invalid-config', result: 'inconclusive', explanation: 'invalid configuration' },
  105: {
    label: 'external-abort',
    result: 'inconclusive',
    explanation: 'stopped by a signal before the test finished',
  },
  106: { label: 'rest-api-failed', result: 'inconclusive', explanation: 'could not start its REST API' },
  107: {
    label: 'script-error',
    result: 'inconclusive',
    explanation: 'the script failed at init: a syntax error or an exception',
  },
  // The script decided the service is broken enough to stop (exec.test.abort()): a judgement, not a k6 fault.
  108: { label: 'script-aborted', result: 'fail', explanation: 'the script aborted the test' },
  109: { label: 'k6-panic', result: 'inconclusive', explanation: 'k6 crashed: Go panic' },
  110: { label: 'marked-failed', result: 'fail', explanation: 'the script marked the test as failed' },
};

/**
 * Maps how k6 ended to an outcome and an explanation (without the summary's details).
 *
 * @example classifyEnding({ kind: 'exited', code: 99 }) // { result: 'fail', label: 'thresholds-failed', … }
 */
export function classifyEnding(ending: K6Ending): EndingVerdict {
  switch (ending.kind) {
    case 'exited': {
      const entry = K6_EXIT_CODES[ending.code];
      // "k6 exited 107 (…)": the judge adds k6's own message after it.
      if (entry) return { ...entry, explanation: `k6 exited ${ending.code} (${entry.explanation})` };
      return {
        label: 'k6-error',
        result: 'inconclusive',
        explanation: `k6 exited ${ending.code} (not a k6 exit code: a k6 error)`,
      };
    }
    case 'signaled':
      return {
        label: 'killed',
        result: 'inconclusive',
        explanation: `k6 was killed by ${ending.signal} before it could judge the service`,
      };
    case 'deadline':
      return {
        label: 'deadline',
        result: 'inconclusive',
        explanation: `k6 ran past its deadline of ${Math.round(ending.deadlineMs / 1000)}s and was stopped`,
      };
    case 'cancelled':
      return {
        label: 'cancelled',
        result: 'inconclusive',
        explanation: `the load test was cancelled: ${ending.reason}`,
      };
    case 'not-found':
      return { label: 'not-found', result: 'inconclusive', explanation: 'k6 not found (set VIGIL_K6_PATH)' };
    case 'spawn-failed':
      return {
        label: 'spawn-failed',
        result: 'inconclusive',
        explanation: `k6 could not be started: ${ending.error}`,
      };
  }
}
