import { untilAborted } from '../abort.js';
import { formatDuration } from '../config/units.js';
import { errorMessage } from '../errors.js';
import type { StoreTx } from '../store/port.js';
import { closePhases } from './overrides.js';
import {
  describeProbeFailure,
  endPhase,
  inconclusiveCheck,
  LOAD_EVALUATION,
  SMOKE_EVALUATION,
  smokeCheck,
} from './phases.js';
import { watchRecords } from './records.js';
import type { TimelineEvent, WatchDeps, WatchRecord, WatchSettings } from './types.js';
import { accountBake, recordPhaseResult } from './verdict.js';

/** A change to one watch, inside its transaction: the timeline events to append, or null to write nothing. */
export type WatchMutation = (
  watch: WatchRecord,
  tx: StoreTx,
) => TimelineEvent[] | null | Promise<TimelineEvent[] | null>;

/** What a watch loop needs from the manager: read the running watch, change it in one transaction. */
export interface WatchControl {
  deps: WatchDeps;
  /** The settings of a service's watches, read when used: a reload applies from the next use. */
  settingsFor(service: string): WatchSettings;
  /** The stored watch, whatever its status. */
  read(id: string): Promise<WatchRecord | undefined>;
  /** The watch while it is running; undefined once it ended or while it is held. */
  current(id: string): Promise<WatchRecord | undefined>;
  /**
   * Applies `mutate` to the running watch (the held one with `held: true`) in one transaction, after
   * every change to the watch queued before it; undefined when it is no longer in that status, or when
   * `signal` aborted before the transaction began. A null from `mutate` writes nothing.
   */
  update(
    id: string,
    mutate: WatchMutation,
    options?: { held?: boolean; signal?: AbortSignal },
  ): Promise<WatchRecord | undefined>;
}

const DEFAULT_SMOKE_RETRY_MS = 15_000;
/** How long a loop that could not read its watch waits before it tries again. */
const STORE_RETRY_MS = 15_000;

/**
 * Drives one watch through its phases until it ends or `signal` aborts (supersede, override, shutdown,
 * standing down). `downtime`, when the watch is resumed (the daemon restarted, or leadership moved),
 * says why it was not driven, so missed evaluations are reported as such ("while the daemon was down").
 * Once `signal` aborts, the loop starts no further write.
 *
 * @example void runWatch(control, watch.id, controller.signal, {});
 */
export async function runWatch(
  shared: WatchControl,
  id: string,
  signal: AbortSignal,
  options: { downtime?: string },
): Promise<void> {
  const control: WatchControl = {
    ...shared,
    update: (watchId, mutate, opts) => shared.update(watchId, mutate, { ...opts, signal }),
  };
  let downtime = options.downtime;
  while (!signal.aborted) {
    let phase: string | undefined;
    let service: string | undefined;
    try {
      const stored = await control.read(id);
      if (signal.aborted) return;
      if (stored?.status === 'held') {
        await runHold(control, id, signal);
        continue;
      }
      const watch = stored?.status === 'running' ? stored : undefined;
      const running = watch?.phases.find((p) => p.state === 'running');
      if (!watch || !running) return;
      phase = running.name;
      service = watch.service;
      if (running.name === 'smoke') await runSmoke(control, watch, signal);
      else if (running.name === 'load') await runLoad(control, watch, signal);
      else await runBake(control, id, signal, downtime);
    } catch (error) {
      if (signal.aborted) return;
      // A bug or a store hiccup must not leave the watch running with nobody driving it: say so, retry.
      const what = phase === undefined ? 'reading the watch' : `the ${phase} phase`;
      control.deps.logger.error({ watchId: id, err: error }, `watch loop: ${what} failed`);
      if (phase !== undefined) {
        const message = `internal error in the ${phase} phase: ${errorMessage(error)}; retrying`;
        // Saying so needs the store, which may be what failed: the retry does not depend on it.
        await control
          .update(id, () => [{ at: control.deps.clock.now(), type: 'phase', message }])
          .catch(() => undefined);
      }
      const interval =
        service === undefined ? STORE_RETRY_MS : control.settingsFor(service).evaluationIntervalMs;
      await control.deps.clock.sleep(interval, signal).catch(() => undefined);
    }
    downtime = undefined;
  }
}

/**
 * A held watch waits for an operator (promote or rollback through the manager, which ends it and stops
 * this loop) or for its hold timeout, when `onHoldTimeout` happens (DESIGN §6). Nothing is evaluated
 * while it waits: the decision is the operator's now.
 */
async function runHold(control: WatchControl, id: string, signal: AbortSignal): Promise<void> {
  const { deps } = control;
  const watch = await control.read(id);
  const held = watch?.state.held;
  if (watch?.status !== 'held' || !held) return;
  const now = deps.clock.now();
  if (now < held.until) {
    await deps.clock.sleep(held.until - now, signal).catch(() => undefined);
    return;
  }
  await control.update(
    id,
    (w) => {
      const since = w.state.held?.since ?? now;
      const action = control.settingsFor(w.service).onHoldTimeout ?? 'rollback';
      const why = `held ${formatDuration(now - since)} with no decision: onHoldTimeout ${action}`;
      w.endedAt = now;
      if (action === 'rollback') {
        w.status = 'failed';
        w.verdict = 'fail';
        closePhases(w, 'failed', now, why);
      } else {
        w.status = 'passed';
        w.verdict = 'warn';
        closePhases(w, 'passed', now, why);
      }
      w.reasons = [why, ...w.reasons];
      return [{ at: now, type: 'ended', message: `watch ${w.status}: ${why}`, data: { status: w.status } }];
    },
    { held: true },
  );
}

async function runSmoke(control: WatchControl, watch: WatchRecord, signal: AbortSignal): Promise<void> {
  const { deps } = control;
  const { id, service } = watch;
  const settings = control.settingsFor(service);
  const deadline = deps.clock.now() + settings.smokeTimeoutMs;
  const retryMs = settings.smokeRetryMs ?? DEFAULT_SMOKE_RETRY_MS;
  let pending: string[] | undefined;
  for (let attempt = 1; ; attempt++) {
    const results = await untilAborted(deps.runSmokeProbes(signal, pending, service), signal);
    if (signal.aborted) return;
    const at = deps.clock.now();
    if (results.length === 0 && attempt === 1) {
      await control.update(id, (w) => endPhase(w, 'skipped', at, settings, 'no smoke probes configured'));
      return;
    }
    const failing = results.filter((r) => !r.success);
    const giveUp = failing.length > 0 && at + retryMs > deadline;
    await control.update(id, async (w, tx) => {
      for (const result of results) {
        const check = result.success
          ? smokeCheck(result, 'pass', `passed in ${Math.round(result.durationMs)} ms (attempt ${attempt})`)
          : giveUp
            ? smokeCheck(
                result,
                'fail',
                `${describeProbeFailure(result)}; still failing after ${attempt} attempt(s)`,
              )
            : smokeCheck(
                result,
                'warn',
                `attempt ${attempt} failed: ${describeProbeFailure(result)}; retrying`,
              );
        w.state = recordPhaseResult(w.state, check);
      }
      if (failing.length > 0 && !giveUp) return [];
      const checks = Object.values(w.state.results).filter((c) => c.name.startsWith('smoke:'));
      await watchRecords(tx.watches).saveResults(id, SMOKE_EVALUATION, checks);
      return giveUp
        ? endPhase(
            w,
            'failed',
            at,
            settings,
            `${failing.map((r) => r.probe).join(', ')} did not pass within the smoke timeout`,
          )
        : endPhase(w, 'passed', at, settings);
    });
    if (failing.length === 0 || giveUp) return;
    pending = failing.map((r) => r.probe);
    await deps.clock.sleep(retryMs, signal);
  }
}

async function runLoad(control: WatchControl, watch: WatchRecord, signal: AbortSignal): Promise<void> {
  const { deps } = control;
  const { id, service } = watch;
  const settings = control.settingsFor(service);
  if (!settings.loadProfile || !deps.runLoad) {
    const reason = !settings.loadProfile ? 'no loadProfile configured' : 'no load-test runner available';
    await control.update(id, (w) => endPhase(w, 'skipped', deps.clock.now(), settings, reason));
    return;
  }
  let check: Awaited<ReturnType<NonNullable<WatchDeps['runLoad']>>>;
  try {
    // Not raced with the signal: the runner stops k6 on abort and records the run, so it is awaited.
    check = await deps.runLoad(
      id,
      signal,
      (line) => {
        if (signal.aborted) return;
        // Not awaited (k6 reports while it runs); the manager applies a watch's changes in order.
        void control
          .update(id, (w) => {
            w.state = { ...w.state, progress: line };
            return [{ at: deps.clock.now(), type: 'progress', message: line }];
          })
          .catch((error: unknown) =>
            deps.logger.warn({ watchId: id, err: errorMessage(error) }, 'load progress not recorded'),
          );
      },
      service,
    );
  } catch (error) {
    if (signal.aborted) return;
    check = inconclusiveCheck(
      settings.loadProfile,
      'load',
      deps.clock.now(),
      `load run failed: ${errorMessage(error)}`,
    );
  }
  if (signal.aborted) return;
  const at = deps.clock.now();
  await control.update(id, async (w, tx) => {
    const { progress: _finished, ...rest } = w.state;
    w.state = recordPhaseResult(rest, check);
    await watchRecords(tx.watches).saveResults(id, LOAD_EVALUATION, [check]);
    const state =
      check.result === 'fail' ? 'failed' : check.result === 'inconclusive' ? 'inconclusive' : 'passed';
    return endPhase(w, state, at, settings, check.result === 'pass' ? undefined : check.explanation);
  });
}

async function runBake(
  control: WatchControl,
  id: string,
  signal: AbortSignal,
  downtime: string | undefined,
): Promise<void> {
  const { deps } = control;
  let afterRestart = downtime;
  for (;;) {
    const watch = await control.current(id);
    if (!watch || signal.aborted) return;
    // Read every round: a reload applies its settings from the next evaluation on — all but the
    // interval, which numbers the watch's evaluations and so stays what the bake started with.
    const settings = control.settingsFor(watch.service);
    const interval = watch.state.evaluationIntervalMs ?? settings.evaluationIntervalMs;
    const now = deps.clock.now();
    const elapsed = now - watch.startedAt;
    const next = watch.state.nextEvaluation;
    if (next === null) {
      // Evaluations inside initialDelay still run and are recorded; the accounting does not count them.
      const first = Math.floor(elapsed / interval);
      await control.update(id, (w) => {
        w.state = { ...w.state, nextEvaluation: first, evaluationIntervalMs: interval };
        return [];
      });
      continue;
    }
    const lastIndex = Math.ceil(watch.durationMs / interval) - 1;
    const due = Math.min(Math.floor(elapsed / interval), lastIndex + 1);
    if (due > next) {
      const reason = afterRestart ?? 'because evaluations overran their interval';
      await control.update(id, (w) => recordGap(w, next, due - 1, interval, now, reason, settings));
    }
    afterRestart = undefined;
    if (elapsed >= watch.durationMs) {
      await control.update(id, (w) => {
        const blind = w.state.blind;
        return endPhase(
          w,
          blind ? 'inconclusive' : 'passed',
          now,
          settings,
          blind ? 'blind at the end' : undefined,
        );
      });
      return;
    }
    if (due < next) {
      const wakeAt = Math.min(watch.startedAt + next * interval, watch.startedAt + watch.durationMs);
      await deps.clock.sleep(wakeAt - now, signal);
      continue;
    }
    await evaluateOnce(control, watch, due, now, signal);
  }
}

/** Names of the checks a bake judges, from what the watch has seen so far (smoke and load excluded). */
function bakeCheckNames(watch: WatchRecord): string[] {
  return Object.values(watch.state.results)
    .filter((c) => c.kind !== 'load' && !c.name.startsWith('smoke:') && !c.shadow && c.enforce !== 'shadow')
    .map((c) => c.name);
}

function recordGap(
  watch: WatchRecord,
  from: number,
  to: number,
  interval: number,
  at: number,
  reason: string,
  settings: WatchSettings,
): TimelineEvent[] {
  const missed = to - from + 1;
  const spanFrom = watch.startedAt + from * interval;
  const spanTo = Math.min(watch.startedAt + (to + 1) * interval, watch.startedAt + watch.durationMs);
  // No evaluation for longer than inconclusiveLimit is blindness like any other (DESIGN §6).
  const blind =
    spanTo - spanFrom >= settings.inconclusiveLimitMs
      ? [
          {
            from: spanFrom,
            to: spanTo,
            checks: bakeCheckNames(watch).length > 0 ? bakeCheckNames(watch) : ['every check'],
            reason: `no evaluation ran: ${missed} evaluation(s) missed ${reason}`,
          },
        ]
      : [];
  watch.state = {
    ...watch.state,
    nextEvaluation: to + 1,
    missedEvaluations: watch.state.missedEvaluations + missed,
    blindSpans: [...(watch.state.blindSpans ?? []), ...blind],
  };
  const fromAt = new Date(watch.startedAt + from * interval).toISOString();
  const toAt = new Date(watch.startedAt + to * interval).toISOString();
  return [
    {
      at,
      type: 'gap',
      message: `${missed} evaluation(s) missed ${reason} (${fromAt} – ${toAt}); none were invented`,
      data: { from: fromAt, to: toAt, missed, firstEvaluation: from, lastEvaluation: to },
    },
  ];
}

async function evaluateOnce(
  control: WatchControl,
  watch: WatchRecord,
  evaluation: number,
  at: number,
  signal: AbortSignal,
): Promise<void> {
  const { deps } = control;
  const settings = control.settingsFor(watch.service);
  const context = {
    at,
    deployedAt: watch.startedAt,
    elapsedMs: at - watch.startedAt,
    watchId: watch.id,
    vars: { service: watch.service, version: watch.version, previousVersion: watch.previousVersion ?? '' },
  };
  let results: Awaited<ReturnType<WatchDeps['evaluate']>>;
  let failure: string | undefined;
  try {
    results = await untilAborted(deps.evaluate(context, signal), signal);
  } catch (error) {
    if (signal.aborted) return;
    // An evaluation that throws judged nothing: each of its checks is inconclusive with the error, so
    // it counts toward blindness instead of vanishing (DESIGN §6). The stack goes to the log only.
    failure = `evaluation failed: ${errorMessage(error)}`;
    deps.logger.error({ watchId: watch.id, evaluation, err: error }, 'evaluation failed');
    const known = deps.bakeChecks?.(watch.service) ?? bakeCheckNames(watch);
    const names = known.length > 0 ? known : ['evaluation'];
    results = names.map((name) =>
      inconclusiveCheck(name, watch.state.results[name]?.kind ?? 'slo', at, failure as string),
    );
  }
  if (signal.aborted) return;
  await control.update(watch.id, async (w, tx) => {
    w.state = { ...w.state, nextEvaluation: evaluation + 1 };
    // A replayed evaluation (already stored before a crash) must not be counted twice.
    if ((await watchRecords(tx.watches).saveResults(w.id, evaluation, results)) === 0) return [];
    const outcome = accountBake(w.state, results, { at, deployedAt: w.startedAt, settings });
    w.state = outcome.state;
    const values = results
      .filter((r) => r.kind === 'slo' && r.value !== null && Number.isFinite(r.value))
      .map((r) => ({ slo: r.name, value: r.value as number }));
    if (values.length > 0) {
      await deps.saveSnapshots?.(tx, {
        watchId: w.id,
        service: w.service,
        version: w.version,
        elapsedMs: context.elapsedMs,
        at,
        values,
      });
    }
    const events: TimelineEvent[] = outcome.changed.map((name) => {
      const check = outcome.state.results[name];
      return {
        at,
        type: 'evaluation' as const,
        message: `${name} ${check?.result}: ${check?.explanation}`,
        data: { evaluation, check: name, result: check?.result, value: check?.value ?? null },
      };
    });
    if (failure !== undefined) {
      events.push({
        at,
        type: 'evaluation',
        message: `evaluation ${evaluation} failed (${failure.slice('evaluation failed: '.length)}); its ${results.length} check(s) are inconclusive`,
        data: { evaluation, error: true },
      });
    }
    return events;
  });
}
