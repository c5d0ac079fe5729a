import type { SloConfig } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
import type { SliSource } from '../sources/types.js';
import type { Judgement } from './objective.js';

/*
 * Which data a check judges (DESIGN §6 "post-deploy data only"). During a watch every window that judges
 * the new version — `{{window}}`, the range of Mann-Whitney samples, each burn-rate window — starts no
 * earlier than the deploy: a window reaching back before it mixes the old version's traffic into the new
 * one's verdict (a hotfix would fail on the errors it fixed, a regression would be diluted by the calm
 * before it). With less than `minWindow` of post-deploy data the check is warming up: inconclusive, and
 * not blind. Pure: times in, windows and judgements out.
 */

/** Assumed when a source does not say: Prometheus's default scrape interval; the probes' rollups are per minute. */
export const DEFAULT_SCRAPE_INTERVAL_MS = {
  prometheus: 15_000,
  loki: 15_000,
  probes: 60_000,
} as const satisfies Record<SliSource['kind'], number>;

/** One window of data judged at an evaluation. */
export interface JudgedWindow {
  /** The configured length (`{{window}}`, the SLO's `window`, or a burn window), ms. */
  configuredMs: number;
  /** The length actually judged, ms: the configured one, or (clamped) the whole seconds since the deploy. */
  lengthMs: number;
  /** True when the deploy cut the window short. */
  clamped: boolean;
  /** What `{{window}}` renders as: `5m` as configured, whole seconds (`90s`) when clamped. */
  text: string;
  /** ms since epoch */
  from: number;
  /** ms since epoch: the evaluation time. */
  to: number;
}

/** What a window needs to know about the evaluation. */
export interface WindowTimes {
  at: number;
  deployedAt: number;
  /** True during a watch: windows are clamped to the deploy. */
  postDeployOnly?: boolean;
}

/**
 * The window of `configuredMs` ending at `at`, clamped to start no earlier than the deploy when
 * `postDeployOnly`. A clamped length is cut to whole seconds — PromQL and LogQL take `[90s]`, and the
 * range then starts at or after the deploy, never a fraction of a second before it.
 *
 * @example judgedWindow(300_000, { at: 90_500, deployedAt: 0, postDeployOnly: true }) // { lengthMs: 90_000, text: '90s', clamped: true, … }
 */
export function judgedWindow(configuredMs: number, times: WindowTimes): JudgedWindow {
  const full = {
    configuredMs,
    lengthMs: configuredMs,
    clamped: false,
    text: formatDuration(configuredMs),
    from: times.at - configuredMs,
    to: times.at,
  };
  if (times.postDeployOnly !== true) return full;
  const sinceDeploySeconds = Math.floor(Math.max(0, times.at - times.deployedAt) / 1000);
  const lengthMs = sinceDeploySeconds * 1000;
  if (lengthMs >= configuredMs) return full;
  return {
    configuredMs,
    lengthMs,
    clamped: true,
    text: `${sinceDeploySeconds}s`,
    from: times.at - lengthMs,
    to: times.at,
  };
}

/**
 * The post-deploy data a check needs before it judges: the SLO's `minWindow`, else the watch's, else two
 * points of its source (2 × scrapeInterval): a rate over fewer than two points is no rate at all.
 *
 * @example minWindowMs(slo, undefined, prometheus) // 30_000 with the default 15 s scrape interval
 */
export function minWindowMs(
  slo: Pick<SloConfig, 'minWindow' | 'source'>,
  watchMinWindowMs: number | undefined,
  source: Pick<SliSource, 'scrapeIntervalMs'> | undefined,
): number {
  return (
    slo.minWindow ??
    watchMinWindowMs ??
    2 * (source?.scrapeIntervalMs ?? DEFAULT_SCRAPE_INTERVAL_MS[slo.source])
  );
}

/**
 * The warm-up judgement while less than `minMs` has passed since the deploy, else undefined. Inconclusive,
 * never pass or fail: there is nothing of the new version to judge yet.
 *
 * @example warmUp({ at: 20_000, deployedAt: 0, postDeployOnly: true }, 60_000)?.explanation // 'not enough post-deploy data (20s of 1m)'
 */
export function warmUp(times: WindowTimes, minMs: number): Judgement | undefined {
  if (times.postDeployOnly !== true) return undefined;
  const sinceDeployMs = Math.max(0, times.at - times.deployedAt);
  // Whatever minWindow says, a window under a second cannot be queried (`[0s]` is an error).
  if (sinceDeployMs >= Math.max(minMs, 1000)) return undefined;
  const shown = formatDuration(Math.floor(sinceDeployMs / 1000) * 1000);
  return {
    result: 'inconclusive',
    explanation: `not enough post-deploy data (${shown} of ${formatDuration(minMs)})`,
  };
}

/**
 * The `range` of a check result: ISO 8601 bounds of the window it judged.
 *
 * @example rangeOf({ from: 0, to: 90_000 }) // { from: '1970-01-01T00:00:00.000Z', to: '1970-01-01T00:01:30.000Z' }
 */
export function rangeOf(window: Pick<JudgedWindow, 'from' | 'to'>): { from: string; to: string } {
  return { from: new Date(window.from).toISOString(), to: new Date(window.to).toISOString() };
}

/**
 * The judged range in words, for explanations: `over the 3m since the deploy` when clamped, else the
 * times (`over 10:02:00–10:07:00Z`, with dates when the range crosses midnight UTC).
 *
 * @example describeWindow(judgedWindow(300_000, { at: Date.parse('2026-11-27T10:07:00Z'), deployedAt: 0 })) // 'over 10:02:00–10:07:00Z'
 */
export function describeWindow(window: JudgedWindow): string {
  if (window.clamped) return `over the ${formatDuration(window.lengthMs)} since the deploy`;
  const from = new Date(window.from).toISOString();
  const to = new Date(window.to).toISOString();
  if (from.slice(0, 10) !== to.slice(0, 10)) return `over ${from.slice(0, 19)}Z–${to.slice(0, 19)}Z`;
  return `over ${from.slice(11, 19)}–${to.slice(11, 19)}Z`;
}
