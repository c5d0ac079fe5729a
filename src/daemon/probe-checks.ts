import type { ProbeConfig } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
import type { CheckResult } from '../evaluator/types.js';
import type { ProbeRollups, RollupWindow } from '../prober/rollups.js';
import type { ProbeState } from '../prober/state.js';
import type { ProbeResult } from '../prober/types.js';

/*
 * The probes a watch judges in its bake (DESIGN §4 `watch.probes`, §6): each one's settled state, but
 * only on evidence from after the deploy and only while the prober is still delivering results.
 */

/** Everything one evaluation of the bake's probe checks looks at. */
export interface ProbeCheckInput {
  /** Every configured probe. */
  probes: readonly ProbeConfig[];
  /** `watch.probes`: the probes judged; undefined means every probe aimed at the target. */
  judged: readonly string[] | undefined;
  /** `target.baseUrl`. */
  targetBaseUrl: string;
  /** Settled health per probe (the scheduler's `states()`). */
  states: Readonly<Record<string, ProbeState>>;
  /** The latest result per probe (the scheduler's `latest()`). */
  latest: readonly ProbeResult[];
  /** Evaluation time, ms since epoch. */
  at: number;
  /** The deploy (the watch's start), ms since epoch. */
  deployedAt: number;
  /** `watch.window`, ms. */
  windowMs: number;
  /** Per-minute run counts for the explanation and `samples`; without them both say less, same result. */
  rollups?: Pick<ProbeRollups, 'window'>;
}

const MINUTE_MS = 60_000;

function sameBase(a: string, b: string): boolean {
  const strip = (url: string): string => url.replace(/\/+$/, '');
  try {
    return strip(new URL(a).href) === strip(new URL(b).href);
  } catch {
    return false;
  }
}

function sameOrigin(url: string, base: string): boolean {
  try {
    return new URL(url).origin === new URL(base).origin;
  } catch {
    // A URL whose origin is a template cannot be shown to be the target.
    return false;
  }
}

/**
 * Whether every request of a probe goes to the target: no probe-level `baseUrl` other than the target's,
 * and no request (steps and teardown included) with an absolute `url` on another origin.
 *
 * @example aimsAtTarget(probeSchema.parse({ name: 'h', kind: 'smoke', request: { path: '/health' } }), 'http://svc') // true
 */
export function aimsAtTarget(probe: ProbeConfig, targetBaseUrl: string): boolean {
  if (probe.baseUrl !== undefined && !sameBase(probe.baseUrl, targetBaseUrl)) return false;
  const requests =
    probe.kind === 'smoke' ? [probe.request] : [...probe.steps, ...probe.teardown].map((s) => s.request);
  return requests.every((request) => request.url === undefined || sameOrigin(request.url, targetBaseUrl));
}

/**
 * The probes a watch judges in its bake, in configuration order: those named in `watch.probes`, or by
 * default every probe (smoke or synthetic) aimed at `target.baseUrl` — a probe of a partner API or a
 * CDN says nothing about this deploy.
 *
 * @example probesJudgedInBake(config.probes, config.root.watch.probes, config.root.target.baseUrl)
 */
export function probesJudgedInBake(
  probes: readonly ProbeConfig[],
  judged: readonly string[] | undefined,
  targetBaseUrl: string,
): ProbeConfig[] {
  if (judged !== undefined) {
    const wanted = new Set(judged);
    return probes.filter((p) => wanted.has(p.name));
  }
  return probes.filter((p) => aimsAtTarget(p, targetBaseUrl));
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

function clockTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 19)} UTC`;
}

/** When a result arrived: a long journey's result is as old as its end, not its start. */
function finishedAt(result: ProbeResult): number {
  return Date.parse(result.startedAt) + result.durationMs;
}

function why(result: ProbeResult): string {
  return result.failure ? `${result.failure.class}: ${result.failure.message}` : 'failed';
}

/** The range a probe check judges: [max(at − window, deployedAt), at]. */
function rangeFrom(input: ProbeCheckInput): number {
  return Math.max(input.at - input.windowMs, input.deployedAt);
}

/**
 * Where the probe's runs are counted from. A rollup minute holds every run that started in it:
 * count from the minute the range starts in, or from the next one when that minute began before the
 * deploy, so the old version's runs never count.
 */
function countFromOf(input: ProbeCheckInput): number {
  const firstMinute = Math.floor(rangeFrom(input) / MINUTE_MS) * MINUTE_MS;
  return firstMinute >= input.deployedAt ? firstMinute : firstMinute + MINUTE_MS;
}

/** The probe's runs over the check's range, from the rollups. */
async function countedRuns(probe: ProbeConfig, input: ProbeCheckInput): Promise<RollupWindow | undefined> {
  const countFrom = countFromOf(input);
  return input.rollups && countFrom < input.at
    ? input.rollups.window(probe.name, countFrom, input.at)
    : undefined;
}

function probeCheck(
  probe: ProbeConfig,
  input: ProbeCheckInput,
  last: ProbeResult | undefined,
  counted: RollupWindow | undefined,
): CheckResult {
  const { at, deployedAt } = input;
  const from = rangeFrom(input);
  const staleAfterMs = 2 * probe.interval;
  const every = `runs every ${formatDuration(probe.interval)}`;
  const base = {
    name: `probe:${probe.name}`,
    kind: 'probe' as const,
    value: null,
    objective: null,
    baseline: null,
    samples: counted?.total ?? null,
    query: null,
    // The watch's failure accounting owns the streak; the probe's own run streak is in the explanation.
    consecutiveFailures: 0,
    evaluatedAt: new Date(at).toISOString(),
    range: { from: new Date(from).toISOString(), to: new Date(at).toISOString() },
    ...(probe.enforce ? { enforce: probe.enforce } : {}),
    ...(probe.enforce === 'shadow' ? { shadow: true } : {}),
  };
  const inconclusive = (explanation: string, warmingUp: boolean): CheckResult => ({
    ...base,
    result: 'inconclusive',
    explanation,
    ...(warmingUp ? { warmingUp: true } : {}),
  });

  if (last === undefined || Date.parse(last.startedAt) < deployedAt) {
    // Results from before the deploy judged the old version. Missing post-deploy runs are warm-up only
    // while the probe has not yet been due twice since the deploy; after that the prober is late.
    const sinceDeployMs = at - deployedAt;
    if (sinceDeployMs <= staleAfterMs) {
      return inconclusive(
        `probe ${probe.name}: no run since the deploy yet (deployed ${seconds(sinceDeployMs)} ago, ${every})`,
        true,
      );
    }
    const silence = last
      ? `no result for ${seconds(at - finishedAt(last))}`
      : `no result since the deploy ${seconds(sinceDeployMs)} ago`;
    return inconclusive(
      `${silence}: prober late or stopped (probe ${probe.name} ${every}; none since the deploy)`,
      false,
    );
  }
  const ageMs = at - finishedAt(last);
  if (ageMs > staleAfterMs) {
    return inconclusive(
      `no result for ${seconds(ageMs)}: prober late or stopped (probe ${probe.name} ${every}; ` +
        `last run ${last.success ? 'passed' : 'failed'} at ${clockTime(Date.parse(last.startedAt))})`,
      false,
    );
  }

  const counts =
    counted && counted.total > 0
      ? `; ${counted.total - counted.successes} of ${counted.total} runs failed since ${clockTime(countFromOf(input))}`
      : '';
  const value = last.success ? 1 : 0;
  // Settling takes at most threshold runs; a probe still unsettled after that flaps, and is not warm-up.
  const settleMs = (Math.max(probe.failureThreshold, probe.successThreshold) + 1) * probe.interval;
  const state = input.states[probe.name];
  if (state === undefined || state.health === 'unknown') {
    const streak =
      (state?.consecutiveFailures ?? 0) > 0
        ? `${state?.consecutiveFailures} of ${probe.failureThreshold} failures in a row to call it down`
        : `${state?.consecutiveSuccesses ?? 0} of ${probe.successThreshold} successes in a row to call it up`;
    return {
      ...inconclusive(`probe ${probe.name} not settled yet: ${streak}${counts}`, at - deployedAt < settleMs),
      value,
    };
  }
  const recovering = `${state.consecutiveSuccesses} of ${probe.successThreshold} successes needed to recover`;
  if (state.health === 'down' && last.success && (state.changedAt ?? at) < deployedAt) {
    // Down since before the deploy and passing on the new version: the failures judged the old one. The
    // next run settles it (up, or down again on a post-deploy failure).
    return {
      ...inconclusive(
        `probe ${probe.name} down since before the deploy, passing now: ${recovering}${counts}`,
        at - deployedAt < settleMs,
      ),
      value,
    };
  }
  if (state.health === 'down') {
    const explanation = last.success
      ? `probe ${probe.name} down: ${recovering}`
      : `probe ${probe.name} down: failed ${state.consecutiveFailures} runs in a row (${why(last)})`;
    return { ...base, value, result: 'fail', explanation: `${explanation}${counts}` };
  }
  const explanation = last.success
    ? `probe ${probe.name} up: last run passed in ${last.durationMs.toFixed(0)} ms`
    : // Up until failureThreshold failures in a row: a blip is reported, not counted against the deploy.
      `probe ${probe.name} up: last run failed (${why(last)}), ${state.consecutiveFailures} of ` +
      `${probe.failureThreshold} failures before it counts as down`;
  return { ...base, value, result: 'pass', explanation: `${explanation}${counts}` };
}

/**
 * One bake check per judged probe (`probe:<name>`, kind `probe`, carrying the probe's `enforce`), over the
 * range [max(at − window, deployedAt), at]: `down` (failureThreshold failures in a row) fails, `up`
 * passes (a blip below the threshold is explained, not counted). No run since the deploy is warm-up
 * while the probe has not been due twice; a result older than 2 × interval is inconclusive (the prober
 * is late or stopped — blindness, never its last state).
 *
 * @example
 *   probeChecks({ probes: config.probes, judged: config.root.watch.probes,
 *     targetBaseUrl: config.root.target.baseUrl, states: scheduler.states(), latest: scheduler.latest(),
 *     at: context.at, deployedAt: context.deployedAt, windowMs: config.root.watch.window,
 *     rollups })   // awaited
 *   // [{ name: 'probe:health', kind: 'probe', result: 'pass', range: { from, to }, … }]
 */
export async function probeChecks(input: ProbeCheckInput): Promise<CheckResult[]> {
  const latest = new Map(input.latest.map((r) => [r.probe, r]));
  const judged = probesJudgedInBake(input.probes, input.judged, input.targetBaseUrl);
  const counts = await Promise.all(judged.map((probe) => countedRuns(probe, input)));
  return judged.map((probe, i) => probeCheck(probe, input, latest.get(probe.name), counts[i]));
}
