import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { LeadershipStatus } from '../store/port.js';

/** State of one dependency in `/health` (DESIGN §3). */
export type CheckStatus = 'ok' | 'down' | 'disabled';

/** One dependency's entry in `/health`: `{"status","latencyMs"?,"error"?}`. */
export interface CheckOutcome {
  status: CheckStatus;
  latencyMs?: number;
  error?: string;
}

/**
 * Probes one dependency. It must honour `signal` (aborted at the reporter's deadline); throwing counts
 * as `down` with the error's message, and the reporter measures latency when the check does not.
 */
export type HealthCheck = (signal: AbortSignal) => Promise<CheckOutcome>;

/** The checks to run, by name; `'disabled'` for a dependency the config leaves out. */
export type HealthChecks = Record<string, HealthCheck | 'disabled'>;

/** The `/health` body. `down` only when a critical check (the store) is down; 503 then. */
export interface HealthReport {
  status: 'ok' | 'degraded' | 'down';
  checks: Record<string, CheckOutcome>;
  /** Configuration that works but weakens Vigil, e.g. no rollback target; any warning makes it `degraded`. */
  warnings?: string[];
  /** ISO 8601 time the checks ran (cached answers keep the original time). */
  checkedAt: string;
}

/**
 * The `leader` entry of `/health` with replicas (DESIGN §13): whether this instance leads and, when it
 * follows, which instance leads (null while unknown or none) and why it does not. Always `ok`: following
 * is normal, and a store that cannot be reached shows as the `store` check and in `/ready`.
 */
export interface LeaderOutcome extends CheckOutcome {
  status: 'ok';
  leader: boolean;
  instance: string;
  leaderInstance?: string | null;
  reason?: string;
}

/**
 * The `leader` entry for a leadership status.
 *
 * @example leaderOutcome({ leader: false, instance: 'b', leaderInstance: 'a', reason: 'another replica leads' })
 *   // { status: 'ok', leader: false, instance: 'b', leaderInstance: 'a', reason: 'another replica leads' }
 */
export function leaderOutcome(status: LeadershipStatus): LeaderOutcome {
  if (status.leader) return { status: 'ok', leader: true, instance: status.instance };
  return {
    status: 'ok',
    leader: false,
    instance: status.instance,
    leaderInstance: status.leaderInstance === '' ? null : status.leaderInstance,
    ...(status.reason ? { reason: sanitizeCheckError(status.reason) } : {}),
  };
}

export interface HealthReporter {
  /** The latest report, refreshed at most once per cache period; concurrent callers share one refresh. */
  report(): Promise<HealthReport>;
}

export interface HealthReporterOptions {
  clock: Clock;
  /** Read at each refresh, so a config reload changes what is checked. */
  checks: () => HealthChecks;
  /** Names whose failure makes the whole report `down`; default `['store']`. */
  critical?: readonly string[];
  /** How long a report is reused; default 5 s, so scrapes of `/health` never hammer dependencies. */
  cacheMs?: number;
  /** Deadline of each check; default 2 s. */
  deadlineMs?: number;
  /** Read at each refresh. */
  warnings?: () => string[];
}

const MAX_ERROR_LENGTH = 300;

/** Keeps an error message fit for an unauthenticated answer: no URL credentials, bounded length. */
export function sanitizeCheckError(message: string): string {
  const cleaned = message
    .replace(/\/\/[^/@\s]+@/g, '//[redacted]@')
    .replace(
      /([?&](?:token|access_token|api_key|apikey|key|secret|password|sig|signature)=)[^&\s]+/gi,
      '$1[redacted]',
    );
  return cleaned.length > MAX_ERROR_LENGTH ? `${cleaned.slice(0, MAX_ERROR_LENGTH)}…` : cleaned;
}

async function runCheck(check: HealthCheck, clock: Clock, deadlineMs: number): Promise<CheckOutcome> {
  const controller = new AbortController();
  const startedAt = clock.now();
  const deadline = clock.sleep(deadlineMs, controller.signal).then(
    (): CheckOutcome => {
      controller.abort(new Error(`no answer within ${deadlineMs} ms`));
      return { status: 'down', latencyMs: deadlineMs, error: `no answer within ${deadlineMs} ms` };
    },
    // The sleep is cancelled when the check finishes first; that rejection means nothing.
    (): CheckOutcome => ({ status: 'down' }),
  );
  const outcome = check(controller.signal).then(
    (result): CheckOutcome => ({ ...result, latencyMs: result.latencyMs ?? clock.now() - startedAt }),
    (error: unknown): CheckOutcome => ({
      status: 'down',
      latencyMs: clock.now() - startedAt,
      error: errorMessage(error),
    }),
  );
  try {
    const result = await Promise.race([outcome, deadline]);
    return result.error === undefined ? result : { ...result, error: sanitizeCheckError(result.error) };
  } finally {
    controller.abort();
  }
}

/**
 * Combines check outcomes into the report status: `down` when a critical check is down, `degraded` when
 * any other enabled check is down or there are warnings, else `ok`.
 *
 * @example overallStatus({ store: { status: 'ok' }, loki: { status: 'down' } }, ['store'], []) // 'degraded'
 */
export function overallStatus(
  checks: Record<string, CheckOutcome>,
  critical: readonly string[],
  warnings: readonly string[],
): HealthReport['status'] {
  const down = Object.entries(checks).filter(([, outcome]) => outcome.status === 'down');
  if (down.some(([name]) => critical.includes(name))) return 'down';
  if (down.length > 0 || warnings.length > 0) return 'degraded';
  return 'ok';
}

/**
 * Runs the registered dependency checks in parallel, each under its own deadline, and caches the
 * report for `cacheMs` of the injected clock.
 *
 * @example
 *   const health = createHealthReporter({ clock: systemClock, checks: () => ({ store: storeCheck(store), k6: 'disabled' }) });
 *   const { status } = await health.report();
 */
export function createHealthReporter(options: HealthReporterOptions): HealthReporter {
  const { clock } = options;
  const cacheMs = options.cacheMs ?? 5_000;
  const deadlineMs = options.deadlineMs ?? 2_000;
  const critical = options.critical ?? ['store'];
  let cached: { report: HealthReport; at: number } | undefined;
  let inflight: Promise<HealthReport> | undefined;

  async function refresh(): Promise<HealthReport> {
    const entries = Object.entries(options.checks());
    const outcomes = await Promise.all(
      entries.map(([, check]) =>
        check === 'disabled'
          ? Promise.resolve<CheckOutcome>({ status: 'disabled' })
          : runCheck(check, clock, deadlineMs),
      ),
    );
    const checks = Object.fromEntries(entries.map(([name], i) => [name, outcomes[i] as CheckOutcome]));
    const warnings = options.warnings?.() ?? [];
    const report: HealthReport = {
      status: overallStatus(checks, critical, warnings),
      checks,
      ...(warnings.length > 0 ? { warnings } : {}),
      checkedAt: new Date(clock.now()).toISOString(),
    };
    cached = { report, at: clock.now() };
    return report;
  }

  return {
    report(): Promise<HealthReport> {
      if (cached && clock.now() - cached.at < cacheMs) return Promise.resolve(cached.report);
      if (!inflight) {
        inflight = refresh().finally(() => {
          inflight = undefined;
        });
      }
      return inflight;
    },
  };
}
