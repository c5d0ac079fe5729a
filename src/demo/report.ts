import { describeCheck, displayUnit, formatInUnit, formatObjective, type LiveContext } from '../cli/live.js';
import { formatDuration } from '../config/units.js';
import type { CheckResult } from '../evaluator/types.js';
import type { Verdict } from '../watch/types.js';

/*
 * What the demo prints about a watch beyond its timeline: a progress line while it bakes, and at the end
 * every failing check with its numbers and the baselines it was judged against. Pure.
 */

/** The checks a reader of the demo cares about: SLO, burn-rate and load checks (smoke runs and probe ups are in the timeline). */
function judged(checks: readonly CheckResult[]): CheckResult[] {
  return checks.filter((c) => c.kind !== 'probe' || c.result === 'fail');
}

function shortValue(check: CheckResult): string {
  return check.value === null
    ? check.result
    : `${check.result} ${formatInUnit(check.value, displayUnit(check))}`;
}

/**
 * One progress line for a running watch: phase, elapsed of total, counts by result, each judged check's
 * result and value with its unit.
 *
 * @example progressLine(watch, Date.now()) // 'bake 8s of 20s · 3 pass, 1 inconclusive · error-rate pass 0 %, p95-latency pass 9.5 ms'
 */
export function progressLine(watch: Verdict, nowMs: number): string {
  const elapsedMs = Math.max(0, Math.min(nowMs - Date.parse(watch.startedAt), watch.durationMs));
  const counts = new Map<string, number>();
  for (const check of watch.checks) counts.set(check.result, (counts.get(check.result) ?? 0) + 1);
  const tally = ['fail', 'warn', 'inconclusive', 'pass']
    .filter((r) => counts.has(r))
    .map((r) => `${counts.get(r)} ${r}`)
    .join(', ');
  const checks = judged(watch.checks)
    .map((c) => `${c.name} ${shortValue(c)}`)
    .join(', ');
  return [
    `${watch.phase} ${formatDuration(Math.floor(elapsedMs / 1000) * 1000)} of ${formatDuration(watch.durationMs)}`,
    tally || 'no results yet',
    ...(checks ? [checks] : []),
    ...(watch.progress ? [watch.progress] : []),
  ].join(' · ');
}

/**
 * Every check failing when the watch ended, with its numbers: the verdict's reasons name the checks that
 * tripped it, and a critical check trips before the others reach their limit, so those would go unsaid.
 *
 * @example failingChecks(watch, { failureLimit: 2 }) // ['p95-latency fail 690 ms (objective < 500 ms; failing, 1 of 2)']
 */
export function failingChecks(watch: Verdict, live: LiveContext): string[] {
  return watch.checks.filter((c) => c.result === 'fail').map((c) => describeCheck(c, watch, live));
}

/**
 * What each judged check was compared with: its objective and, where it has one, the baseline value and
 * where that came from.
 *
 * @example baselineLines(watch) // ['p95-latency: fail 690 ms, objective < 500 ms, baseline 9.5 ms (pre-deploy)', …]
 */
export function baselineLines(watch: Verdict): string[] {
  return judged(watch.checks)
    .filter((c) => c.kind === 'slo' || c.kind === 'burn-rate' || c.kind === 'load')
    .map((c) => {
      const unit = displayUnit(c);
      const baseline =
        c.baseline === null
          ? c.baselineFrom
            ? `no baseline value (${c.baselineFrom})`
            : 'no baseline (objective only)'
          : `baseline ${formatInUnit(c.baseline, unit)}${c.baselineFrom ? ` (${c.baselineFrom})` : ''}`;
      const objective = formatObjective(c.objective, unit);
      return `${c.name}: ${shortValue(c)}${objective ? `, objective ${objective}` : ''}, ${baseline}`;
    });
}
