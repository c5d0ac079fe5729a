import { EventEmitter } from 'node:events';
import { formatDuration } from '../config/units.js';
import { errorMessage } from '../errors.js';
import type { Db } from '../store/db.js';
import { createWatchStore, type WatchStore } from '../store/watches.js';
import { type CreateOutcome, type CreateWatchInput, insertWatch, validateCreate } from './create.js';
import {
  forgetWatchSeries,
  isActive,
  publishWatchEffects,
  publishWatchMetrics,
  settleWatch,
} from './effects.js';
import { untilReached, type WaitUntil } from './outcome.js';
import { applyOverride, type OverrideRequest } from './overrides.js';
import { runWatch, type WatchControl } from './runner.js';
import type {
  OverrideAction,
  TimelineEvent,
  Verdict,
  WatchDeps,
  WatchRecord,
  WatchSettings,
  WatchStatus,
  WatchView,
} from './types.js';
import { newWatchId, toVerdict, toWatchView } from './view.js';

export type { CreateOutcome, CreateWatchInput, Problem } from './create.js';

/**
 * Watch settings for the whole daemon: one set for every service, or one per configured service (a
 * fleet). With a map, a service that is not in it has no settings: its watches cannot be created.
 */
export type FleetWatchSettings = WatchSettings | ReadonlyMap<string, WatchSettings>;

/**
 * How many verdicts the read cache keeps: far more than the active watches of a fleet, so a dashboard
 * polling ended watches still hits it, yet a client walking thousands of old ids cannot grow it.
 */
const VERDICT_CACHE_SIZE = 1024;

export type OverrideOutcome =
  | { ok: true; watch: WatchView }
  | { ok: false; code: 'not-found' | 'conflict'; message: string };

/**
 * Owns every watch: creates them (superseding a service's running watch), drives each through its
 * phases, persists every change in one transaction with its timeline events, applies operator
 * overrides, answers long polls, and resumes running watches after a restart.
 *
 * @example
 *   const watches = new WatchManager(deps, settings);
 *   watches.start();                       // resumes running watches from the store
 *   const created = watches.create({ service: 'prep-api', version: '1.4.2' });
 *   await watches.stop();                  // on shutdown
 */
export class WatchManager {
  readonly #deps: WatchDeps;
  #settings: FleetWatchSettings;
  readonly #store: WatchStore;
  readonly #changes = new EventEmitter();
  readonly #loops = new Map<string, { controller: AbortController; done: Promise<void> }>();
  readonly #closing = new AbortController();
  readonly #control: WatchControl;
  /**
   * Serialized verdicts by watch id, least recently read first. Every write of a watch goes through
   * `#afterCommit`, which drops its entry, so an entry is always the JSON of the stored row.
   */
  readonly #verdictJson = new Map<string, string>();

  constructor(deps: WatchDeps, settings: FleetWatchSettings) {
    this.#deps = deps;
    this.#settings = settings;
    this.#store = createWatchStore(deps.db);
    this.#changes.setMaxListeners(0);
    this.#control = {
      deps,
      settingsFor: (service) => this.#settingsFor(service),
      store: this.#store,
      current: (id) => {
        const watch = this.#store.get(id);
        return watch?.status === 'running' ? watch : undefined;
      },
      update: (id, mutate, options) => this.#transact(id, mutate, options?.held ? 'held' : 'running'),
    };
  }

  /** Starts the engine: resumes the running watches found in the store. Returns how many. */
  start(): number {
    return this.resume();
  }

  /**
   * Continues every running watch in the store. Elapsed time counts from the stored start; a smoke or
   * load phase that was interrupted starts again; missed bake evaluations become one gap event.
   */
  resume(): number {
    let resumed = 0;
    for (const watch of this.#store.running()) {
      if (this.#loops.has(watch.id)) continue;
      const now = this.#deps.clock.now();
      this.#transact(
        watch.id,
        (w) => {
          const phase = w.phases.find((p) => p.state === 'running');
          if (phase && phase.name !== 'bake' && w.status === 'running') phase.startedAt = now;
          const elapsed = formatDuration(Math.max(0, now - w.startedAt));
          const what =
            w.status === 'held'
              ? 'still held for a decision'
              : phase?.name === 'bake'
                ? 'continuing bake'
                : `restarting the ${phase?.name ?? 'current'} phase`;
          return [
            {
              at: now,
              type: 'resumed',
              message: `daemon restarted: ${what} at ${elapsed} of ${formatDuration(w.durationMs)}`,
            },
          ];
        },
        'active',
      );
      this.#launch(watch.id, true);
      resumed++;
    }
    return resumed;
  }

  /** Stops every watch loop (watches stay `running` in the store, to be resumed) and ends long polls. */
  async stop(): Promise<void> {
    this.#closing.abort(new Error('watch manager stopping'));
    const loops = [...this.#loops.values()];
    for (const loop of loops) loop.controller.abort(new Error('watch manager stopping'));
    await Promise.all(loops.map((loop) => loop.done));
  }

  /**
   * New watch settings (a reload): they apply from each running watch's next evaluation, and the
   * change is recorded in their timelines.
   */
  reconfigure(settings: FleetWatchSettings): void {
    const before = this.#settings;
    this.#settings = settings;
    const at = this.#deps.clock.now();
    for (const watch of this.#store.running()) {
      const old = settingsOf(before, watch.service);
      const next = settingsOf(settings, watch.service);
      // A service that left the configuration: its watches are ended by the caller (`endService`).
      if (old === undefined || next === undefined) continue;
      const changes = describeSettingsChange(old, next);
      if (changes.length === 0) continue;
      this.#transact(
        watch.id,
        () => [
          {
            at,
            type: 'config',
            message:
              `configuration reloaded: ${changes.join(', ')}; applies from the next evaluation` +
              (changes.some((c) => c.startsWith('evaluationIntervalMs '))
                ? ' (the evaluation interval only to watches started after it)'
                : ''),
            data: { changes },
          },
        ],
        'active',
      );
    }
  }

  /**
   * Ends every active watch of a service that left the configuration (a reload removed it): `aborted`,
   * with the reason in its timeline. Returns how many ended.
   */
  endService(service: string, reason: string): number {
    let ended = 0;
    for (const watch of this.#store.running()) {
      if (watch.service !== service) continue;
      if (this.override(watch.id, 'abort', { who: 'vigil', reason }).ok) ended++;
    }
    return ended;
  }

  /** Starts a watch. A running watch of the same service is superseded (ends `aborted`). */
  create(input: CreateWatchInput): CreateOutcome {
    const now = this.#deps.clock.now();
    const settings = settingsOf(this.#settings, input.service);
    if (settings === undefined) {
      const known = this.#settings instanceof Map ? [...this.#settings.keys()] : [];
      return {
        ok: false,
        problems: [
          { path: 'service', message: `unknown service ${input.service}; configured: ${known.join(', ')}` },
        ],
      };
    }
    const problems = validateCreate(input, settings, now);
    const phases = input.phases ?? settings.phases;
    if (
      phases.includes('bake') &&
      this.#deps.bakeChecks &&
      this.#deps.bakeChecks(input.service).length === 0
    ) {
      problems.push({
        path: 'phases',
        message:
          'the bake would judge nothing: no SLO checks and no probes for the bake are configured (slos, watch.probes); ' +
          'add checks or leave the bake out of phases',
      });
    }
    if (problems.length > 0) return { ok: false, problems };
    const id = newWatchId(now);
    const created = this.#deps.db.transaction(() => insertWatch(this.#store, input, settings, id, now))();
    for (const { before, after } of created.superseded) this.#afterCommit(before, after);
    this.#afterCommit(undefined, created.watch);
    this.#launch(id, false);
    const view = toWatchView(created.watch, this.#store.events(id));
    return { ok: true, watch: created.warnings.length > 0 ? { ...view, warnings: created.warnings } : view };
  }

  /** The watch object with its timeline, or undefined. */
  get(id: string): WatchView | undefined {
    const watch = this.#store.get(id);
    return watch ? toWatchView(watch, this.#store.events(id)) : undefined;
  }

  /** The verdict object, or undefined. */
  verdict(id: string): Verdict | undefined {
    const watch = this.#store.get(id);
    return watch ? toVerdict(watch) : undefined;
  }

  /**
   * The verdict object as JSON, the same bytes as `JSON.stringify(verdict(id))`, or undefined. Served
   * from memory after the first read of a watch: a polled verdict costs no SQLite read or state parse.
   *
   * @example reply.type('application/json; charset=utf-8').send(watches.verdictJson(id))
   */
  verdictJson(id: string): string | undefined {
    const cached = this.#verdictJson.get(id);
    if (cached !== undefined) {
      // Re-inserted so the Map's insertion order is the read order (LRU).
      this.#verdictJson.delete(id);
      this.#verdictJson.set(id, cached);
      return cached;
    }
    const watch = this.#store.get(id);
    if (!watch) return undefined;
    const json = JSON.stringify(toVerdict(watch));
    this.#verdictJson.set(id, json);
    if (this.#verdictJson.size > VERDICT_CACHE_SIZE) {
      const oldest = this.#verdictJson.keys().next();
      if (!oldest.done) this.#verdictJson.delete(oldest.value);
    }
    return json;
  }

  /** Watch objects, newest first. */
  list(filter: { service?: string; status?: WatchStatus; limit?: number } = {}): WatchView[] {
    return this.#store.list(filter).map((w) => toWatchView(w, this.#store.events(w.id)));
  }

  /**
   * Long poll: resolves with the verdict as soon as its status, phase, verdict, reasons or check results
   * change, or when `timeoutMs` runs out. Answers at once when the watch has ended, when `until` was
   * already reached, or when it changed after `since` (the `updatedAt` the caller last saw).
   * Undefined for an unknown id.
   */
  async waitForChange(
    id: string,
    options: { timeoutMs: number; until?: WaitUntil; since?: number; signal?: AbortSignal },
  ): Promise<Verdict | undefined> {
    const watch = this.#store.get(id);
    if (!watch) return undefined;
    const settled =
      !isActive(watch.status) ||
      (options.until !== undefined && untilReached(watch, options.until)) ||
      (options.since !== undefined && watch.updatedAt > options.since) ||
      options.timeoutMs <= 0 ||
      this.#closing.signal.aborted;
    if (settled) return toVerdict(watch);
    const key = changeKey(watch);
    const wake = new AbortController();
    const stop = (): void => wake.abort();
    const onChange = (changed: WatchRecord): void => {
      if (changeKey(changed) !== key) wake.abort();
    };
    options.signal?.addEventListener('abort', stop, { once: true });
    this.#closing.signal.addEventListener('abort', stop, { once: true });
    this.#changes.on(id, onChange);
    try {
      await this.#deps.clock.sleep(options.timeoutMs, wake.signal);
    } catch {
      // woken by a change, a closed request or shutdown: answer with the latest state
    } finally {
      this.#changes.off(id, onChange);
      options.signal?.removeEventListener('abort', stop);
      this.#closing.signal.removeEventListener('abort', stop);
    }
    const latest = this.#store.get(id);
    return latest ? toVerdict(latest) : undefined;
  }

  /**
   * Operator override (`abort`, `promote`, `rollback`), recorded with who and why; also the answer to a
   * held watch. A watch rolls back once: a rollback of a watch that already has one (automatic, after a
   * hold timeout, or an operator's) is refused naming the first.
   */
  override(id: string, action: OverrideAction, request: OverrideRequest): OverrideOutcome {
    const existing = this.#store.get(id);
    if (!existing) return { ok: false, code: 'not-found', message: `no watch ${id}` };
    let conflict: string | undefined;
    const updated = this.#transact(
      id,
      (w, tx) => {
        const first = w.state.rollback;
        if (action === 'rollback' && first) {
          conflict = alreadyRolledBack(id, first);
          return null;
        }
        const now = this.#deps.clock.now();
        const outcome = applyOverride(w, action, request, now);
        if (!outcome.ok) {
          conflict = outcome.message;
          return null;
        }
        if (action === 'rollback') {
          w.state = {
            ...w.state,
            rollback: { at: now, trigger: 'operator', who: request.who, reason: request.reason },
          };
          if (this.#deps.manualRollback) {
            const enqueued = this.#deps.manualRollback(tx, toVerdict(w), request);
            const earlier = enqueued ? enqueued.existing : undefined;
            if (earlier) {
              // Rolled back before this watch's state recorded it (a store from an older version).
              conflict = alreadyRolledBack(id, earlier);
              return null;
            }
            outcome.events.push({ at: now, type: 'action', message: 'rollback enqueued (operator)' });
          } else {
            outcome.events.push({ at: now, type: 'action', message: 'no actions configured' });
          }
        }
        return outcome.events;
      },
      'any',
    );
    if (conflict || !updated)
      return { ok: false, code: 'conflict', message: conflict ?? `watch ${id} is gone` };
    return { ok: true, watch: toWatchView(updated, this.#store.events(id)) };
  }

  /**
   * Appends an event to a watch's timeline (e.g. a webhook delivery attempt) and wakes its long polls.
   * Returns false for an unknown watch.
   */
  appendTimeline(id: string, event: TimelineEvent): boolean {
    const watch = this.#store.get(id);
    if (!watch) return false;
    this.#store.appendEvent(id, event);
    this.#changes.emit(id, watch);
    return true;
  }

  #launch(id: string, resumed: boolean): void {
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, this.#closing.signal]);
    const done = runWatch(this.#control, id, signal, { resumed })
      .catch((error: unknown) => {
        this.#deps.logger.error({ watchId: id, err: errorMessage(error) }, 'watch loop stopped by an error');
      })
      .finally(() => {
        if (this.#loops.get(id)?.controller === controller) this.#loops.delete(id);
      });
    this.#loops.set(id, { controller, done });
  }

  /**
   * Reads the watch, applies `mutate` (null: nothing to write), reduces the verdict, fires the rollback
   * hook when the watch just failed — all in one transaction — then publishes metrics and events.
   */
  #transact(
    id: string,
    mutate: (watch: WatchRecord, tx: Db) => TimelineEvent[] | null,
    require: 'running' | 'held' | 'active' | 'any',
  ): WatchRecord | undefined {
    const db = this.#deps.db;
    let before: WatchRecord | undefined;
    const run = db.transaction((): WatchRecord | undefined => {
      const watch = this.#store.get(id);
      if (!watch) return undefined;
      if (require === 'active' ? !isActive(watch.status) : require !== 'any' && watch.status !== require)
        return undefined;
      before = structuredClone(watch);
      const events = mutate(watch, db);
      if (events === null) return undefined;
      const now = this.#deps.clock.now();
      events.push(...settleWatch(watch, before, now, this.#settingsFor(watch.service), this.#deps, db));
      watch.updatedAt = now;
      this.#store.update(watch);
      for (const event of events) this.#store.appendEvent(id, event);
      return watch;
    });
    const after = run();
    if (after) this.#afterCommit(before, after);
    return after;
  }

  /**
   * A service's settings; a watch whose service left the configuration keeps the first service's until
   * it is ended (it is, by `endService`, right after the reload).
   */
  #settingsFor(service: string): WatchSettings {
    const own = settingsOf(this.#settings, service);
    if (own !== undefined) return own;
    const first = (this.#settings as ReadonlyMap<string, WatchSettings>).values().next();
    if (first.done) throw new Error(`no watch settings for service ${service}`);
    return first.value;
  }

  #afterCommit(before: WatchRecord | undefined, after: WatchRecord): void {
    // First, so nothing below (hooks, long polls woken by the emit) can read the old verdict.
    this.#verdictJson.delete(after.id);
    if (!before) {
      const stale = this.#store.list({ service: after.service, limit: 2 }).find((w) => w.id !== after.id);
      if (stale && stale.version !== after.version) forgetWatchSeries(this.#deps.metrics, stale);
    }
    publishWatchMetrics(this.#deps.metrics, before, after);
    if (before && isActive(before.status) && !isActive(after.status)) {
      this.#loops.get(after.id)?.controller.abort(new Error(`watch ${after.status}`));
    }
    publishWatchEffects(this.#deps, before, after);
    this.#changes.emit(after.id, after);
  }
}

function settingsOf(settings: FleetWatchSettings, service: string): WatchSettings | undefined {
  return settings instanceof Map ? settings.get(service) : (settings as WatchSettings);
}

/** What a long poll answers on: anything the verdict object reports besides timestamps and values. */
function changeKey(watch: WatchRecord): string {
  const results = Object.values(watch.state.results).map((c) => `${c.name}=${c.result}`);
  return JSON.stringify([
    watch.status,
    watch.phase,
    watch.verdict,
    watch.reasons,
    results,
    watch.state.progress,
  ]);
}

/** What a reload changed in the watch settings, as `failureLimit 3 → 5` phrases. */
function describeSettingsChange(before: WatchSettings, after: WatchSettings): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)] as (keyof WatchSettings)[]);
  return [...keys].flatMap((key) => {
    const was = JSON.stringify(before[key]);
    const now = JSON.stringify(after[key]);
    return was === now ? [] : [`${key} ${was ?? 'unset'} → ${now ?? 'unset'}`];
  });
}

/** The 409 answer to a second rollback of a watch, naming the first (DESIGN §6: a watch rolls back once). */
function alreadyRolledBack(
  id: string,
  first: { at: number; trigger: string; who?: string | null; reason?: string | null },
): string {
  const by = first.who ? ` by ${first.who}` : '';
  const why = first.reason ? `: ${first.reason}` : '';
  return `watch ${id} was already rolled back at ${new Date(first.at).toISOString()} (${first.trigger}${by}${why}); a watch rolls back once`;
}
