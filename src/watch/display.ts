import { formatDuration } from '../config/units.js';
import { formatValue } from '../evaluator/objective.js';
import type { Verdict } from './types.js';

/*
 * What `vigil wait` shows on stderr while it follows a watch: phase, elapsed of total, and each check's
 * last result and value. Pure: the CLI decides when and how to write it.
 */

function elapsed(verdict: Verdict, nowMs: number): string {
  const end = verdict.endedAt ? Date.parse(verdict.endedAt) : nowMs;
  const ms = Math.max(0, Math.min(end - Date.parse(verdict.startedAt), verdict.durationMs));
  return `${formatDuration(Math.floor(ms / 1000) * 1000)} of ${formatDuration(verdict.durationMs)}`;
}

function value(v: number | null): string {
  return v === null ? '–' : formatValue(v);
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

/** The live block for a terminal: the headline, one line per check, then the reasons. */
export function renderBlock(verdict: Verdict, nowMs: number): string[] {
  const width = Math.max(8, ...verdict.checks.map((c) => c.name.length));
  const lines = [headline(verdict, nowMs)];
  for (const check of verdict.checks) {
    lines.push(`  ${check.name.padEnd(width)}  ${check.result.padEnd(12)}  ${value(check.value)}`);
  }
  if (verdict.progress) lines.push(`  ${verdict.progress}`);
  for (const reason of verdict.reasons) lines.push(`  • ${reason}`);
  return lines;
}

/** One plain line for logs (stderr not a terminal): the headline and every check's result and value. */
export function renderLine(verdict: Verdict, nowMs: number): string {
  const checks = verdict.checks.map((c) => `${c.name} ${c.result} ${value(c.value)}`).join(', ');
  const progress = verdict.progress ? ` — ${verdict.progress}` : '';
  return `${new Date(nowMs).toISOString()} ${headline(verdict, nowMs)}${checks ? ` — ${checks}` : ''}${progress}`;
}

/** What changed enough to print a new plain line. */
export function displayKey(verdict: Verdict): string {
  return JSON.stringify([
    verdict.status,
    verdict.phase,
    verdict.verdict,
    verdict.checks.map((c) => c.result),
    verdict.progress,
  ]);
}
