import type { SmokeProbeConfig } from '../config/schema.js';
import type { PreparedProbe, RunContext, RunnerOutcome } from './prepare.js';
import { runStep } from './steps.js';

/**
 * Runs a smoke probe: one request and its assertions, timed by phase.
 *
 * @example const outcome = await runSmoke(prepareProbe(healthProbe, target), { now: Date.now });
 */
export async function runSmoke(probe: PreparedProbe, ctx: RunContext): Promise<RunnerOutcome> {
  const config = probe.config as SmokeProbeConfig;
  const step = { request: config.request, expect: config.expect };
  const { result } = await runStep(probe, step, probe.name, {}, ctx, config.timeout);
  return {
    durationMs: result.durationMs,
    phases: result.phases,
    failure: result.failure,
    assertions: result.assertions,
    steps: [],
    ...(result.status !== undefined ? { status: result.status } : {}),
    ...(result.tls ? { tls: result.tls } : {}),
    ...(result.bodyTruncated ? { bodyTruncated: true } : {}),
  };
}
