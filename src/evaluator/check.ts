import { regressionDirection, type SloConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { SliSource } from '../sources/types.js';
import { type BaselinePlan, planBaseline } from './baselines.js';
import { combineJudgements, compareToBaseline } from './compare.js';
import { explainInfinity, type Judgement, judgeObjective } from './objective.js';
import { type Read, readSamples, readValue } from './read.js';
import { checkShell, type EvaluationContext, judgeMissingValue, withJudgement } from './result.js';
import { judgeMannWhitney, judgeProportion, type TestSettings } from './significance.js';
import { type EvaluationVars, renderFor, sliTemplate } from './sli.js';
import { median } from './statistics.js';
import type { CheckResult } from './types.js';

/*
 * The main check of one SLO: read the SLI, judge it against its objective, compare it with its baseline.
 * Two instant queries for a tolerance comparison, two range queries for mann-whitney, four instant
 * queries (events and totals, now and then) for the proportion test.
 */

interface Prepared {
  slo: SloConfig;
  ctx: EvaluationContext;
  source: SliSource;
  windowMs: number;
  shell: CheckResult;
  /** The SLI template (before rendering). */
  template: string;
  /** Renders a template for the current window, or for the baseline (version → previousVersion). */
  render(template: string, forBaseline?: boolean): string;
}

function baselineVars(vars: EvaluationVars): EvaluationVars {
  // A baseline window shows the previous version serving traffic; a query filtering on {{version}}
  // must look for that one there.
  return vars.previousVersion === undefined || vars.previousVersion === ''
    ? vars
    : { ...vars, version: vars.previousVersion };
}

function baselinePlan(p: Prepared): BaselinePlan | undefined {
  if (p.slo.baseline === undefined) return undefined;
  return planBaseline(p.slo.baseline, {
    at: p.ctx.at,
    deployedAt: p.ctx.deployedAt,
    service: p.ctx.vars.service,
    slo: p.slo.name,
    ...(p.ctx.watchId === undefined ? {} : { watchId: p.ctx.watchId }),
    ...(p.ctx.snapshots === undefined ? {} : { snapshots: p.ctx.snapshots }),
  });
}

function testSettings(slo: SloConfig): TestSettings {
  const b = slo.baseline;
  const settings: TestSettings = {
    confidence: b?.confidence ?? 0.98,
    direction: regressionDirection(slo),
    minSamples: b?.minSamples ?? 5,
    minTotal: b?.minTotal ?? 30,
  };
  if (b?.effectSize !== undefined) settings.effectSize = b.effectSize;
  return settings;
}

function objectiveJudgements(slo: SloConfig, value: number): Judgement[] {
  return slo.objective !== undefined || slo.warn !== undefined
    ? [judgeObjective(value, slo.objective, slo.warn)]
    : [];
}

/** The judgements of a value, ending with what ±Inf means when the value is infinite (DESIGN §6). */
function explained(judgement: Judgement, value: number, query: string): Judgement {
  const meaning = explainInfinity(value, query);
  return meaning === undefined
    ? judgement
    : { ...judgement, explanation: `${judgement.explanation}; ${meaning}` };
}

function noBaseline(label: string, reason: string): Judgement {
  return { result: 'inconclusive', explanation: `no baseline value (${label}): ${reason}` };
}

type BaselineRead = { value: number; label: string } | { value: null; label: string; reason: string };

/** The baseline value for a tolerance comparison: the same query at the window's end, or a stored value. */
async function readBaselineValue(p: Prepared, plan: BaselinePlan): Promise<BaselineRead> {
  if (plan.kind === 'unavailable') return { value: null, label: plan.label, reason: plan.reason };
  if (plan.kind === 'stored') {
    const found = plan.lookup();
    return found.value === null
      ? { value: null, label: plan.label, reason: found.reason }
      : { value: found.value, label: found.description };
  }
  const read = await readValue(p.source, p.render(p.template, true), plan.end, p.ctx.signal);
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

function needsWindow(plan: BaselinePlan | undefined, test: string): Judgement | undefined {
  if (plan === undefined || plan.kind === 'window') return undefined;
  return {
    result: 'inconclusive',
    explanation: `test: ${test} needs a pre-deploy or offset baseline (a window to sample); ${plan.label} holds single values`,
  };
}

/** Mann-Whitney U over range-query samples of the current and the baseline window. */
async function evaluateByMannWhitney(p: Prepared, query: string): Promise<CheckResult> {
  const plan = baselinePlan(p);
  const unusable = needsWindow(plan, 'mann-whitney');
  if (unusable || plan?.kind !== 'window')
    return withJudgement(p.shell, unusable ?? noBaseline('none', 'no baseline'), { query });
  const stepMs = p.slo.baseline?.step ?? Math.max(1000, Math.round(p.windowMs / 10));
  const [current, base] = await Promise.all([
    readSamples(p.source, query, p.ctx.at - p.windowMs, p.ctx.at, stepMs, p.ctx.signal),
    readSamples(p.source, p.render(p.template, true), plan.end - p.windowMs, plan.end, stepMs, p.ctx.signal),
  ]);
  if (!current.ok) return withJudgement(p.shell, judgeMissingValue(current, p.slo.onNoData), { query });
  const value = median(current.value);
  const judgements = objectiveJudgements(p.slo, value);
  if (base.ok) {
    judgements.push(judgeMannWhitney(current.value, base.value, testSettings(p.slo), plan.label));
    const b = p.slo.baseline;
    if (b?.maxIncrease !== undefined || b?.maxDecrease !== undefined) {
      judgements.push(compareToBaseline(value, median(base.value), b, `${plan.label} median`));
    }
  } else {
    judgements.push(noBaseline(plan.label, base.kind === 'nodata' ? `no data: ${base.reason}` : base.reason));
  }
  return withJudgement(p.shell, explained(combineJudgements(judgements), value, query), {
    value,
    baseline: base.ok ? median(base.value) : null,
    samples: current.value.length,
    query,
  });
}

/** Reads events and total at one instant; missing events with a total present count as 0 events. */
async function readCounts(
  p: Prepared,
  events: string,
  total: string,
  at: number,
): Promise<Read<{ successes: number; total: number }>> {
  const [e, t] = await Promise.all([
    readValue(p.source, events, at, p.ctx.signal),
    readValue(p.source, total, at, p.ctx.signal),
  ]);
  if (!t.ok) return t;
  // `sum(increase(x{code=~"5.."}[5m]))` is empty, not 0, while no 5xx series exists yet.
  if (!e.ok && e.kind === 'error') return e;
  if (t.value <= 0) return { ok: false, kind: 'nodata', reason: 'total is 0' };
  return { ok: true, value: { successes: e.ok ? e.value : 0, total: t.value } };
}

/** Two-proportion test of events/total now against the baseline window. */
async function evaluateByProportion(p: Prepared, query: string): Promise<CheckResult> {
  const eventsTemplate = p.slo.good ?? p.slo.bad;
  if (eventsTemplate === undefined || p.slo.total === undefined) {
    return withJudgement(
      p.shell,
      { result: 'inconclusive', explanation: 'test: proportion needs good (or bad) and total queries' },
      { query },
    );
  }
  const plan = baselinePlan(p);
  const unusable = needsWindow(plan, 'proportion');
  if (unusable || plan?.kind !== 'window')
    return withJudgement(p.shell, unusable ?? noBaseline('none', 'no baseline'), { query });
  const [current, base] = await Promise.all([
    readCounts(p, p.render(eventsTemplate), p.render(p.slo.total), p.ctx.at),
    readCounts(p, p.render(eventsTemplate, true), p.render(p.slo.total, true), plan.end),
  ]);
  if (!current.ok) return withJudgement(p.shell, judgeMissingValue(current, p.slo.onNoData), { query });
  const value = current.value.successes / current.value.total;
  const judgements = objectiveJudgements(p.slo, value);
  judgements.push(
    base.ok
      ? judgeProportion(current.value, base.value, testSettings(p.slo), plan.label)
      : noBaseline(plan.label, base.kind === 'nodata' ? `no data: ${base.reason}` : base.reason),
  );
  return withJudgement(p.shell, combineJudgements(judgements), {
    value,
    baseline: base.ok ? base.value.successes / base.value.total : null,
    samples: Math.round(current.value.total),
    query,
  });
}

/**
 * Evaluates the main check of one SLO (objective and/or baseline). Never throws for source trouble:
 * every failure to read becomes an inconclusive (or onNoData) result with the reason.
 */
export async function evaluateMainCheck(slo: SloConfig, ctx: EvaluationContext): Promise<CheckResult> {
  const shell = checkShell(slo, ctx, 'slo', slo.name);
  const source = ctx.sources[slo.source];
  if (source === undefined) {
    return withJudgement(shell, {
      result: 'inconclusive',
      explanation: `source ${slo.source} is not configured`,
    });
  }
  const windowMs = slo.window ?? ctx.windowMs;
  const template = sliTemplate(slo, windowMs);
  if (template === undefined)
    return withJudgement(shell, { result: 'inconclusive', explanation: 'the check has no SLI query' });
  const p: Prepared = {
    slo,
    ctx,
    source,
    windowMs,
    template,
    shell: { ...shell, query: template },
    render: (t, forBaseline = false) =>
      renderFor(slo, t, forBaseline ? baselineVars(ctx.vars) : ctx.vars, windowMs),
  };
  if (slo.baseline !== undefined) p.shell.baselineFrom = slo.baseline.from;
  try {
    const query = p.render(template);
    const test = slo.baseline?.test;
    if (test === 'mann-whitney') return await evaluateByMannWhitney(p, query);
    if (test === 'proportion') return await evaluateByProportion(p, query);
    return await evaluateByTolerance(p, query);
  } catch (error) {
    // Template variables unknown here (QUERY_TEMPLATE) land here; so would a bug — inconclusive, loudly.
    if (ctx.signal?.aborted) throw error;
    return withJudgement(p.shell, { result: 'inconclusive', explanation: errorMessage(error) });
  }
}
