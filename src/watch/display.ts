import { formatDuration } from '../config/units.js';
import type { Verdict } from './types.js';

/*
 * The one-line summary of a watch the CLI prints (`vigil watch show`, overrides). The live output of
 * `vigil wait` is src/cli/live.ts. Pure: the CLI decides when and how to write it.
 */

function elapsed(verdict: Verdict, nowMs: number): string {
  const end = verdict.endedAt ? Date.parse(verdict.endedAt) : nowMs;
  const ms = Math.max(0, Math.min(end - Date.parse(verdict.startedAt), verdict.durationMs));
  return `${formatDuration(Math.floor(ms / 1000) * 1000)} of ${formatDuration(verdict.durationMs)}`;
}

/**
 * The one-line headline: id, service, version, status, phase, elapsed of total, verdict.
 *
 * @example headline(verdict, Date.now()) // 'w_01… prep-api 1.4.2: running, phase bake, 2h of 1d, verdict pass'
 */
export function headline(verdict: Verdict, nowMs: number): string {
  return (
    `${verdict.id} ${verdict.service} ${verdict.version}: ${verdict.status}, phase ${verdict.phase}, ` +
    `${elapsed(verdict, nowMs)}, verdict ${verdict.verdict}`
  );
}
