import { regressionDirection, type SloConfig } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
import type { SliSource } from '../sources/types.js';
import { type BaselinePlan, planBaseline } from './baselines.js';
import { explainInfinity, type Judgement, judgeObjective } from './objective.js';
import type { EvaluationContext } from './result.js';
import type { TestSettings } from './significance.js';
import type { EvaluationVars } from './sli.js';
import type { CheckResult } from './types.js';
import type { JudgedWindow } from './window.js';

/*
 * What every way of judging a main SLO check shares: the prepared check (source, windows, renderers) and
 * the small judgements built from it. Used by check.ts (tolerances) and statistical-check.ts (tests).
 */

/** A window as queries see it: its length and what `{{window}}` renders as. */
export type QueryWindow = Pick<JudgedWindow, 'lengthMs' | 'text'>;

export interface Prepared {
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

/**
 * The whole configured window, rendered as configured: what judges the old version.
 *
 * @example configuredWindow(p) // { lengthMs: 300_000, text: '5m' } even 90 s after the deploy
 */
export function configuredWindow(p: Prepared): QueryWindow {
  return { lengthMs: p.window.configuredMs, text: formatDuration(p.window.configuredMs) };
}

/**
 * True when a result below minSamples/minTotal is warm-up: the current window is still filling after the
 * deploy (DESIGN §6), so the shortage says nothing about the source.
 *
 * @example stillFilling(p) // true 2 minutes into a watch with a 5m window
 */
export function stillFilling(p: Prepared): boolean {
  return p.ctx.postDeployOnly === true && p.window.clamped;
}

/**
 * Template variables for a baseline window: `{{version}}` is the previous version there.
 *
 * @example baselineVars({ service: 'api', version: '2', previousVersion: '1' }).version // '1'
 */
export function baselineVars(vars: EvaluationVars): EvaluationVars {
  // A baseline window shows the previous version serving traffic; a query filtering on {{version}}
  // must look for that one there.
  return vars.previousVersion === undefined || vars.previousVersion === ''
    ? vars
    : { ...vars, version: vars.previousVersion };
}

/**
 * Where this check's baseline comes from at this evaluation; undefined without a baseline.
 *
 * @example baselinePlan(p)?.kind // 'window' for pre-deploy and offset
 */
export function baselinePlan(p: Prepared): BaselinePlan | undefined {
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

/**
 * The settings of a statistical test, with the config's defaults (direction from regressionDirection).
 *
 * @example testSettings(slo).direction // 'decrease' for a good/total proportion test
 */
export function testSettings(slo: SloConfig): TestSettings {
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

/**
 * The objective (and warn) judgement of a value, or none when the SLO has neither.
 *
 * @example objectiveJudgements(slo, 0.034) // [{ result: 'fail', explanation: '0.034 is not < 0.01', … }]
 */
export function objectiveJudgements(slo: SloConfig, value: number): Judgement[] {
  return slo.objective !== undefined || slo.warn !== undefined
    ? [judgeObjective(value, slo.objective, slo.warn)]
    : [];
}

/**
 * A judgement of a value, ending with what ±Inf means when the value is infinite (DESIGN §6).
 *
 * @example explained(judgeObjective(Infinity, { lt: 0.5 }), Infinity, 'histogram_quantile(…)').explanation
 *   // '+Inf is not < 0.5; +Inf: the quantile lies above the highest bucket (the worst latency there is)'
 */
export function explained(judgement: Judgement, value: number, query: string): Judgement {
  const meaning = explainInfinity(value, query);
  return meaning === undefined
    ? judgement
    : { ...judgement, explanation: `${judgement.explanation}; ${meaning}` };
}

/**
 * The inconclusive judgement of a relative criterion without a baseline value: never a silent pass.
 *
 * @example noBaseline('pre-deploy', 'no data: empty result').result // 'inconclusive'
 */
export function noBaseline(label: string, reason: string): Judgement {
  return { result: 'inconclusive', explanation: `no baseline value (${label}): ${reason}` };
}

/**
 * Why a statistical test cannot use this baseline (stored single values, no window to sample), if so.
 *
 * @example needsWindow({ kind: 'stored', … }, 'mann-whitney')?.result // 'inconclusive'
 */
export function needsWindow(plan: BaselinePlan | undefined, test: string): Judgement | undefined {
  if (plan === undefined || plan.kind === 'window') return undefined;
  return {
    result: 'inconclusive',
    explanation: `test: ${test} needs a pre-deploy or offset baseline (a window to sample); ${plan.label} holds single values`,
  };
}
