import { ConstantBackoff, handleWhenResult, retry } from 'cockatiel';
import type { ProbeConfig } from '../config/schema.js';
import type { Metrics } from '../telemetry/metrics.js';
import { PROBE_PHASES } from '../telemetry/probe-series.js';
import type { PreparedProbe, RunContext, Runner, RunnerOutcome } from './prepare.js';
import { runSmoke } from './smoke.js';
import { runJourney } from './steps.js';
import type { JudgeTurns } from './turns.js';
import { NETWORK_FAILURE_CLASSES, type ProbeResult, type RetriedAttempt } from './types.js';

/** One runner per probe kind; the compiler refuses a kind without one. */
export const RUNNERS = {
  smoke: runSmoke,
  synthetic: runJourney,
} satisfies Record<ProbeConfig['kind'], Runner>;

/** The probe metrics a run updates (a subset of createMetrics, so tests can pass the real thing). */
export type ProbeMetrics = Pick<Metrics, 'probes' | 'probePhaseDuration'>;

export interface ProbeRunDeps {
  /** Wall clock (ms since epoch), from the injected Clock. */
  now: () => number;
  signal?: AbortSignal;
  metrics?: ProbeMetrics;
  /** The `service` label of the probe series (the config's `service`). */
  service?: string;
  /** Pause between in-run retries; default 100 ms. */
  retryDelayMs?: number;
  /** Where finished exchanges wait to be judged, one per check phase (the daemon shares one). */
  turns?: JudgeTurns;
}

function isNetworkFailure(outcome: unknown): boolean {
  const failure = (outcome as RunnerOutcome).failure;
  return failure !== null && NETWORK_FAILURE_CLASSES.has(failure.class);
}

/**
 * Runs one probe once: its kind's runner, in-run retries for network-class failures only (each failed
 * attempt kept in `retried`), then success and duration, and the DESIGN §8 metrics.
 * The reported duration and phases are those of the last attempt, so they stay one user's experience.
 *
 * @example
 *   const result = await runProbe(prepareProbe(config, { baseUrl }), { now: clock.now.bind(clock), metrics });
 *   result.success // true
 */
export async function runProbe(probe: PreparedProbe, deps: ProbeRunDeps): Promise<ProbeResult> {
  const startedAt = deps.now();
  const ctx: RunContext = {
    now: deps.now,
    ...(deps.signal ? { signal: deps.signal } : {}),
    ...(deps.turns ? { turns: deps.turns } : {}),
  };
  const attempts: { outcome: RunnerOutcome; durationMs: number }[] = [];
  const attempt = async (): Promise<RunnerOutcome> => {
    const started = performance.now();
    const outcome = await RUNNERS[probe.kind](probe, ctx);
    attempts.push({ outcome, durationMs: outcome.durationMs ?? performance.now() - started });
    return outcome;
  };
  if (probe.config.retries > 0) {
    const policy = retry(handleWhenResult(isNetworkFailure), {
      maxAttempts: probe.config.retries,
      backoff: new ConstantBackoff(deps.retryDelayMs ?? 100),
    });
    try {
      await policy.execute(attempt, deps.signal);
    } catch {
      // Cancelled (shutdown): the last attempt made is the answer; with none made, one that ends at
      // once on the aborted signal gives a result of class timeout instead of an exception.
      if (attempts.length === 0) await attempt();
    }
  } else {
    await attempt();
  }
  const last = attempts.at(-1) as { outcome: RunnerOutcome; durationMs: number };
  const retried: RetriedAttempt[] = attempts
    .slice(0, -1)
    .flatMap(({ outcome, durationMs }) =>
      outcome.failure ? [{ failure: outcome.failure, durationMs }] : [],
    );
  const { durationMs: _measured, ...outcome } = last.outcome;
  // Keys in the order of the DESIGN §2 example, for readers of `vigil probe --json`.
  const result: ProbeResult = {
    probe: probe.name,
    kind: probe.kind,
    success: outcome.failure === null,
    startedAt: new Date(startedAt).toISOString(),
    durationMs: last.durationMs,
    ...outcome,
    attempts: attempts.length,
    ...(retried.length > 0 ? { retried } : {}),
  };
  if (deps.metrics) recordProbeMetrics(deps.metrics, result, deps.service);
  return roundTimings(result);
}

/** Microsecond precision is all a timing means; more digits only bloat the JSON. */
function roundTimings(result: ProbeResult): ProbeResult {
  const r = (n: number): number => Math.round(n * 1000) / 1000;
  const p = result.phases;
  return {
    ...result,
    durationMs: r(result.durationMs),
    phases: {
      dnsMs: r(p.dnsMs),
      connectMs: r(p.connectMs),
      tlsMs: r(p.tlsMs),
      ttfbMs: r(p.ttfbMs),
      transferMs: r(p.transferMs),
    },
    steps: result.steps.map(roundTimings),
    ...(result.retried
      ? { retried: result.retried.map((a) => ({ ...a, durationMs: r(a.durationMs) })) }
      : {}),
  };
}

/**
 * Updates the probe metrics of DESIGN §8 from one result: the probe's last-run gauges and run counter
 * (kept as ready text, so a scrape of 10k probes stays cheap) and the aggregate phase histogram.
 * Labels stay bounded: service, probe name, kind, result and failure class, never a URL or message.
 *
 * @example recordProbeMetrics(metrics, result, 'prep-api')
 */
export function recordProbeMetrics(metrics: ProbeMetrics, result: ProbeResult, service?: string): void {
  const p = result.phases;
  const phaseSeconds = {
    dns: p.dnsMs / 1000,
    connect: p.connectMs / 1000,
    tls: p.tlsMs / 1000,
    ttfb: p.ttfbMs / 1000,
    transfer: p.transferMs / 1000,
    total: result.durationMs / 1000,
  };
  metrics.probes.record({
    service,
    probe: result.probe,
    kind: result.kind,
    success: result.success,
    failureClass: result.failure?.class ?? 'none',
    phaseSeconds,
    ...(result.tls ? { certExpiresAt: Math.floor(result.tls.chainExpiresAt / 1000) } : {}),
  });
  // Label objects written out, not spread from a shared `{ service }`: prom-client walks each one with
  // for…in to validate it, and a spread object's keys are enumerated on V8's slow path (about 17 µs of
  // the ~23 µs this function cost per run, measured with --cpu-prof on a loop of it).
  const kind = result.kind;
  for (const phase of PROBE_PHASES)
    metrics.probePhaseDuration.observe(
      service === undefined ? { kind, phase } : { service, kind, phase },
      phaseSeconds[phase],
    );
}
