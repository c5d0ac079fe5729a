import type { ProbeConfig } from '../config/schema.js';
import type { CheckResult } from '../evaluator/types.js';
import type { ProbeState } from '../prober/state.js';
import type { ProbeResult } from '../prober/types.js';

/**
 * Turns the settled state of each synthetic probe into a bake check: `down` (failureThreshold consecutive
 * failures) fails, `up` passes, no run yet is inconclusive. The explanation carries the last failure.
 *
 * @example syntheticProbeChecks(config.probes, scheduler.states(), scheduler.latest(), Date.now())
 */
export function syntheticProbeChecks(
  probes: readonly ProbeConfig[],
  states: Readonly<Record<string, ProbeState>>,
  latest: readonly ProbeResult[],
  at: number,
): CheckResult[] {
  const byName = new Map(latest.map((r) => [r.probe, r]));
  return probes
    .filter((p) => p.kind === 'synthetic')
    .map((probe): CheckResult => {
      const state = states[probe.name];
      const last = byName.get(probe.name);
      const base = {
        name: `probe:${probe.name}`,
        kind: 'probe' as const,
        value: last ? (last.success ? 1 : 0) : null,
        objective: null,
        baseline: null,
        samples: state ? state.consecutiveFailures + state.consecutiveSuccesses : 0,
        query: null,
        consecutiveFailures: state?.consecutiveFailures ?? 0,
        evaluatedAt: new Date(at).toISOString(),
      };
      if (!state || state.health === 'unknown' || !last) {
        return { ...base, result: 'inconclusive', explanation: `journey ${probe.name} has not settled yet` };
      }
      if (state.health === 'down' && last.success) {
        // Down until successThreshold successes in a row: a first success alone does not clear it.
        return {
          ...base,
          result: 'fail',
          explanation:
            `journey ${probe.name} is down: ${state.consecutiveSuccesses} of ${probe.successThreshold} ` +
            'successes needed to recover',
        };
      }
      if (state.health === 'down') {
        const why = last.failure ? `${last.failure.class}: ${last.failure.message}` : 'failed';
        return {
          ...base,
          result: 'fail',
          explanation: `journey ${probe.name} failed ${state.consecutiveFailures} runs in a row (${why})`,
        };
      }
      if (!last.success) {
        // Up until failureThreshold failures in a row: one blip is reported, not counted against the deploy.
        const why = last.failure ? `${last.failure.class}: ${last.failure.message}` : 'failed';
        return {
          ...base,
          result: 'pass',
          explanation:
            `journey ${probe.name} still up: last run failed (${why}), ${state.consecutiveFailures} of ` +
            `${probe.failureThreshold} failures before it counts as down`,
        };
      }
      return {
        ...base,
        result: 'pass',
        explanation: `journey ${probe.name} passing (last run ${last.durationMs.toFixed(0)} ms)`,
      };
    });
}
