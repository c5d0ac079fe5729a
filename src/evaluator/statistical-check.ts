import { formatDuration } from '../config/units.js';
import { combineJudgements, compareToBaseline } from './compare.js';
import {
  baselinePlan,
  configuredWindow,
  explained,
  needsWindow,
  noBaseline,
  objectiveJudgements,
  type Prepared,
  type QueryWindow,
  stillFilling,
  testSettings,
} from './prepared.js';
import { type Read, readSamples, readValue } from './read.js';
import { judgeMissingValue, withJudgement } from './result.js';
import { judgeMannWhitney, judgeProportion } from './significance.js';
import { median } from './statistics.js';
import type { CheckResult } from './types.js';

/*
 * The statistical baseline tests of a main SLO check (DESIGN §5): Mann-Whitney U over range-query samples
 * (two range queries), the two-proportion test over event counts (four instant queries: events and totals,
 * now and before). During a watch both read only post-deploy data for the new version (DESIGN §6).
 */

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

/**
 * Mann-Whitney U over range-query samples of the current and the baseline window. Below minSamples while
 * the post-deploy window still fills, the result is warm-up (`warmingUp: true`).
 *
 * @example const check = await evaluateByMannWhitney(prepared); check.samples
 */
export async function evaluateByMannWhitney(p: Prepared): Promise<CheckResult> {
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

/**
 * Two-proportion test of events/total now against the baseline window. Below minTotal while the
 * post-deploy window still fills, the result is warm-up (`warmingUp: true`).
 *
 * @example const check = await evaluateByProportion(prepared, query); check.value // the current ratio
 */
export async function evaluateByProportion(p: Prepared, query: string): Promise<CheckResult> {
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
