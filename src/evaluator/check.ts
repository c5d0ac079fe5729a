import { regressionDirection, type SloConfig } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
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
import { describeWindow, type JudgedWindow, judgedWindow, minWindowMs, rangeOf, warmUp } from './window.js';

/*
 * The main check of one SLO: read the SLI, judge it against its objective, compare it with its baseline.
 * Two instant queries for a tolerance comparison, two range queries for mann-whitney, four instant
 * queries (events and totals, now and then) for the proportion test.
 */

/** A window as queries see it: its length and what `{{window}}` renders as. */
type QueryWindow = Pick<JudgedWindow, 'lengthMs' | 'text'>;

interface Prepared {
  slo: SloConfig;
  ctx: EvaluationContext;
  source: SliSource;
  /** The current version's window: `{{window}}`, clamped to the deploy during a watch. */
  window: JudgedWindow;
  /** The post-deploy data the check needs before it judges (DESIGN §6), ms. */
  minWindowMs: number;
  shell: CheckResult;
  /** The SLI template (before rendering), for the shell's `query`. */
  template: string;
  /** Renders a template over `window` for the current version, or for the baseline (version → previousVersion). */
  render(template: string, window: QueryWindow, forBaseline?: boolean): string;
  /** The SLI query over `window`, current or baseline. */
  sli(window: QueryWindow, forBaseline?: boolean): string;
}

/** The whole configured window, rendered as configured: what judges the old version. */
function configuredWindow(p: Prepared): QueryWindow {
  return { lengthMs: p.window.configuredMs, text: formatDuration(p.window.configuredMs) };
}

/**
 * True when a result below minSamples/minTotal is warm-up: the current window is still filling after the
 * deploy (DESIGN §6), so the shortage says nothing about the source.
 */
function stillFilling(p: Prepared): boolean {
  return p.ctx.postDeployOnly === true && p.window.clamped;
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

function needsWindow(plan: BaselinePlan | undefined, test: string): Judgement | undefined {
  if (plan === undefined || plan.kind === 'window') return undefined;
  return {
    result: 'inconclusive',
    explanation: `test: ${test} needs a pre-deploy or offset baseline (a window to sample); ${plan.label} holds single values`,
  };
}

/**
 * The sample plan of a Mann-Whitney check. Continuous evaluation: `{{window}}` per sample and samples over
 * the configured window, as configured. During a watch no sample may reach before the deploy, so each sample
 * covers its own step (at least minWindow, at most the judged window) and the first one ends a sample's
 * length after the start of the clamped window.
 */
function samplePlan(p: Prepared): {
  sample: QueryWindow;
  currentStart: number;
  baselineSpanMs: number;
  stepMs: number;
} {
  const configuredMs = p.window.configuredMs;
  const stepMs = p.slo.baseline?.step ?? Math.max(1000, Math.round(configuredMs / 10));
  if (p.ctx.postDeployOnly !== true) {
    return {
      sample: configuredWindow(p),
      currentStart: p.ctx.at - configuredMs,
      baselineSpanMs: configuredMs,
      stepMs,
    };
  }
  const seconds = Math.max(
    1,
    Math.floor(Math.min(p.window.lengthMs, Math.max(stepMs, p.minWindowMs)) / 1000),
  );
  const sampleMs = seconds * 1000;
  return {
    sample: { lengthMs: sampleMs, text: formatDuration(sampleMs) },
    currentStart: p.ctx.at - p.window.lengthMs + sampleMs,
    // The old version is sampled over the whole configured window: more baseline samples make a steadier
    // reference, and each covers the same length as the current ones, so they compare.
    baselineSpanMs: configuredMs - sampleMs,
    stepMs,
  };
}

/** Mann-Whitney U over range-query samples of the current and the baseline window. */
async function evaluateByMannWhitney(p: Prepared): Promise<CheckResult> {
  const plan = baselinePlan(p);
  const samples = samplePlan(p);
  const query = p.sli(samples.sample);
  const unusable = needsWindow(plan, 'mann-whitney');
  if (unusable || plan?.kind !== 'window')
    return withJudgement(p.shell, unusable ?? noBaseline('none', 'no baseline'), { query });
  const [current, base] = await Promise.all([
    readSamples(p.source, query, samples.currentStart, p.ctx.at, samples.stepMs, p.ctx.signal),
    readSamples(
      p.source,
      p.sli(samples.sample, true),
      plan.end - samples.baselineSpanMs,
      plan.end,
      samples.stepMs,
      p.ctx.signal,
    ),
  ]);
  if (!current.ok) return withJudgement(p.shell, judgeMissingValue(current, p.slo.onNoData), { query });
  const value = median(current.value);
  const judgements = objectiveJudgements(p.slo, value);
  const settings = testSettings(p.slo);
  if (base.ok) {
    judgements.push(judgeMannWhitney(current.value, base.value, settings, plan.label));
    const b = p.slo.baseline;
    if (b?.maxIncrease !== undefined || b?.maxDecrease !== undefined) {
      judgements.push(compareToBaseline(value, median(base.value), b, `${plan.label} median`));
    }
  } else {
    judgements.push(noBaseline(plan.label, base.kind === 'nodata' ? `no data: ${base.reason}` : base.reason));
  }
  const judgement = explained(combineJudgements(judgements), value, query);
  const warmingUp =
    judgement.result === 'inconclusive' && current.value.length < settings.minSamples && stillFilling(p);
  return withJudgement(p.shell, judgement, {
    value,
    baseline: base.ok ? median(base.value) : null,
    samples: current.value.length,
    query,
    ...(warmingUp ? { warmingUp: true } : {}),
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
  // Counts of the old version over the whole configured window: the test compares ratios, each with its
  // own total, so a longer baseline only makes the reference steadier.
  const before = configuredWindow(p);
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
    readCounts(p, p.render(eventsTemplate, p.window), p.render(p.slo.total, p.window), p.ctx.at),
    readCounts(p, p.render(eventsTemplate, before, true), p.render(p.slo.total, before, true), plan.end),
  ]);
  if (!current.ok) return withJudgement(p.shell, judgeMissingValue(current, p.slo.onNoData), { query });
  const value = current.value.successes / current.value.total;
  const judgements = objectiveJudgements(p.slo, value);
  const settings = testSettings(p.slo);
  judgements.push(
    base.ok
      ? judgeProportion(current.value, base.value, settings, plan.label)
      : noBaseline(plan.label, base.kind === 'nodata' ? `no data: ${base.reason}` : base.reason),
  );
  const judgement = combineJudgements(judgements);
  const warmingUp =
    judgement.result === 'inconclusive' && current.value.total < settings.minTotal && stillFilling(p);
  return withJudgement(p.shell, judgement, {
    value,
    baseline: base.ok ? base.value.successes / base.value.total : null,
    samples: Math.round(current.value.total),
    query,
    ...(warmingUp ? { warmingUp: true } : {}),
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
      explanation: `source ${slo.source} is not configured`,
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
