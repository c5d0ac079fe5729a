import type { ServiceConfig } from '../config/schema.js';
import { burnCheckName } from '../evaluator/burn-check.js';
import type { WatchSettings } from '../watch/types.js';
import { probesJudgedInBake } from './probe-checks.js';

/**
 * A service's watch settings from its `watch:` section, in milliseconds; smoke attempts are retried at
 * the shortest smoke probe interval.
 *
 * @example new WatchManager(deps, watchSettings(config))
 */
export function watchSettings(config: ServiceConfig): WatchSettings {
  const w = config.root.watch;
  const smokeIntervals = config.probes.filter((p) => p.kind === 'smoke').map((p) => p.interval);
  return {
    durationMs: w.duration,
    phases: w.phases,
    ...(w.loadProfile !== undefined ? { loadProfile: w.loadProfile } : {}),
    evaluationIntervalMs: w.evaluationInterval,
    smokeTimeoutMs: w.smokeTimeout,
    failureLimit: w.failureLimit,
    inconclusiveLimitMs: w.inconclusiveLimit,
    ...(w.initialDelay !== undefined ? { initialDelayMs: w.initialDelay } : {}),
    smokeRetryMs: smokeIntervals.length > 0 ? Math.min(...smokeIntervals) : 15_000,
    onBlind: w.onBlind,
    enforce: w.enforce,
    holdTimeoutMs: w.holdTimeout,
    onHoldTimeout: w.onHoldTimeout,
    onLoadInconclusive: config.root.loadtests?.onInconclusive ?? 'inconclusive',
  };
}

/**
 * The names of the checks a watch's bake judges: each SLO's main check (objective, warn or baseline),
 * its burn-rate check (target and budgetWindow), and `probe:<name>` for each probe judged in the bake.
 * A bake with none is refused at watch start (DESIGN §6).
 *
 * @example bakeCheckNames(config) // ['error-rate', 'error-rate:burn-rate', 'p95-latency', 'probe:health']
 */
export function bakeCheckNames(config: ServiceConfig): string[] {
  const slos = config.slos.flatMap((slo) => [
    ...(slo.objective !== undefined || slo.warn !== undefined || slo.baseline !== undefined
      ? [slo.name]
      : []),
    ...(slo.target !== undefined && slo.budgetWindow !== undefined && slo.burnRate
      ? [burnCheckName(slo.name)]
      : []),
  ]);
  const probes = probesJudgedInBake(config.probes, config.root.watch.probes, config.root.target.baseUrl);
  return [...slos, ...probes.map((p) => `probe:${p.name}`)];
}
