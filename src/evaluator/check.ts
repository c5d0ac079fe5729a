import type { SloConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import { absentSourceReason } from '../sources/absent.js';
import type { BaselinePlan } from './baselines.js';
import { combineJudgements, compareToBaseline } from './compare.js';
import {
  baselinePlan,
  baselineVars,
  explained,
  noBaseline,
  objectiveJudgements,
  type Prepared,
  type QueryWindow,
} from './prepared.js';
import { readValue } from './read.js';
import { checkShell, type EvaluationContext, judgeMissingValue, withJudgement } from './result.js';
import { renderFor, sliTemplate } from './sli.js';
import { evaluateByMannWhitney, evaluateByProportion } from './statistical-check.js';
import type { CheckResult } from './types.js';
import { describeWindow, judgedWindow, minWindowMs, rangeOf, warmUp } from './window.js';

/*
 * The main check of one SLO: read the SLI, judge it against its objective, compare it with its baseline —
 * by tolerance here (two instant queries), or by a statistical test (statistical-check.ts).
 */

type BaselineRead = { value: number; label: string } | { value: null; label: string; reason: string };

/** The baseline value for a tolerance comparison: the same query at the window's end, or a stored value. */
async function readBaselineValue(p: Prepared, plan: BaselinePlan): Promise<BaselineRead> {
  if (plan.kind === 'unavailable') return { value: null, label: plan.label, reason: plan.reason };
  if (plan.kind === 'stored') {
    const found = await plan.lookup();
    return found.value === null
      ? { value: null, label: plan.label, reason: found.reason }
      : { value: found.value, label: found.description };
  }
  // The same length as the current window, clamped or not: a value that grows with its window
  // (increase, count_over_time) is only comparable over equal lengths.
  const read = await readValue(p.source, p.sli(p.window, true), plan.end, p.ctx.signal);
  if (read.ok) return { value: read.value, label: plan.label };
  // A check that reads "no data" as good news (onNoData: pass) reads an empty baseline window as 0.
  if (read.kind === 'nodata' && p.slo.onNoData === 'pass')
    return { value: 0, label: `${plan.label}, no data read as 0` };
  return {
    value: null,
    label: plan.label,
    reason: read.kind === 'nodata' ? `no data: ${read.reason}` : read.reason,
  };
}

/** Tolerance comparison (maxIncrease/maxDecrease) against an instant or stored baseline value. */
async function evaluateByTolerance(p: Prepared, query: string): Promise<CheckResult> {
  const plan = baselinePlan(p);
  // Both instants at once: the baseline read is wasted only when the current value is missing.
  const [current, base] = await Promise.all([
    readValue(p.source, query, p.ctx.at, p.ctx.signal),
    plan === undefined ? undefined : readBaselineValue(p, plan),
  ]);
  if (!current.ok) return withJudgement(p.shell, judgeMissingValue(current, p.slo.onNoData), { query });
  const value = current.value;
  const judgements = objectiveJudgements(p.slo, value);
  if (p.slo.baseline !== undefined && base !== undefined) {
    judgements.push(
      base.value === null
        ? noBaseline(base.label, base.reason)
        : compareToBaseline(value, base.value, p.slo.baseline, base.label),
    );
  }
  return withJudgement(p.shell, explained(combineJudgements(judgements), value, query), {
    value,
    baseline: base?.value ?? null,
    samples: 1,
    query,
  });
}

/**
 * Evaluates the main check of one SLO (objective and/or baseline). Never throws for source trouble:
 * every failure to read becomes an inconclusive (or onNoData) result with the reason. Every result carries
 * the `range` of the current version's data it judged, and says it in its explanation.
 *
 * @example const check = await evaluateMainCheck(slo, { ...ctx, postDeployOnly: true }); check.range
 */
export async function evaluateMainCheck(slo: SloConfig, ctx: EvaluationContext): Promise<CheckResult> {
  const window = judgedWindow(slo.window ?? ctx.windowMs, ctx);
  const shell = { ...checkShell(slo, ctx, 'slo', slo.name), range: rangeOf(window) };
  const source = ctx.sources[slo.source];
  if (source === undefined) {
    return withJudgement(shell, {
      result: 'inconclusive',
      explanation: absentSourceReason(slo.source),
    });
  }
  const template = sliTemplate(slo, window.lengthMs, window.text);
  if (template === undefined)
    return withJudgement(shell, { result: 'inconclusive', explanation: 'the check has no SLI query' });
  const minMs = minWindowMs(slo, ctx.minWindowMs, source);
  const early = warmUp(ctx, minMs);
  if (early !== undefined) return withJudgement({ ...shell, query: template }, early, { warmingUp: true });
  const render = (t: string, w: QueryWindow, forBaseline = false): string =>
    renderFor(slo, t, forBaseline ? baselineVars(ctx.vars) : ctx.vars, w.lengthMs, w.text);
  const p: Prepared = {
    slo,
    ctx,
    source,
    window,
    minWindowMs: minMs,
    template,
    shell: { ...shell, query: template },
    render,
    sli: (w, forBaseline = false) => {
      const t = sliTemplate(slo, w.lengthMs, w.text) as string;
      return render(t, w, forBaseline);
    },
  };
  if (slo.baseline !== undefined) p.shell.baselineFrom = slo.baseline.from;
  const judged = await judge(p);
  return { ...judged, explanation: `${judged.explanation} (${describeWindow(window)})` };
}

async function judge(p: Prepared): Promise<CheckResult> {
  try {
    const test = p.slo.baseline?.test;
    if (test === 'mann-whitney') return await evaluateByMannWhitney(p);
    const query = p.sli(p.window);
    if (test === 'proportion') return await evaluateByProportion(p, query);
    return await evaluateByTolerance(p, query);
  } catch (error) {
    // Template variables unknown here (QUERY_TEMPLATE) land here; so would a bug — inconclusive, loudly.
    if (p.ctx.signal?.aborted) throw error;
    return withJudgement(p.shell, { result: 'inconclusive', explanation: errorMessage(error) });
  }
}
