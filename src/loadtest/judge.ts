import type { CheckResult } from '../evaluator/types.js';
import type { LoadComparison } from './compare.js';
import type { EndingVerdict } from './exit-codes.js';
import { crossedThresholds, type LoadSummary } from './summary.js';

/**
 * The load phase's check (DESIGN §6, kind `load`): k6's ending, the thresholds from its summary and
 * the comparison with the previous run, reduced to one result with every reason in the explanation.
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
    } else {
      reasons.push(ending.explanation);
    }
  } else {
    reasons.push(facts.stderrMessage ? `${ending.explanation}: ${facts.stderrMessage}` : ending.explanation);
  }

  if (summary) {
    const figures = describeSummary(summary);
    if (figures) reasons.push(figures);
  }
  if (comparison && result !== 'inconclusive') {
    reasons.push(comparison.explanation);
    if (result === 'pass' && comparison.result === 'fail') result = 'fail';
  }

  const crossedText = crossed.length > 0 ? `thresholds crossed: ${crossed.join(', ')}` : undefined;
  const regressed = comparison?.items.filter((i) => i.passed === false).map((i) => i.text);
  const violation =
    result !== 'fail'
      ? undefined
      : (crossedText ?? (regressed && regressed.length > 0 ? regressed.join('; ') : ending.explanation));
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
