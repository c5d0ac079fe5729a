import type { SloConfig } from '../config/schema.js';
import { evaluatePatternsCheck } from '../patterns/check.js';
import { evaluateBurnCheck } from './burn-check.js';
import { evaluateMainCheck } from './check.js';
import type { EvaluationContext } from './result.js';
import type { CheckResult } from './types.js';

export type { EvaluationContext } from './result.js';

/*
 * The evaluator's thin shell: SLO definitions + sources in, CheckResults out (DESIGN §6). All judging is
 * in the pure modules (objective, compare, significance, burnrate); this file only sequences queries.
 */

/**
 * Evaluates one SLO at `ctx.at`: its main check (when it has an objective or a baseline) and its burn-rate
 * check (when it has target and budgetWindow). Never throws for source trouble — an unreachable source,
 * a bad query or missing data are results; it rethrows only when `ctx.signal` aborts.
 *
 * @example
 *   const checks = await evaluateSlo(slo, {
 *     sources: { prometheus }, at: Date.now(), deployedAt: watch.startedAt, windowMs: 300_000,
 *     vars: { service: 'prep-api', version: '1.4.2', previousVersion: '1.4.1' },
 *   });
 */
export async function evaluateSlo(slo: SloConfig, ctx: EvaluationContext): Promise<CheckResult[]> {
  if (slo.patterns !== undefined) return [await evaluatePatternsCheck(slo, ctx)];
  const hasMain = slo.objective !== undefined || slo.baseline !== undefined || slo.warn !== undefined;
  const [main, burn] = await Promise.all([
    hasMain ? evaluateMainCheck(slo, ctx) : undefined,
    ctx.burnRates === false ? undefined : evaluateBurnCheck(slo, ctx),
  ]);
  return [main, burn].filter((c): c is CheckResult => c !== undefined);
}

/**
 * Evaluates every SLO (at most `ctx.concurrency`, default 4, at once), results in definition order.
 *
 * @example const checks = await evaluateChecks(config.slos, ctx);
 */
export async function evaluateChecks(
  slos: readonly SloConfig[],
  ctx: EvaluationContext,
): Promise<CheckResult[]> {
  const results: CheckResult[][] = new Array(slos.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < slos.length) {
      const index = next++;
      results[index] = await evaluateSlo(slos[index] as SloConfig, ctx);
    }
  };
  const workers = Math.max(1, Math.min(ctx.concurrency ?? 4, slos.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return results.flat();
}

/**
 * The SLI values of an evaluation worth storing as snapshots (for later `previous-watch`/`pinned`
 * baselines): main SLO checks with a value, keyed by SLO name.
 *
 * @example await tx.snapshots.save({ watchId, service, version, elapsedMs, at, values: snapshotValues(checks) })
 */
export function snapshotValues(checks: readonly CheckResult[]): { slo: string; value: number }[] {
  return checks.flatMap((c) =>
    c.kind === 'slo' && c.value !== null && Number.isFinite(c.value) ? [{ slo: c.name, value: c.value }] : [],
  );
}
