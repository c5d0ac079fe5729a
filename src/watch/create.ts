import type { Phase } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
import { isActive } from './effects.js';
import { closePhases } from './overrides.js';
import { beginPhase } from './phases.js';
import type { WatchRecords } from './records.js';
import {
  PHASE_ORDER,
  type TimelineEvent,
  type WatchRecord,
  type WatchSettings,
  type WatchView,
} from './types.js';
import { emptyState } from './verdict.js';

/** Input of `POST /api/v1/watches`, parsed (durations in ms, times in ms since epoch). */
export interface CreateWatchInput {
  service: string;
  version: string;
  previousVersion?: string;
  durationMs?: number;
  phases?: readonly Phase[];
  startedAt?: number;
}

export interface Problem {
  path: string;
  message: string;
}

export type CreateOutcome = { ok: true; watch: WatchView } | { ok: false; problems: Problem[] };

/** Clock skew tolerated on a client-supplied `startedAt` in the future. */
const FUTURE_SKEW_MS = 5_000;

/**
 * What is wrong with a new watch beyond its shape: a start in the future, or so far in the past that
 * the watch would already be over; repeated or missing phases.
 *
 * @example validateCreate({ service: 'a', version: '1', startedAt: Date.now() + 3_600_000 }, settings, Date.now())
 */
export function validateCreate(input: CreateWatchInput, settings: WatchSettings, now: number): Problem[] {
  const durationMs = input.durationMs ?? settings.durationMs;
  const startedAt = input.startedAt ?? now;
  const problems: Problem[] = [];
  if (startedAt > now + FUTURE_SKEW_MS)
    problems.push({ path: 'startedAt', message: 'startedAt lies in the future' });
  if (now - startedAt >= durationMs) {
    problems.push({
      path: 'startedAt',
      message: `startedAt lies ${formatDuration(now - startedAt)} in the past, not less than the duration (${formatDuration(durationMs)})`,
    });
  }
  const requested = input.phases ?? settings.phases;
  if (new Set(requested).size !== requested.length)
    problems.push({ path: 'phases', message: 'phases repeat' });
  if (requested.length === 0) problems.push({ path: 'phases', message: 'at least one phase is needed' });
  return problems;
}

/**
 * Inserts a new running watch (its first phase started) and supersedes the service's running watch,
 * recording it in both timelines. `previousVersion` defaults to the version of the service's last watch
 * that passed (or was promoted) with another version — never a failed or rolled-back one, whose
 * version served no traffic to compare with (DESIGN §6). Call with a transaction's repository: each
 * superseded watch is read with its row locked. `awaitingLeader` marks a watch created by a replica
 * that does not lead (the leader starts it fresh). `previousNewest` is the service's newest watch
 * before this one (its metric series are dropped when its version differs).
 */
export async function insertWatch(
  store: WatchRecords,
  input: CreateWatchInput,
  settings: WatchSettings,
  id: string,
  now: number,
  options: { awaitingLeader?: boolean } = {},
): Promise<{
  watch: WatchRecord;
  superseded: { before: WatchRecord; after: WatchRecord }[];
  warnings: string[];
  previousNewest: WatchRecord | undefined;
}> {
  const requested = input.phases ?? settings.phases;
  const phases = PHASE_ORDER.filter((p) => requested.includes(p));
  const durationMs = input.durationMs ?? settings.durationMs;
  // The service's lock first makes two replicas creating for one service take turns (its first watch
  // too): the second reads the running watches after the first committed, and supersedes its new one.
  await store.lockService(input.service);
  const newest = await store.last(input.service);
  const previousNewest = newest ? ((await store.getForUpdate(newest.id)) ?? newest) : undefined;
  const previous = (await store.list({ service: input.service, status: 'passed', limit: 50 })).find(
    (w) => w.version !== input.version,
  );
  const warnings =
    input.previousVersion === undefined && previous === undefined
      ? [
          `no previous version: no earlier watch of ${input.service} passed, so checks that compare with ` +
            'the previous version ({{previousVersion}} queries, previous-watch baselines) are inconclusive',
        ]
      : [];
  const superseded: { before: WatchRecord; after: WatchRecord }[] = [];
  for (const listed of await store.runningForService(input.service)) {
    // Read again with the row locked: a replica's evaluation may have changed (or ended) it since.
    const old = await store.getForUpdate(listed.id);
    if (!old || !isActive(old.status)) continue;
    const before = structuredClone(old);
    const reason = `superseded by ${id} (version ${input.version})`;
    old.status = 'aborted';
    old.endedAt = now;
    old.updatedAt = now;
    old.supersededBy = id;
    old.reasons = [reason, ...old.reasons];
    closePhases(old, 'aborted', now, 'superseded');
    await store.update(old);
    await store.appendEvent(old.id, { at: now, type: 'superseded', message: reason, data: { by: id } });
    superseded.push({ before, after: old });
  }
  const watch: WatchRecord = {
    id,
    service: input.service,
    version: input.version,
    previousVersion: input.previousVersion ?? previous?.version ?? null,
    status: 'running',
    verdict: 'pending',
    phase: phases[0] as Phase,
    startedAt: input.startedAt ?? now,
    updatedAt: now,
    endedAt: null,
    durationMs,
    phases: phases.map((name) => ({ name, state: 'pending', startedAt: null, endedAt: null })),
    reasons: [],
    state: options.awaitingLeader ? { ...emptyState(), awaitingLeader: true } : emptyState(),
    supersededBy: null,
  };
  const events: TimelineEvent[] = [
    {
      at: now,
      type: 'created',
      message: `watch of ${watch.service} ${watch.version} started (previous ${watch.previousVersion ?? 'none'}, duration ${formatDuration(durationMs)})`,
      ...(warnings.length > 0 ? { data: { warnings } } : {}),
    },
    ...superseded.map(({ after }) => ({
      at: now,
      type: 'superseded' as const,
      message: `supersedes ${after.id} (version ${after.version})`,
      data: { watch: after.id },
    })),
    ...beginPhase(watch, phases[0] as Phase, now),
  ];
  await store.insert(watch);
  for (const event of events) await store.appendEvent(id, event);
  return { watch, superseded, warnings, previousNewest };
}
