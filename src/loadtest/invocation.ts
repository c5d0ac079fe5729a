import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { LoadProfileConfig } from '../config/schema.js';
import { formatDuration } from '../config/units.js';

/**
 * How one k6 run is invoked: arguments, environment, deadline and the profile's fingerprint. Pure.
 */

/** Variables the daemon sets itself; a profile's `env` cannot override them. */
const RESERVED_ENV = ['BASE_URL', 'VIGIL_SUMMARY_PATH'] as const;

/** Files k6 writes into the run's temp dir. */
export function summaryPaths(workDir: string): { exportPath: string; handleSummaryPath: string } {
  return {
    exportPath: join(workDir, 'summary.json'),
    handleSummaryPath: join(workDir, 'handle-summary.json'),
  };
}

/** Without duration or timeout the script decides how long it runs; this bounds it anyway. */
export const DEFAULT_DEADLINE_MS = 60 * 60_000;
const DEADLINE_SLACK_MS = 2 * 60_000;

/**
 * The hard deadline of a run: the profile's `timeout`, else its duration plus 2 minutes (k6's
 * gracefulStop, setup and teardown), else one hour.
 *
 * @example deadlineFor({ script: 'smoke.js', duration: 30_000, env: {} }) // 150_000
 */
export function deadlineFor(profile: LoadProfileConfig): number {
  if (profile.timeout !== undefined) return profile.timeout;
  if (profile.duration !== undefined) return profile.duration + DEADLINE_SLACK_MS;
  return DEFAULT_DEADLINE_MS;
}

export interface K6Invocation {
  args: string[];
  env: Record<string, string>;
  /** Profile env keys dropped because the daemon owns them. */
  ignoredEnv: string[];
}

/**
 * Builds `k6 run …`. The target comes only from the daemon's configured base URL. The profile's `env`
 * (API tokens, typically `${VAR}` from the environment) goes into the child's environment, not its
 * arguments, so secrets never show in `ps`; k6 exposes system variables as `__ENV` by default.
 *
 * @example buildInvocation({ profile, scriptPath, targetBaseUrl, workDir, apiPort: 6565, baseEnv: { PATH } }).args
 */
export function buildInvocation(options: {
  profile: LoadProfileConfig;
  scriptPath: string;
  targetBaseUrl: string;
  workDir: string;
  apiPort: number;
  baseEnv: Record<string, string>;
}): K6Invocation {
  const { profile } = options;
  const { exportPath, handleSummaryPath } = summaryPaths(options.workDir);
  const baseUrl = options.targetBaseUrl.replace(/\/+$/, '');
  const args = [
    'run',
    '--no-color',
    '--no-usage-report',
    '--quiet',
    '--summary-export',
    exportPath,
    // p(99) is not among k6's default trend stats (REFERENCE §4.1).
    '--summary-trend-stats',
    'avg,min,med,max,p(90),p(95),p(99)',
    '--address',
    `127.0.0.1:${options.apiPort}`,
  ];
  if (profile.vus !== undefined) args.push('--vus', String(profile.vus));
  if (profile.duration !== undefined) args.push('--duration', formatDuration(profile.duration));
  if (profile.iterations !== undefined) args.push('--iterations', String(profile.iterations));
  args.push('-e', `BASE_URL=${baseUrl}`);
  args.push('-e', `VIGIL_SUMMARY_PATH=${handleSummaryPath}`);
  args.push(options.scriptPath);

  const ignoredEnv: string[] = [];
  const env: Record<string, string> = { ...options.baseEnv };
  const owned: Record<(typeof RESERVED_ENV)[number], string> = {
    BASE_URL: baseUrl,
    VIGIL_SUMMARY_PATH: handleSummaryPath,
  };
  for (const [key, value] of Object.entries(profile.env)) {
    if (!(key in owned)) env[key] = value;
    // Repeating the target's own URL is harmless; anything else is worth a warning.
    else if (owned[key as keyof typeof owned] !== value.replace(/\/+$/, '')) ignoredEnv.push(key);
  }
  env.K6_NO_USAGE_REPORT = 'true';
  return { args, env, ignoredEnv };
}

/**
 * Identifies a profile definition: runs are only compared with runs of the same script text and the
 * same vus/duration/iterations. Env values are left out (they hold secrets and rotate).
 *
 * @example profileFingerprint(profile, scriptText) // 'a1b2c3d4e5f60718'
 */
export function profileFingerprint(profile: LoadProfileConfig, scriptText: string): string {
  const shape = JSON.stringify({
    script: scriptText,
    vus: profile.vus ?? null,
    duration: profile.duration ?? null,
    iterations: profile.iterations ?? null,
    env: Object.keys(profile.env).sort(),
  });
  return createHash('sha256').update(shape).digest('hex').slice(0, 16);
}
