import { randomBytes } from 'node:crypto';
import { formatDuration } from '../config/units.js';
import type { TimelineEvent, Verdict, WatchRecord, WatchView } from './types.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A time-sortable watch id: `w_` + 10 characters of millisecond time and 16 of randomness, in
 * Crockford base 32 (the ULID layout, without a dependency).
 *
 * @example newWatchId(Date.now()) // 'w_01JD3Q7Z8K4M2N6P8R0S2T4V6X'
 */
export function newWatchId(nowMs: number): string {
  let time = '';
  let rest = Math.max(0, Math.floor(nowMs));
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[rest % 32] + time;
    rest = Math.floor(rest / 32);
  }
  const bytes = randomBytes(16);
  let random = '';
  for (const byte of bytes) random += CROCKFORD[byte % 32];
  return `w_${time}${random}`;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

/**
 * The verdict object of DESIGN §6 from a stored watch.
 *
 * @example reply.send(toVerdict(store.get(id)))
 */
export function toVerdict(watch: WatchRecord): Verdict {
  return {
    id: watch.id,
    service: watch.service,
    version: watch.version,
    previousVersion: watch.previousVersion,
    status: watch.status,
    phase: watch.phase,
    verdict: watch.verdict,
    startedAt: iso(watch.startedAt),
    updatedAt: iso(watch.updatedAt),
    endedAt: isoOrNull(watch.endedAt),
    durationMs: watch.durationMs,
    reasons: [...watch.reasons],
    checks: Object.values(watch.state.results),
    blindSpans: (watch.state.blindSpans ?? []).map((span) => ({
      from: iso(span.from),
      to: isoOrNull(span.to),
      checks: [...span.checks],
      reason: span.reason,
    })),
    ...(watch.state.held && watch.status === 'held'
      ? {
          held: {
            since: iso(watch.state.held.since),
            until: iso(watch.state.held.until),
            reasons: [...watch.state.held.reasons],
          },
        }
      : {}),
    ...(watch.state.progress && watch.status === 'running' ? { progress: watch.state.progress } : {}),
  };
}

/**
 * The watch object of DESIGN §6: the verdict plus duration, phases and the timeline.
 *
 * @example toWatchView(record, store.events(record.id))
 */
export function toWatchView(watch: WatchRecord, events: readonly TimelineEvent[]): WatchView {
  return {
    ...toVerdict(watch),
    duration: formatDuration(watch.durationMs),
    supersededBy: watch.supersededBy,
    phases: watch.phases.map((phase) => ({
      name: phase.name,
      state: phase.state,
      startedAt: isoOrNull(phase.startedAt),
      endedAt: isoOrNull(phase.endedAt),
      ...(phase.reason ? { reason: phase.reason } : {}),
    })),
    timeline: events.map((event) => ({
      ...(event.data ?? {}),
      at: iso(event.at),
      type: event.type,
      message: event.message,
    })),
  };
}
