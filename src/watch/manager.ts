import { EventEmitter } from 'node:events';
import { formatDuration } from '../config/units.js';
import { errorMessage } from '../errors.js';
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
import { type WatchRecords, watchRecords } from './records.js';
import { runWatch, type WatchControl, type WatchMutation } from './runner.js';
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

export interface WatchManagerOptions {
  /**
   * Whether this manager drives watches (default true: a single daemon leads). A follower replica
   * (DESIGN §13) passes false: it serves reads, creates and overrides from the store and runs no loop
   * until `lead()`.
   */
  leading?: boolean;
}

/** Why a running watch was not driven for a while, as its `resumed` and `gap` events say it. */
interface Downtime {
  /** Opens the `resumed` event: "daemon restarted: continuing bake at 2h of 1d". */
  resumed: string;
  /** Ends the `gap` event: "9 evaluation(s) missed while the daemon was down". */
  gap: string;
}

const RESTART: Downtime = { resumed: 'daemon restarted', gap: 'while the daemon was down' };
const TAKEOVER: Downtime = {
  resumed: 'this replica took over as leader',
  gap: 'while no replica was leading',
};

/**
 * Owns every watch: creates them (superseding a service's running watch), drives each through its
 * phases, persists every change in one transaction with its timeline events, applies operator
 * overrides, answers long polls, and resumes running watches after a restart or a change of leader.
 *
 * Changes to one watch are applied one after another in this process (a tick, an override, a reload
 * and a remote change never interleave), each in one store transaction that reads the watch with its
 * row locked, so replicas on one PostgreSQL take turns too. Everything after a commit — metrics,
 * notifications, alerts, long polls, the change published to the other replicas — follows in commit
 * order.
 *
 * @example
 *   const watches = new WatchManager(deps, settings);
 *   await watches.start();                       // resumes running watches from the store
 *   const created = await watches.create({ service: 'prep-api', version: '1.4.2' });
 *   await watches.stop();                        // on shutdown
 */
export class WatchManager {
  readonly #deps: WatchDeps;
  #settings: FleetWatchSettings;
  readonly #records: WatchRecords;
  readonly #changes = new EventEmitter();
  readonly #loops = new Map<string, { controller: AbortController; done: Promise<void> }>();
  readonly #closing = new AbortController();
  readonly #control: WatchControl;
  #leading: boolean;
  /** Bumped by lead() and standDown(): a resume in progress stops when the lead changed under it. */
  #term = 0;
  /** The tail of each key's queue of changes (a watch id, or `service:<name>` for creates). */
  readonly #queues = new Map<string, Promise<void>>();
  /**
   * Serialized verdicts by watch id, least recently read first. Every change of a watch, local
   * (`#afterCommit`) or remote (`remoteChange`), drops its entry, so an entry is always the JSON of the
   * stored row.
   */
  readonly #verdictJson = new Map<string, string>();
  /** Bumped on every drop: a read that raced a change does not cache what it read before it. */
  #cacheEpoch = 0;
  /** Watches being taken up (their `resumed` write in flight): standing down waits for them. */
  readonly #takingUp = new Set<Promise<boolean>>();
  /** Resolves once the loops (and take-ups) of the last standDown() have stopped. */
  #windingDown: Promise<void> = Promise.resolve();

  constructor(deps: WatchDeps, settings: FleetWatchSettings, options: WatchManagerOptions = {}) {
    this.#deps = deps;
    this.#settings = settings;
    this.#leading = options.leading ?? true;
    this.#records = watchRecords(deps.store.watches);
    this.#changes.setMaxListeners(0);
    this.#control = {
      deps,
      settingsFor: (service) => this.#settingsFor(service),
      read: (id) => this.#records.get(id),
      current: async (id) => {
        const watch = await this.#records.get(id);
        return watch?.status === 'running' ? watch : undefined;
      },
      update: (id, mutate, options) =>
        this.#transact(id, mutate, options?.held ? 'held' : 'running', options?.signal),
    };
  }

  /** Whether this manager drives watches now. */
  get leading(): boolean {
    return this.#leading;
  }

  /** Starts the engine: resumes the running watches found in the store (none while following). Returns how many. */
  start(): Promise<number> {
    return this.resume();
  }

  /**
   * Continues every running watch in the store that has no loop here (none while following). Elapsed
   * time counts from the stored start; a smoke or load phase that was interrupted starts again; missed
   * bake evaluations become one gap event. A watch created by a follower that no loop ran yet starts
   * fresh.
   */
  resume(): Promise<number> {
    return this.#resumeAll(RESTART);
  }

  /**
   * Starts leading (DESIGN §13): resumes every running watch, like `start()`. On PostgreSQL the
   * `resumed` and `gap` events say this replica took over as leader ("while no replica was leading");
   * on SQLite, where only a restart can lead to this, they say the daemon restarted.
   */
  async lead(): Promise<number> {
    this.#leading = true;
    this.#term++;
    // Loops of an earlier lead still winding down would be taken for running ones.
    await this.#windingDown;
    return this.#resumeAll(this.#deps.store.engine === 'sqlite' ? RESTART : TAKEOVER);
  }

  /**
   * Stops leading: every watch loop is told to stop in this call (watches stay running in the store, for
   * the next leader) and none starts until `lead()`. Resolves when the loops have wound down; no loop
   * writes after that. Reads, creates, overrides and long polls keep working against the store.
   */
  standDown(): Promise<void> {
    this.#leading = false;
    this.#term++;
    const winding = Promise.allSettled([
      this.#stopLoops(new Error('no longer leading')),
      ...this.#takingUp,
    ]).then(() => undefined);
    this.#windingDown = winding;
    return winding;
  }

  /** Stops every watch loop (watches stay `running` in the store, to be resumed) and ends long polls. */
  async stop(): Promise<void> {
    this.#closing.abort(new Error('watch manager stopping'));
    await this.#stopLoops(new Error('watch manager stopping'));
  }

  /**
   * New watch settings (a reload): they apply from each running watch's next evaluation, and the
   * leader records the change in their timelines (a follower only uses them for what it creates).
   */
  async reconfigure(settings: FleetWatchSettings): Promise<void> {
    const before = this.#settings;
    this.#settings = settings;
    if (!this.#leading) return;
    const at = this.#deps.clock.now();
    for (const watch of await this.#records.running()) {
      const old = settingsOf(before, watch.service);
      const next = settingsOf(settings, watch.service);
      // A service that left the configuration: its watches are ended by the caller (`endService`).
      if (old === undefined || next === undefined) continue;
      const changes = describeSettingsChange(old, next);
      if (changes.length === 0) continue;
      await this.#transact(
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
  async endService(service: string, reason: string): Promise<number> {
    let ended = 0;
    for (const watch of await this.#records.running()) {
      if (watch.service !== service) continue;
      if ((await this.override(watch.id, 'abort', { who: 'vigil', reason })).ok) ended++;
    }
    return ended;
  }

  /**
   * Starts a watch. A running watch of the same service is superseded (ends `aborted`) in the same
   * transaction. A follower only stores it: the leader starts it when told (`remoteChange`).
   */
  async create(input: CreateWatchInput): Promise<CreateOutcome> {
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
    // Queued behind every change of the watches it may supersede, so their effects stay in order.
    const running = await this.#records.runningForService(input.service);
    const keys = [`service:${input.service}`, id, ...running.map((w) => w.id)];
    const created = await this.#serialized(keys, async () => {
      const leading = this.#leading;
      const result = await this.#deps.store.transaction((tx) =>
        insertWatch(watchRecords(tx.watches), input, settings, id, now, { awaitingLeader: !leading }),
      );
      for (const { before, after } of result.superseded) this.#afterCommit(before, after);
      const stale = result.previousNewest;
      if (stale && stale.version !== result.watch.version) forgetWatchSeries(this.#deps.metrics, stale);
      this.#afterCommit(undefined, result.watch);
      if (leading) this.#launch(id, undefined);
      // Became the leader while creating it as a follower: take it up here, as the leader would.
      else if (this.#leading) await this.#takeUp(id, TAKEOVER);
      return result;
    });
    const view = toWatchView(created.watch, await this.#records.events(id));
    return { ok: true, watch: created.warnings.length > 0 ? { ...view, warnings: created.warnings } : view };
  }

  /** The watch object with its timeline, or undefined. */
  async get(id: string): Promise<WatchView | undefined> {
    const watch = await this.#records.get(id);
    return watch ? toWatchView(watch, await this.#records.events(id)) : undefined;
  }

  /** The verdict object, or undefined. */
  async verdict(id: string): Promise<Verdict | undefined> {
    const watch = await this.#records.get(id);
    return watch ? toVerdict(watch) : undefined;
  }

  /**
   * The verdict object as JSON, the same bytes as `JSON.stringify(await verdict(id))`, or undefined.
   * Served from memory after the first read of a watch: a polled verdict costs no store read or state
   * parse.
   *
   * @example reply.type('application/json; charset=utf-8').send(await watches.verdictJson(id))
   */
  async verdictJson(id: string): Promise<string | undefined> {
    const cached = this.#verdictJson.get(id);
    if (cached !== undefined) {
      // Re-inserted so the Map's insertion order is the read order (LRU).
      this.#verdictJson.delete(id);
      this.#verdictJson.set(id, cached);
      return cached;
    }
    const epoch = this.#cacheEpoch;
    const watch = await this.#records.get(id);
    if (!watch) return undefined;
    const json = JSON.stringify(toVerdict(watch));
    // A change committed while this read was in flight may not be in it: answer it, but do not keep it.
    if (epoch !== this.#cacheEpoch) return json;
    this.#verdictJson.set(id, json);
    if (this.#verdictJson.size > VERDICT_CACHE_SIZE) {
      const oldest = this.#verdictJson.keys().next();
      if (!oldest.done) this.#verdictJson.delete(oldest.value);
    }
    return json;
  }

  /** Watch objects, newest first. */
  async list(filter: { service?: string; status?: WatchStatus; limit?: number } = {}): Promise<WatchView[]> {
    const watches = await this.#records.list(filter);
    return Promise.all(watches.map(async (w) => toWatchView(w, await this.#records.events(w.id))));
  }

  /**
   * Long poll: resolves with the verdict as soon as its status, phase, verdict, reasons or check results
   * change (here or, told by `remoteChange`, on another replica), or when `timeoutMs` runs out. Answers
   * at once when the watch has ended, when `until` was already reached, or when it changed after `since`
   * (the `updatedAt` the caller last saw). Undefined for an unknown id.
   */
  async waitForChange(
    id: string,
    options: { timeoutMs: number; until?: WaitUntil; since?: number; signal?: AbortSignal },
  ): Promise<Verdict | undefined> {
    const wake = new AbortController();
    const stop = (): void => wake.abort();
    let key: string | undefined;
    // Listening before the read: a change committed while it is in flight still wakes this poll.
    const seen: WatchRecord[] = [];
    const onChange = (changed: WatchRecord): void => {
      if (key === undefined) seen.push(changed);
      else if (changeKey(changed) !== key) wake.abort();
    };
    this.#changes.on(id, onChange);
    try {
      const watch = await this.#records.get(id);
      if (!watch) return undefined;
      const settled =
        !isActive(watch.status) ||
        (options.until !== undefined && untilReached(watch, options.until)) ||
        (options.since !== undefined && watch.updatedAt > options.since) ||
        options.timeoutMs <= 0 ||
        this.#closing.signal.aborted ||
        options.signal?.aborted === true;
      if (settled) return toVerdict(watch);
      key = changeKey(watch);
      if (seen.some((changed) => changeKey(changed) !== key)) wake.abort();
      if (!wake.signal.aborted) {
        options.signal?.addEventListener('abort', stop, { once: true });
        this.#closing.signal.addEventListener('abort', stop, { once: true });
        try {
          await this.#deps.clock.sleep(options.timeoutMs, wake.signal);
        } catch {
          // woken by a change, a closed request or shutdown: answer with the latest state
        } finally {
          options.signal?.removeEventListener('abort', stop);
          this.#closing.signal.removeEventListener('abort', stop);
        }
      }
    } finally {
      this.#changes.off(id, onChange);
    }
    const latest = await this.#records.get(id);
    return latest ? toVerdict(latest) : undefined;
  }

  /**
   * Operator override (`abort`, `promote`, `rollback`), recorded with who and why; also the answer to a
   * held watch. A watch rolls back once: a rollback of a watch that already has one (automatic, after a
   * hold timeout, or an operator's) is refused naming the first.
   */
  async override(id: string, action: OverrideAction, request: OverrideRequest): Promise<OverrideOutcome> {
    const existing = await this.#records.get(id);
    if (!existing) return { ok: false, code: 'not-found', message: `no watch ${id}` };
    let conflict: string | undefined;
    const updated = await this.#transact(
      id,
      async (w, tx) => {
        conflict = undefined;
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
            const enqueued = await this.#deps.manualRollback(tx, toVerdict(w), request);
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
    return { ok: true, watch: toWatchView(updated, await this.#records.events(id)) };
  }

  /**
   * Appends an event to a watch's timeline (e.g. a webhook delivery attempt) and wakes its long polls.
   * Returns false for an unknown watch.
   */
  appendTimeline(id: string, event: TimelineEvent): Promise<boolean> {
    return this.#serialized([id], async () => {
      const watch = await this.#records.get(id);
      if (!watch) return false;
      await this.#records.appendEvent(id, event);
      this.#changes.emit(id, watch);
      this.#publish(id);
      return true;
    });
  }

  /**
   * Another replica committed a change to watch `id` (the store's change feed): drops its cached
   * verdict, wakes its long polls with the stored state, and — when leading — starts a loop for an
   * active watch that has none here (a follower's create starts fresh; one that ran before resumes with
   * its gap) or stops the loop of a watch that is no longer active (aborted, promoted, superseded).
   */
  remoteChange(id: string): Promise<void> {
    this.#forget(id);
    return this.#serialized([id], async () => {
      this.#forget(id);
      const watch = await this.#records.get(id);
      if (!watch) return;
      this.#changes.emit(id, watch);
      if (!isActive(watch.status)) {
        this.#loops.get(id)?.controller.abort(new Error(`watch ${watch.status}`));
        return;
      }
      if (this.#leading && !this.#loops.has(id)) await this.#takeUp(id, TAKEOVER);
    });
  }

  async #resumeAll(downtime: Downtime): Promise<number> {
    const term = this.#term;
    let resumed = 0;
    for (const watch of await this.#records.running()) {
      if (term !== this.#term || !this.#leading || this.#closing.signal.aborted) break;
      if (await this.#serialized([watch.id], () => this.#takeUp(watch.id, downtime))) resumed++;
    }
    return resumed;
  }

  /**
   * Starts the loop of an active watch that has none here, when leading. Call in the watch's queue.
   * A watch a follower created (no loop ran it yet) starts fresh; any other resumes, its `resumed`
   * event saying why it was not driven. Returns whether a loop started.
   */
  #takeUp(id: string, downtime: Downtime): Promise<boolean> {
    const taking = this.#takeUpNow(id, downtime);
    this.#takingUp.add(taking);
    const forget = (): void => {
      this.#takingUp.delete(taking);
    };
    taking.then(forget, forget);
    return taking;
  }

  async #takeUpNow(id: string, downtime: Downtime): Promise<boolean> {
    if (!this.#leading || this.#closing.signal.aborted || this.#loops.has(id)) return false;
    const stored = await this.#records.get(id);
    if (!stored || !isActive(stored.status)) return false;
    if (stored.state.awaitingLeader) {
      const taken = await this.#transactNow(
        id,
        (w) => {
          const { awaitingLeader: _taken, ...state } = w.state;
          w.state = state;
          return [];
        },
        'active',
      );
      if (!taken) return false;
      this.#launch(id, undefined);
      return this.#loops.has(id);
    }
    const now = this.#deps.clock.now();
    const resumed = await this.#transactNow(
      id,
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
            message: `${downtime.resumed}: ${what} at ${elapsed} of ${formatDuration(w.durationMs)}`,
          },
        ];
      },
      'active',
    );
    if (!resumed) return false;
    this.#launch(id, downtime.gap);
    return this.#loops.has(id);
  }

  #launch(id: string, downtime: string | undefined): void {
    if (!this.#leading || this.#closing.signal.aborted || this.#loops.has(id)) return;
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, this.#closing.signal]);
    const done = runWatch(this.#control, id, signal, downtime === undefined ? {} : { downtime })
      .catch((error: unknown) => {
        this.#deps.logger.error({ watchId: id, err: errorMessage(error) }, 'watch loop stopped by an error');
      })
      .finally(() => {
        if (this.#loops.get(id)?.controller === controller) this.#loops.delete(id);
      });
    this.#loops.set(id, { controller, done });
  }

  async #stopLoops(reason: Error): Promise<void> {
    const loops = [...this.#loops.values()];
    for (const loop of loops) loop.controller.abort(reason);
    await Promise.all(loops.map((loop) => loop.done));
  }

  /**
   * Runs `fn` after every change queued before it on any of `keys` (watch ids; `service:<name>` for
   * creates), and before any queued after it. Queues never wait on a later entry, so they cannot
   * deadlock; `fn` must not await a change of its own keys (it would wait for itself).
   */
  #serialized<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const earlier = keys.flatMap((key) => {
      const tail = this.#queues.get(key);
      return tail ? [tail] : [];
    });
    const run = Promise.all(earlier).then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    for (const key of keys) this.#queues.set(key, tail);
    void tail.then(() => {
      for (const key of keys) if (this.#queues.get(key) === tail) this.#queues.delete(key);
    });
    return run;
  }

  /** `#transactNow` in the watch's queue. */
  #transact(
    id: string,
    mutate: WatchMutation,
    require: 'running' | 'held' | 'active' | 'any',
    signal?: AbortSignal,
  ): Promise<WatchRecord | undefined> {
    return this.#serialized([id], () => this.#transactNow(id, mutate, require, signal));
  }

  /**
   * Reads the watch with its row locked, applies `mutate` (null: nothing to write), reduces the
   * verdict, fires the rollback hook when the watch just failed — all in one transaction — then
   * publishes metrics, events and the change. Nothing when `signal` aborted before it began (a loop
   * told to stop starts no write). Call in the watch's queue.
   */
  async #transactNow(
    id: string,
    mutate: WatchMutation,
    require: 'running' | 'held' | 'active' | 'any',
    signal?: AbortSignal,
  ): Promise<WatchRecord | undefined> {
    if (signal?.aborted) return undefined;
    let before: WatchRecord | undefined;
    const after = await this.#deps.store.transaction(async (tx): Promise<WatchRecord | undefined> => {
      const watches = watchRecords(tx.watches);
      const watch = await watches.getForUpdate(id);
      if (!watch) return undefined;
      if (require === 'active' ? !isActive(watch.status) : require !== 'any' && watch.status !== require)
        return undefined;
      before = structuredClone(watch);
      const events = await mutate(watch, tx);
      if (events === null) return undefined;
      const now = this.#deps.clock.now();
      events.push(
        ...(await settleWatch(watch, before, now, this.#settingsFor(watch.service), this.#deps, tx)),
      );
      watch.updatedAt = now;
      await watches.update(watch);
      for (const event of events) await watches.appendEvent(id, event);
      return watch;
    });
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

  #forget(id: string): void {
    this.#verdictJson.delete(id);
    this.#cacheEpoch++;
  }

  #publish(id: string): void {
    this.#deps.store.publish({ kind: 'watch', id }).catch((error: unknown) => {
      this.#deps.logger.warn({ watchId: id, err: errorMessage(error) }, 'watch change not published');
    });
  }

  #afterCommit(before: WatchRecord | undefined, after: WatchRecord): void {
    // First, so nothing below (hooks, long polls woken by the emit) can read the old verdict.
    this.#forget(after.id);
    publishWatchMetrics(this.#deps.metrics, before, after);
    if (before && isActive(before.status) && !isActive(after.status)) {
      this.#loops.get(after.id)?.controller.abort(new Error(`watch ${after.status}`));
    }
    publishWatchEffects(this.#deps, before, after);
    this.#changes.emit(after.id, after);
    this.#publish(after.id);
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
