import type { Clock } from '../clock.js';
import type { Objective, SloConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import { type Metrics, setOneHot } from '../telemetry/metrics.js';
import { burnCheckName } from './burn-check.js';
import { BURN_WINDOW_NAMES } from './burnrate.js';
import { evaluateChecks } from './evaluate.js';
import type { EvaluationContext } from './result.js';
import type { EvaluationVars } from './sli.js';
import type { CheckOutcome, CheckResult, SnapshotReader } from './types.js';

/*
 * Continuous evaluation (DESIGN §1, §8): every `evaluationInterval`, watches or not, every SLO is evaluated
 * and the SLO metrics and the state behind `GET /api/v1/slos` are updated. Ticks are aligned to the start
 * time (start + k·interval) so a slow evaluation does not make the schedule drift; a tick that overruns
 * the next one is skipped, not queued.
 */

const OUTCOMES: readonly CheckOutcome[] = ['pass', 'warn', 'fail', 'inconclusive'];

/** One SLO's latest state, as `GET /api/v1/slos` shows it. */
export interface SloState {
  slo: string;
  description?: string;
  value: number | null;
  objective: Objective | null;
  baseline: number | null;
  /** The main check's result; for an SLO with only a target, its burn-rate check's result. */
  result: CheckOutcome;
  explanation: string;
  errorBudgetRemaining: number | null;
  burnRates: Record<string, number | null>;
  /** The burn-rate check's result when the SLO has a target. */
  burnRateResult: CheckOutcome | null;
  /** Failing evaluations in a row of the main check (what `alertAfter` counts; see countFailureStreaks). */
  consecutiveFailures: number;
  evaluatedAt: string;
}

export interface ContinuousDeps {
  /** The SLOs to evaluate; a function so a config reload is picked up at the next tick. */
  slos: () => readonly SloConfig[];
  sources: EvaluationContext['sources'];
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  /** A function when a reload may change it: a new interval re-anchors the ticks at the next evaluation. */
  intervalMs: number | (() => number);
  /** `{{window}}`; a function when a reload may change it (read at each evaluation). */
  windowMs: number | (() => number);
  /** Template variables; version is the currently deployed one when known. */
  vars: () => EvaluationVars;
  /**
   * The last deploy, for `pre-deploy` baselines outside a watch. Without one, pre-deploy compares with the
   * window just before the current one.
   */
  lastDeployAt?: () => number | undefined;
  /**
   * How long after `run()` starts the first evaluation comes (ms; default 0; read when it starts): a
   * fleet's services each take their own phase of the interval, so their evaluations do not all query
   * at the same instant.
   */
  phaseMs?: number | (() => number);
  snapshots?: SnapshotReader;
  /** Called after each evaluation (e.g. to raise VigilSLOViolation alerts). Must not throw. */
  onEvaluation?: (states: readonly SloState[], checks: readonly CheckResult[]) => void;
}

/** The single bound of an objective as a number for `vigil_slo_objective` (the first of lt, lte, gt, gte). */
export function objectiveBound(objective: Objective | null): number | undefined {
  if (objective === null) return undefined;
  return objective.lt ?? objective.lte ?? objective.gt ?? objective.gte;
}

/**
 * Folds one evaluation's checks into per-SLO states (main check and burn-rate check together).
 *
 * @example toSloStates(config.slos, checks)[0].burnRates['1h']
 */
export function toSloStates(slos: readonly SloConfig[], checks: readonly CheckResult[]): SloState[] {
  const byName = new Map(checks.map((c) => [c.name, c]));
  return slos.flatMap((slo) => {
    const main = byName.get(slo.name);
    const burn = byName.get(burnCheckName(slo.name));
    const lead = main ?? burn;
    if (lead === undefined) return [];
    const state: SloState = {
      slo: slo.name,
      value: main?.value ?? null,
      objective: main?.objective ?? null,
      baseline: main?.baseline ?? null,
      result: lead.result,
      explanation: lead.explanation,
      errorBudgetRemaining: burn?.errorBudgetRemaining ?? null,
      burnRates: burn?.burnRates ?? {},
      burnRateResult: burn?.result ?? null,
      consecutiveFailures: lead.consecutiveFailures,
      evaluatedAt: lead.evaluatedAt,
    };
    if (slo.description !== undefined) state.description = slo.description;
    return [state];
  });
}

function setOrRemove(
  gauge: Metrics['sloValue'],
  labels: { service: string; slo: string },
  value: number | null | undefined,
): void {
  if (value === null || value === undefined || !Number.isFinite(value)) gauge.remove(labels);
  else gauge.set(labels, value);
}

/**
 * Writes the §8 SLO metrics for a set of states, labelled with the service. A value that is unknown now
 * is removed rather than left at its last number, so Grafana shows a gap instead of a stale line.
 *
 * @example exportSloMetrics(metrics, states, 'prep-api')
 */
export function exportSloMetrics(metrics: Metrics, states: readonly SloState[], service: string): void {
  for (const s of states) {
    const labels = { service, slo: s.slo };
    setOrRemove(metrics.sloValue, labels, s.value);
    setOrRemove(metrics.sloObjective, labels, objectiveBound(s.objective));
    setOrRemove(metrics.sloBaselineValue, labels, s.baseline);
    setOneHot(metrics.sloResult, labels, 'result', OUTCOMES, s.result);
    setOrRemove(metrics.sloErrorBudgetRemaining, labels, s.errorBudgetRemaining);
    for (const [window, rate] of Object.entries(s.burnRates)) {
      if (rate === null || !Number.isFinite(rate)) metrics.sloBurnRate.remove({ ...labels, window });
      else metrics.sloBurnRate.set({ ...labels, window }, rate);
    }
  }
}

/**
 * Carries each check's run of failing evaluations from one continuous evaluation to the next, the way a
 * Prometheus rule's `for:` does: a failure adds one, a pass or warn resets to 0, an inconclusive result
 * (no data, a query error) neither counts nor resets — a gap in the data never raises nor clears an
 * alert. Returns the checks with `consecutiveFailures` filled in and the streaks to carry on, holding only
 * the checks of this evaluation (a check that is gone starts again from 0).
 *
 * @example
 *   const { checks, streaks } = countFailureStreaks(new Map([['p95', 2]]), results);
 *   checks[0].consecutiveFailures // 3 when p95 failed again
 */
export function countFailureStreaks(
  prior: ReadonlyMap<string, number>,
  checks: readonly CheckResult[],
): { checks: CheckResult[]; streaks: Map<string, number> } {
  const streaks = new Map<string, number>();
  const counted = checks.map((check) => {
    const before = prior.get(check.name) ?? 0;
    const consecutiveFailures =
      check.result === 'fail' ? before + 1 : check.result === 'inconclusive' ? before : 0;
    streaks.set(check.name, consecutiveFailures);
    return { ...check, consecutiveFailures };
  });
  return { checks: counted, streaks };
}

function read(value: number | (() => number)): number {
  return typeof value === 'function' ? value() : value;
}

/** Removes every §8 SLO series of one SLO (after a reload removed or renamed it, or renamed the service). */
function removeSloMetrics(metrics: Metrics, slo: string, service: string): void {
  const labels = { service, slo };
  metrics.sloValue.remove(labels);
  metrics.sloObjective.remove(labels);
  metrics.sloBaselineValue.remove(labels);
  metrics.sloErrorBudgetRemaining.remove(labels);
  for (const result of OUTCOMES) metrics.sloResult.remove({ ...labels, result });
  for (const window of BURN_WINDOW_NAMES) metrics.sloBurnRate.remove({ ...labels, window });
}

export interface ContinuousEvaluator {
  /** Runs until `signal` aborts; resolves then. */
  run(signal: AbortSignal): Promise<void>;
  /** One evaluation now (also what each tick does). */
  evaluateOnce(signal?: AbortSignal): Promise<SloState[]>;
  /** The latest state of every SLO, for GET /api/v1/slos. */
  getStates(): SloState[];
  /**
   * After a reload: drops the state, failure streaks and metric series of every SLO that `slos()` no
   * longer lists (removed or renamed), at once rather than at the next tick. Returns their names.
   */
  forgetRemoved(): string[];
}

/**
 * Creates the continuous evaluation loop.
 *
 * @example
 *   const continuous = createContinuousEvaluator({ slos: () => config.slos, sources, clock, metrics, logger,
 *     intervalMs: 60_000, windowMs: 300_000, vars: () => ({ service: 'prep-api' }) });
 *   void continuous.run(shutdown.signal);
 */
export function createContinuousEvaluator(deps: ContinuousDeps): ContinuousEvaluator {
  let states: SloState[] = [];
  let streaks = new Map<string, number>();
  /** The `service` label of the series written last: a reload that renames the service drops them. */
  let exportedService: string | undefined;

  async function evaluateOnce(signal?: AbortSignal): Promise<SloState[]> {
    const at = deps.clock.now();
    const slos = deps.slos();
    const windowMs = read(deps.windowMs);
    const ctx: EvaluationContext = {
      sources: deps.sources,
      at,
      deployedAt: deps.lastDeployAt?.() ?? at - windowMs,
      windowMs,
      vars: deps.vars(),
    };
    if (deps.snapshots !== undefined) ctx.snapshots = deps.snapshots;
    if (signal !== undefined) ctx.signal = signal;
    const counted = countFailureStreaks(streaks, await evaluateChecks(slos, ctx));
    const checks = counted.checks;
    streaks = counted.streaks;
    if (exportedService !== undefined && exportedService !== ctx.vars.service)
      for (const s of states) removeSloMetrics(deps.metrics, s.slo, exportedService);
    states = toSloStates(slos, checks);
    exportSloMetrics(deps.metrics, states, ctx.vars.service);
    exportedService = ctx.vars.service;
    // A reload during this evaluation: what it found about SLOs that are gone now must not linger.
    if (deps.slos() !== slos) forgetRemoved();
    try {
      deps.onEvaluation?.(states, checks);
    } catch (error) {
      deps.logger.error({ err: errorMessage(error) }, 'continuous evaluation listener failed');
    }
    return states;
  }

  async function run(signal: AbortSignal): Promise<void> {
    const phaseMs = read(deps.phaseMs ?? 0);
    if (phaseMs > 0) {
      try {
        await deps.clock.sleep(phaseMs, signal);
      } catch {
        return;
      }
    }
    let startedAt = deps.clock.now();
    let intervalMs = read(deps.intervalMs);
    let tick = 0;
    while (!signal.aborted) {
      try {
        await evaluateOnce(signal);
      } catch (error) {
        if (signal.aborted) break;
        deps.logger.error({ err: errorMessage(error) }, 'continuous SLO evaluation failed');
      }
      // Next aligned tick strictly in the future: an overrun skips ticks instead of bunching them.
      const nextIntervalMs = read(deps.intervalMs);
      if (nextIntervalMs !== intervalMs) {
        // A reload changed the interval: the ticks start again from this evaluation.
        intervalMs = nextIntervalMs;
        startedAt = deps.clock.now();
        tick = 0;
      }
      tick = Math.max(tick + 1, Math.floor((deps.clock.now() - startedAt) / intervalMs) + 1);
      try {
        await deps.clock.sleep(startedAt + tick * intervalMs - deps.clock.now(), signal);
      } catch {
        break;
      }
    }
  }

  function forgetRemoved(): string[] {
    const current = new Set(deps.slos().map((slo) => slo.name));
    const removed = states.filter((s) => !current.has(s.slo)).map((s) => s.slo);
    states = states.filter((s) => current.has(s.slo));
    if (exportedService !== undefined)
      for (const slo of removed) removeSloMetrics(deps.metrics, slo, exportedService);
    const checkNames = new Set([...current].flatMap((name) => [name, burnCheckName(name)]));
    streaks = new Map([...streaks].filter(([name]) => checkNames.has(name)));
    return removed;
  }

  return { run, evaluateOnce, getStates: () => states, forgetRemoved };
}
