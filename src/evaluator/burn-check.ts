import type { SloConfig } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
import { errorMessage } from '../errors.js';
import { absentSourceReason } from '../sources/absent.js';
import {
  BURN_RATE_PAIRS,
  BURN_WINDOW_NAMES,
  BURN_WINDOWS,
  type BurnWindow,
  burnRate,
  burnRateFactor,
  errorBudgetRemaining,
  evaluateBurnPairs,
  judgeBurnRates,
} from './burnrate.js';
import { formatValue } from './objective.js';
import { type Read, readValues } from './read.js';
import { checkShell, type EvaluationContext, withJudgement } from './result.js';
import { errorRatioPlan, renderFor } from './sli.js';
import type { CheckResult } from './types.js';
import { type JudgedWindow, judgedWindow, minWindowMs, rangeOf, warmUp } from './window.js';

/*
 * The burn-rate check of an SLO with `target` and `budgetWindow`: the error ratio over each window (5m … 3d)
 * and over the whole budget window, all at the same `time=` — one query for Prometheus (readValues), one per
 * window for the other sources. Named `<slo>:burn-rate`, kind `burn-rate`; it fails when the fast page pair
 * (1h/5m) fires.
 */

/** The check name of an SLO's burn-rate check. */
export function burnCheckName(slo: string): string {
  return `${slo}:burn-rate`;
}

/** Extrapolated rates may overshoot a ratio slightly; anything further out is not a ratio at all. */
const RATIO_SLACK = 1e-3;

function errorRatio(read: Read<number>, invert: boolean): Read<number> {
  if (!read.ok) return read;
  if (read.value < -RATIO_SLACK || read.value > 1 + RATIO_SLACK) {
    return {
      ok: false,
      kind: 'error',
      reason: `the error-ratio query answered ${formatValue(read.value)}, not a ratio in [0, 1]`,
    };
  }
  const ratio = invert ? 1 - read.value : read.value;
  return { ok: true, value: Math.min(1, Math.max(0, ratio)) };
}

/**
 * Evaluates error budget and burn rates of one SLO; undefined when the SLO has no target/budgetWindow
 * or no readable error ratio. During a watch (`postDeployOnly`) every burn window is clamped to the deploy,
 * and the check's `range` is the page pair's short window.
 *
 * @example const check = await evaluateBurnCheck(slo, ctx); check?.burnRates?.['1h']
 */
export async function evaluateBurnCheck(
  slo: SloConfig,
  ctx: EvaluationContext,
): Promise<CheckResult | undefined> {
  const target = slo.target;
  const budgetWindowMs = slo.budgetWindow;
  if (target === undefined || budgetWindowMs === undefined || !slo.burnRate) return undefined;
  const shell = checkShell(slo, ctx, 'burn-rate', burnCheckName(slo.name));
  const fastFactor = burnRateFactor(BURN_RATE_PAIRS[0] as (typeof BURN_RATE_PAIRS)[number], budgetWindowMs);
  shell.objective = { lte: fastFactor };
  const source = ctx.sources[slo.source];
  if (source === undefined) {
    return withJudgement(shell, {
      result: 'inconclusive',
      explanation: absentSourceReason(slo.source),
    });
  }
  const plan = errorRatioPlan(slo);
  if (plan === undefined) {
    return withJudgement(shell, {
      result: 'inconclusive',
      explanation: 'no error ratio for burn rates: give good/bad and total queries, or a ratio query',
    });
  }
  // Each burn window judges the new version: clamped to the deploy during a watch. One that is still
  // shorter than minWindow (and than its own length) has too little data to mean anything: null, unread.
  // The budget window is the SLO's over its whole period, old versions included, and never fails the
  // check: it is not clamped.
  const minMs = minWindowMs(slo, ctx.minWindowMs, source);
  const windows: { name: BurnWindow | 'budget'; window: JudgedWindow | undefined }[] = [
    ...BURN_WINDOW_NAMES.map((name) => {
      const window = judgedWindow(BURN_WINDOWS[name], ctx);
      const tooShort = window.clamped && window.lengthMs < minMs;
      return { name, window: tooShort ? undefined : window };
    }),
    { name: 'budget', window: judgedWindow(budgetWindowMs, { at: ctx.at, deployedAt: ctx.deployedAt }) },
  ];
  const pageShort = judgedWindow(BURN_WINDOWS[BURN_RATE_PAIRS[0]?.short ?? '5m'], ctx);
  shell.range = rangeOf(pageShort);
  // Nothing of the new version to judge in any window yet: warming up, and no query at all.
  const early = warmUp(ctx, minMs);
  if (early !== undefined) return withJudgement(shell, early, { warmingUp: true });
  const render = (w: JudgedWindow): string =>
    renderFor(slo, plan.template(w.lengthMs, w.text), ctx.vars, w.lengthMs, w.text);
  let reads: (Read<number> | undefined)[];
  try {
    // All windows in one request where the source can (one series per window, mapped back by name).
    const queried = windows.flatMap((w) =>
      w.window === undefined ? [] : [{ key: w.name, query: render(w.window) }],
    );
    const answers = new Map(
      (await readValues(source, queried, ctx.at, ctx.signal)).map((read, i) => [queried[i]?.key, read]),
    );
    reads = windows.map((w) => answers.get(w.name));
  } catch (error) {
    if (ctx.signal?.aborted) throw error;
    return withJudgement(shell, { result: 'inconclusive', explanation: errorMessage(error) });
  }
  const ratios = reads.map((r) => (r === undefined ? undefined : errorRatio(r, plan.invert)));
  const rates: Partial<Record<BurnWindow, number | null>> = {};
  let budgetRatio: number | null = null;
  windows.forEach((w, i) => {
    const r = ratios[i];
    const ratio = r?.ok ? r.value : null;
    if (w.name === 'budget') budgetRatio = ratio;
    else rates[w.name] = ratio === null ? null : burnRate(ratio, target);
  });
  const failures = ratios.flatMap((r) => (r !== undefined && !r.ok && r.kind === 'error' ? [r.reason] : []));
  const judgement = judgeBurnRates(evaluateBurnPairs(rates, budgetWindowMs), budgetWindowMs);
  const remaining = budgetRatio === null ? null : errorBudgetRemaining(budgetRatio, target);
  const budgetText =
    remaining === null
      ? `error budget over ${formatDuration(budgetWindowMs)}: no data`
      : `error budget left ${formatValue(remaining * 100)}% of ${formatDuration(budgetWindowMs)} at target ${formatValue(target * 100)}%`;
  const longest = windows.find((w) => w.name === '3d')?.window;
  const clampNote =
    longest?.clamped === true
      ? [`windows clamped to the ${formatDuration(longest.lengthMs)} since the deploy`]
      : [];
  const explanation = [
    judgement.explanation,
    budgetText,
    ...clampNote,
    ...(failures.length > 0 ? [`errors: ${failures[0]}`] : []),
  ].join('; ');
  return withJudgement(
    shell,
    { ...judgement, explanation },
    {
      value: rates['1h'] ?? null,
      samples: null,
      query: render(judgedWindow(BURN_WINDOWS['1h'], ctx)),
      burnRates: rates,
      errorBudgetRemaining: remaining,
    },
  );
}
