import type { CheckResult } from '../evaluator/types.js';
import type { LoadComparison } from './compare.js';
import type { EndingVerdict } from './exit-codes.js';
import { crossedThresholds, type LoadSummary } from './summary.js';

/**
 * The share of k6 `check()`s that must hold unless a profile sets `checks`: k6's usual
 * `checks: ['rate>0.99']`, but inclusive, so that a profile's `checks: 100%` can mean "none may fail".
 */
export const DEFAULT_CHECKS_MIN_RATE = 0.99;

/**
 * The load phase's check (DESIGN §6, kind `load`): k6's ending, the thresholds and checks from its
 * summary and the comparison with the previous run, reduced to one result with every reason in the explanation.
 * Pure: the runner gathers the facts, this decides.
 */

export interface LoadFacts {
  profile: string;
  script: string;
  ending: EndingVerdict;
  summary: LoadSummary | null;
  /** Why no summary could be read, when none could. */
  summaryError: string | null;
  comparison: LoadComparison | null;
  /** The last meaningful stderr line (k6's own message for errors and aborts). */
  stderrMessage: string | null;
  /** The profile's `checks`: the share of checks that must hold (default DEFAULT_CHECKS_MIN_RATE). */
  checksMinRate?: number;
  /** What `k6 version` said (`v0.49.0`), when known. */
  k6Version?: string | null;
  evaluatedAt: number;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** One line of figures: `p95 12.3 ms, p99 40 ms, failed 0.5 %, 21.2 req/s (212 requests), checks 414/414`. */
export function describeSummary(summary: LoadSummary): string {
  const parts: string[] = [];
  if (summary.latencyMs?.p95 != null) parts.push(`p95 ${round(summary.latencyMs.p95)} ms`);
  if (summary.latencyMs?.p99 != null) parts.push(`p99 ${round(summary.latencyMs.p99)} ms`);
  if (summary.failedRate !== null) parts.push(`failed ${round(summary.failedRate * 100)} %`);
  if (summary.requests)
    parts.push(`${round(summary.requests.ratePerSecond)} req/s (${summary.requests.count} requests)`);
  if (summary.checks)
    parts.push(`checks ${summary.checks.passed}/${summary.checks.passed + summary.checks.failed} passed`);
  return parts.join(', ');
}

/** `97.1 %`: rounded down, so a rate just under the minimum never shows as equal to it. */
function percentDown(ratio: number): string {
  const tenths = Math.floor(Number((ratio * 1000).toFixed(6)));
  return `${tenths / 10} %`;
}

const count = (n: number): string => n.toLocaleString('en-US');

/** How many failing checks an explanation names before summing up the rest. */
const NAMED_CHECKS = 5;

/**
 * The failed-checks rule: k6 exits 0 when checks fail unless the script has a `checks` threshold, so
 * Vigil applies one itself. Null when the checks held (or there were none); else the reason, naming
 * the checks that failed, most failures first:
 * `checks 97.1 % < 99 %: 'booking created' failed 41 of 1,402`.
 *
 * @example failedChecksReason(summary, 0.99) // "checks 80 % < 99 %: 'status is 200' failed 10 of 50"
 */
export function failedChecksReason(summary: LoadSummary, minRate: number): string | null {
  const tally = summary.checks;
  if (!tally || tally.passed + tally.failed === 0) return null;
  const rate = tally.passed / (tally.passed + tally.failed);
  if (rate >= minRate) return null;
  const failing = summary.checkResults
    .filter((c) => c.fails > 0)
    .sort((a, b) => b.fails - a.fails || a.path.localeCompare(b.path));
  const named = failing
    .slice(0, NAMED_CHECKS)
    .map((c) => `'${c.name}' failed ${count(c.fails)} of ${count(c.passes + c.fails)}`);
  if (failing.length > NAMED_CHECKS) named.push(`${failing.length - NAMED_CHECKS} more checks failed`);
  const detail =
    named.length > 0
      ? named.join(', ')
      : `${count(tally.failed)} of ${count(tally.passed + tally.failed)} failed`;
  return `checks ${percentDown(rate)} < ${round(minRate * 100)} %: ${detail}`;
}

/**
 * Decides the load check.
 *
 * @example judgeLoadRun({ profile: 'smoke', ending: classifyEnding({ kind: 'exited', code: 99 }), … }).result // 'fail'
 */
export function judgeLoadRun(facts: LoadFacts): CheckResult {
  const { ending, summary, comparison } = facts;
  const reasons: string[] = [];
  let result: CheckResult['result'] = ending.result;

  const crossed = summary ? crossedThresholds(summary) : [];
  // Only a run that went to its end is judged on its checks; a stopped one has a partial tally.
  const checksFailed =
    summary && ending.result !== 'inconclusive'
      ? failedChecksReason(summary, facts.checksMinRate ?? DEFAULT_CHECKS_MIN_RATE)
      : null;
  if (ending.label === 'thresholds-failed') {
    reasons.push(
      crossed.length > 0
        ? `${ending.explanation}: ${crossed.join(', ')}`
        : `${ending.explanation}${facts.stderrMessage ? `: ${facts.stderrMessage}` : ''}`,
    );
  } else if (ending.result === 'pass') {
    if (!summary) {
      // Exit 0 without a readable summary: nothing says what was measured.
      result = 'inconclusive';
      reasons.push(`k6 exited 0 but its summary could not be read (${facts.summaryError ?? 'missing'})`);
    } else if (crossed.length > 0) {
      result = 'fail';
      reasons.push(`k6 exited 0 but its summary shows crossed thresholds: ${crossed.join(', ')}`);
    } else if (!summary.requests || summary.requests.count === 0) {
      result = 'inconclusive';
      reasons.push('k6 finished without sending a single request: nothing was measured');
    } else if (checksFailed) {
      result = 'fail';
      reasons.push(`${ending.explanation} but too many checks failed`);
    } else {
      reasons.push(ending.explanation);
    }
  } else {
    reasons.push(facts.stderrMessage ? `${ending.explanation}: ${facts.stderrMessage}` : ending.explanation);
  }

  if (checksFailed && result === 'fail') reasons.push(checksFailed);
  if (summary) {
    const figures = describeSummary(summary);
    if (figures) reasons.push(figures);
  }
  if (comparison && result !== 'inconclusive') {
    reasons.push(comparison.explanation);
    if (result === 'pass' && comparison.result === 'fail') result = 'fail';
  }
  // Which k6 judged: a script error on k6 v0.49 and on k6 v2 are different problems.
  if (facts.k6Version) reasons.push(`k6 ${facts.k6Version}`);

  const crossedText = crossed.length > 0 ? `thresholds crossed: ${crossed.join(', ')}` : undefined;
  const regressed = comparison?.items.filter((i) => i.passed === false).map((i) => i.text);
  const violation =
    result !== 'fail'
      ? undefined
      : (crossedText ??
        checksFailed ??
        (regressed && regressed.length > 0 ? regressed.join('; ') : ending.explanation));
  return {
    ...(violation ? { violation: `load profile ${facts.profile}: ${violation}` } : {}),
    ...(comparison?.previous ? { baselineFrom: `previous run ${comparison.previous.runId}` } : {}),
    name: `load:${facts.profile}`,
    kind: 'load',
    result,
    value: summary?.latencyMs?.p95 ?? null,
    objective: null,
    baseline: comparison?.items.find((i) => i.measure === 'p95')?.previous ?? null,
    samples: summary?.requests?.count ?? null,
    query: facts.script,
    explanation: reasons.join('; '),
    consecutiveFailures: result === 'fail' ? 1 : 0,
    evaluatedAt: new Date(facts.evaluatedAt).toISOString(),
    critical: true,
  };
}

/**
 * Picks k6's own message from stderr: the `msg="…"` of the last error-level logfmt line, else the
 * last non-empty line, shortened to 300 characters (a syntax error embeds a whole babel stack).
 *
 * @example lastK6Message('time="…" level=error msg="test aborted: boom" hint="x"\n') // 'test aborted: boom'
 */
export function lastK6Message(stderr: string): string | null {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  const errorLine = [...lines].reverse().find((l) => /\blevel=(error|fatal)\b/.test(l));
  const line = errorLine ?? lines.at(-1);
  if (!line) return null;
  const msg = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(line)?.[1];
  const text = (msg ?? line).replace(/\\n/g, '\n').split('\n')[0]?.trim() ?? '';
  return text.length > 300 ? `${text.slice(0, 297)}…` : text;
}
