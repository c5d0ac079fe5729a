import type { Phase } from '../config/schema.js';
import { PHASE_ORDER, type Verdict, type WatchStatus } from './types.js';

/** What `vigil wait --until` waits for: the end of a phase, or of the whole watch. */
export const WAIT_UNTIL = ['smoke', 'load', 'complete'] as const;
export type WaitUntil = (typeof WAIT_UNTIL)[number];

/** Exit codes of `vigil wait` (DESIGN §2, contract). */
export const WAIT_EXIT = {
  pass: 0,
  fail: 1,
  inconclusive: 2,
  timeout: 3,
  unreachable: 4,
  held: 5,
  usage: 64,
} as const;

/**
 * Whether the watch has got as far as `until`: it ended, or (for `smoke`/`load`) it moved past that phase.
 *
 * @example untilReached({ status: 'running', phase: 'bake' }, 'smoke') // true
 */
export function untilReached(watch: { status: WatchStatus; phase: Phase }, until: WaitUntil): boolean {
  if (watch.status !== 'running') return true;
  if (until === 'complete') return false;
  return PHASE_ORDER.indexOf(watch.phase) > PHASE_ORDER.indexOf(until);
}

/**
 * The exit code `vigil wait` returns for a verdict that reached `until`, with a one-line why.
 * A held watch awaits an operator (5); a failure ends it at once; an aborted or superseded watch reached
 * no judgement (2); a load phase that could not run (k6 missing) is inconclusive for `--until load`,
 * never a pass.
 *
 * @example waitOutcome(verdict, 'smoke') // { code: 0, summary: 'smoke finished, nothing failed (verdict pass)' }
 */
export function waitOutcome(verdict: Verdict, until: WaitUntil): { code: number; summary: string } {
  // Held comes first: a hold is what a failing `enforce: hold` check turns into, and it awaits a person.
  if (verdict.status === 'held') {
    const why = verdict.reasons.length > 0 ? ` (${verdict.reasons.join('; ')})` : '';
    return {
      code: WAIT_EXIT.held,
      summary: `held for a decision: promote or roll back with \`vigil watch promote|rollback ${verdict.id}\`${why}`,
    };
  }
  if (verdict.status === 'failed' || verdict.verdict === 'fail') {
    return {
      code: WAIT_EXIT.fail,
      summary: `watch failed: ${verdict.reasons.join('; ') || 'no reason recorded'}`,
    };
  }
  if (verdict.status === 'aborted') {
    return {
      code: WAIT_EXIT.inconclusive,
      summary: `watch aborted before a verdict: ${verdict.reasons.join('; ') || 'no reason recorded'}`,
    };
  }
  if (verdict.status === 'inconclusive') {
    return { code: WAIT_EXIT.inconclusive, summary: `watch inconclusive: ${verdict.reasons.join('; ')}` };
  }
  if (until === 'load' && verdict.status === 'running') {
    const load = verdict.checks.find((check) => check.kind === 'load');
    if (load?.result === 'inconclusive') {
      return { code: WAIT_EXIT.inconclusive, summary: `load phase inconclusive: ${load.explanation}` };
    }
  }
  const what = verdict.status === 'running' ? `${until} finished, nothing failed` : `watch ${verdict.status}`;
  return { code: WAIT_EXIT.pass, summary: `${what} (verdict ${verdict.verdict})` };
}
