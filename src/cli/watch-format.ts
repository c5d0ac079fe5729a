import { headline } from '../watch/display.js';
import type { WatchView } from '../watch/types.js';
import { describeCheck } from './live.js';

/*
 * What `vigil watch list` and `vigil watch show` print on stderr. Pure: the commands decide where.
 */

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((cell, i) => cell.padEnd(widths[i] ?? 0))
    .join('  ')
    .trimEnd();
}

/**
 * The table `vigil watch list` prints: one line per watch, newest first as the daemon sent them; a
 * held watch shows until when it waits for a decision.
 *
 * @example formatWatchList(watches) // 'ID  SERVICE  VERSION  STATUS  PHASE  VERDICT  STARTED …'
 */
export function formatWatchList(watches: readonly WatchView[]): string {
  if (watches.length === 0) return 'no watches\n';
  const header = ['ID', 'SERVICE', 'VERSION', 'PREVIOUS', 'STATUS', 'PHASE', 'VERDICT', 'STARTED', 'NOTE'];
  const rows = watches.map((w) => [
    w.id,
    w.service,
    w.version,
    w.previousVersion ?? '-',
    w.status,
    w.phase,
    w.verdict,
    w.startedAt,
    w.status === 'held' && w.held ? `awaiting promote or rollback until ${w.held.until}` : '',
  ]);
  const lines = [header, ...rows];
  const widths = header.map((_, i) =>
    i === header.length - 1 ? 0 : Math.max(...lines.map((l) => (l[i] ?? '').length)),
  );
  return `${lines.map((l) => pad(l, widths)).join('\n')}\n`;
}

/**
 * What `vigil watch show` prints: the headline, each check with its value and unit, the reasons, the
 * hold if any, the phases and the timeline.
 *
 * @example formatWatch(watch, Date.now()) // 'w_01… prep-api 1.4.2: held, phase bake, …'
 */
export function formatWatch(watch: WatchView, nowMs: number): string {
  // Each check as `vigil wait` shows it: value with its unit, what a failure or warn means, why inconclusive.
  const lines = [
    headline(watch, nowMs),
    ...watch.checks.map((check) => `  ${describeCheck(check, watch, {})}`),
    ...(watch.progress ? [`  ${watch.progress}`] : []),
    ...watch.reasons.map((reason) => `  • ${reason}`),
  ];
  if (watch.status === 'held') {
    const held = watch.held;
    lines.push(
      `  held${held ? ` since ${held.since}, until ${held.until}` : ''}: decide with ` +
        `\`vigil watch promote ${watch.id} --reason …\` or \`vigil watch rollback ${watch.id} --reason …\``,
    );
  }
  lines.push('phases:');
  for (const phase of watch.phases) {
    const times = [phase.startedAt, phase.endedAt].filter((t) => t !== null).join(' → ');
    lines.push(
      `  ${phase.name.padEnd(6)}  ${phase.state.padEnd(12)}  ${times}${phase.reason ? `  ${phase.reason}` : ''}`,
    );
  }
  lines.push('timeline:');
  for (const event of watch.timeline) lines.push(`  ${event.at}  ${event.type.padEnd(10)}  ${event.message}`);
  return `${lines.join('\n')}\n`;
}
