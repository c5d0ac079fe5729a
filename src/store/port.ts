/*
 * The store port: everything Vigil keeps, as the domain sees it, behind one asynchronous interface with
 * an adapter per engine — SQLite (src/store/sqlite/, better-sqlite3, the embedded default) and
 * PostgreSQL (src/store/postgres/, for replicas, DESIGN §13).
 *
 * The store stores documents, not meanings: a watch's phases and state, a check result, a load run's
 * summary are JSON the domain owns (typed `unknown` here and given their types by the domain module
 * that reads them). So this file, and every adapter, imports no evaluator, watch, prober or loadtest
 * module; the domain imports this port, never an adapter (only src/daemon and the CLI open one).
 *
 * Transactions: `store.transaction(fn)` runs `fn` with a `StoreTx` — the same repositories bound to
 * one transaction — and commits when `fn` resolves, rolls back when it throws. Writes made through
 * `store` outside a transaction commit one by one. Nested transactions do not exist: code handed a
 * `StoreTx` just calls it.
 */

/** A JSON document the domain owns; the store keeps it as written and gives it back parsed. */
export type Json = unknown;

// ---------------------------------------------------------------------------------------------------
// Watches, timelines and check results

export type StoredWatchStatus = 'running' | 'held' | 'passed' | 'failed' | 'inconclusive' | 'aborted';
export type StoredVerdict = 'pending' | 'pass' | 'warn' | 'fail' | 'inconclusive';

/** One watch row. `phases` and `state` are the watch engine's documents (src/watch/types.ts). */
export interface StoredWatch {
  id: string;
  service: string;
  version: string;
  previousVersion: string | null;
  status: StoredWatchStatus;
  verdict: StoredVerdict;
  phase: string;
  startedAt: number;
  updatedAt: number;
  endedAt: number | null;
  durationMs: number;
  phases: Json[];
  reasons: string[];
  state: Json;
  supersededBy: string | null;
}

export interface StoredEvent {
  at: number;
  type: string;
  message: string;
  data?: Record<string, unknown>;
}

/** One check's result in one evaluation; `data` is the whole result document. */
export interface StoredCheckResult {
  name: string;
  kind: string;
  /** epoch ms */
  evaluatedAt: number;
  result: 'pass' | 'warn' | 'fail' | 'inconclusive';
  value: number | null;
  baseline: number | null;
  explanation: string;
  data: Json;
}

export interface WatchFilter {
  service?: string;
  status?: StoredWatchStatus;
  /** Default 100. */
  limit?: number;
}

export interface WatchRepo {
  insert(watch: StoredWatch): Promise<void>;
  /** Writes every mutable field. */
  update(watch: StoredWatch): Promise<void>;
  get(id: string): Promise<StoredWatch | undefined>;
  /**
   * Inside a transaction: reads the watch and locks its row until the transaction ends, so two replicas
   * (or two requests) changing one watch take turns. Outside one: same as get.
   */
  getForUpdate(id: string): Promise<StoredWatch | undefined>;
  /**
   * Inside a transaction: holds the service's lock until the transaction ends, so two replicas creating
   * a watch of one service take turns even when it has no watch yet to lock (PostgreSQL: a
   * transaction-scoped advisory lock; SQLite: its transactions already run one at a time). Outside one:
   * nothing.
   */
  lockService(service: string): Promise<void>;
  /** Running and held watches, oldest first. */
  running(): Promise<StoredWatch[]>;
  /** Running and held watches of one service, newest first. */
  runningForService(service: string): Promise<StoredWatch[]>;
  /** The newest watch of a service, whatever its status. */
  last(service: string): Promise<StoredWatch | undefined>;
  /** Newest first. */
  list(filter: WatchFilter): Promise<StoredWatch[]>;
  appendEvent(watchId: string, event: StoredEvent): Promise<void>;
  /** Oldest first. */
  events(watchId: string): Promise<StoredEvent[]>;
  /** Stores one evaluation's results; a replay is a no-op. Returns how many rows were new. */
  saveResults(watchId: string, evaluation: number, results: readonly StoredCheckResult[]): Promise<number>;
  resultCounts(watchId: string): Promise<{ evaluations: number; rows: number }>;
}

// ---------------------------------------------------------------------------------------------------
// Rollbacks and the webhook outbox

export type StoredRollbackTrigger = 'automatic' | 'hold-timeout' | 'operator';

export interface RollbackRecord {
  watchId: string;
  at: number;
  trigger: StoredRollbackTrigger;
  who: string | null;
  reason: string | null;
}

export interface RollbackRepo {
  /** Records a watch's rollback unless one exists; returns the stored one (`created: false` when first). */
  record(rollback: RollbackRecord): Promise<{ record: RollbackRecord; created: boolean }>;
  get(watchId: string): Promise<RollbackRecord | undefined>;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryRow {
  id: string;
  watchId: string | null;
  event: string;
  target: string;
  url: string;
  idempotencyKey: string;
  /** The exact bytes signed and sent on every attempt. */
  body: string;
  dryRun: boolean;
  manual: boolean;
  status: DeliveryStatus;
  attempts: number;
  createdAt: number;
  nextAttemptAt: number;
  deliveredAt: number | null;
  lastError: string | null;
}

export interface AttemptRow {
  at: number;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}

export interface DeliveryView extends Omit<DeliveryRow, 'body'> {
  attemptLog: AttemptRow[];
}

export type NewDelivery = Omit<
  DeliveryRow,
  'status' | 'attempts' | 'deliveredAt' | 'lastError' | 'nextAttemptAt'
>;

export interface AttemptRecord extends AttemptRow {
  deliveryId: string;
  status: DeliveryStatus;
  /** When pending: the next try. */
  nextAttemptAt: number;
}

export interface OutboxRepo {
  /** Inserts a pending delivery unless (idempotency key, target) exists; returns the stored row. */
  insert(delivery: NewDelivery): Promise<{ row: DeliveryRow; created: boolean }>;
  /**
   * Claims up to `limit` due pending deliveries, oldest first, by moving each one's next attempt to
   * `leaseUntil(row)`: no other worker of any replica takes it before then (PostgreSQL: FOR UPDATE SKIP
   * LOCKED). A worker that dies mid-attempt leaves the lease, and the row is retried when it runs out.
   */
  claimDue(now: number, limit: number, leaseUntil: (row: DeliveryRow) => number): Promise<DeliveryRow[]>;
  /** Records an attempt and moves the delivery on, atomically; returns the attempt number (1-based). */
  recordAttempt(attempt: AttemptRecord): Promise<number>;
  /** Ends a pending delivery that can no longer be attempted, without an attempt. */
  fail(id: string, reason: string): Promise<void>;
  /** The earliest pending next attempt, or null. */
  nextDueAt(): Promise<number | null>;
  /** Deletes finished deliveries created before `before`; pending ones stay. */
  prune(before: number): Promise<number>;
  get(id: string): Promise<DeliveryRow | undefined>;
  /** A watch's deliveries with their attempts, oldest first, URLs reduced to scheme, host and path. */
  listForWatch(watchId: string): Promise<DeliveryView[]>;
}

// ---------------------------------------------------------------------------------------------------
// Alertmanager alerts held by Vigil

export type HeldAlertState = 'firing' | 'resolved';

export interface HeldAlert {
  key: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  generatorUrl: string | null;
  startsAt: number;
  endsAt: number | null;
  lastSentAt: number | null;
  state: HeldAlertState;
}

export interface FiringInput {
  key: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  generatorUrl: string | null;
  now: number;
  autoResolveAt: number | null;
}

export interface AlertRepo {
  /** Firing: keeps an already firing alert's start; due again at once only when its content changed. */
  upsertFiring(input: FiringInput): Promise<void>;
  resolve(key: string, now: number): Promise<boolean>;
  resolveByLabels(match: Readonly<Record<string, string>>, now: number): Promise<number>;
  resolveExpired(now: number): Promise<number>;
  /** Oldest first. */
  list(): Promise<HeldAlert[]>;
  /** Alertmanager took these in the state read: firing ones get lastSentAt, resolved ones go. */
  markSent(sent: readonly HeldAlert[], now: number): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// SLI snapshots (previous-watch and pinned baselines)

export interface SnapshotBatch {
  watchId: string;
  service: string;
  version: string;
  elapsedMs: number;
  at: number;
  values: readonly { slo: string; value: number }[];
}

export interface SnapshotRepo {
  /** Idempotent: a replayed evaluation replaces its own rows. Non-finite values are skipped. */
  save(batch: SnapshotBatch): Promise<void>;
  prune(before: number): Promise<number>;
  /** Ids of passed watches of the service that stored `slo`, newest first, without `excludeWatchId`. */
  passedWatchesWith(service: string, slo: string, excludeWatchId: string, limit: number): Promise<string[]>;
  /** The watch that stored `slo` for a version most recently. */
  latestWatchOfVersion(service: string, version: string, slo: string): Promise<string | undefined>;
  /** The value nearest to `elapsedMs` within ± toleranceMs. */
  nearest(
    watchId: string,
    slo: string,
    elapsedMs: number,
    toleranceMs: number,
  ): Promise<{ value: number; elapsedMs: number } | undefined>;
}

// ---------------------------------------------------------------------------------------------------
// Probe rollups

/** One probe-minute as stored. `histogram` counts per latency bucket (the prober's buckets). */
export interface RollupMinute {
  service: string;
  probe: string;
  /** epoch ms, a whole minute */
  minute: number;
  successes: number;
  total: number;
  latencySumMs: number;
  histogram: number[];
}

export interface RollupRepo {
  /** The stored minutes of one probe in [fromMinute, toMs), ascending. */
  range(service: string, probe: string, fromMinute: number, toMs: number): Promise<RollupMinute[]>;
  /** The stored minutes among `keys`, for merging pending runs onto them. */
  getMany(service: string, keys: readonly { probe: string; minute: number }[]): Promise<RollupMinute[]>;
  /** Writes (inserts or replaces) these minutes. */
  put(minutes: readonly RollupMinute[]): Promise<number>;
  /** Deletes minutes before `beforeMinute` for every service. */
  prune(beforeMinute: number): Promise<number>;
  /**
   * Gives rows written before fleets (service '') to `service` — probe minutes and load runs, in one
   * transaction; a pre-fleet minute the service already has is dropped. Returns how many rows moved.
   */
  adoptUnowned(service: string): Promise<number>;
}

// ---------------------------------------------------------------------------------------------------
// k6 load runs

export type LoadRunTrigger = 'watch' | 'schedule' | 'manual';

export interface StoredLoadRun {
  id: string;
  service: string;
  watchId: string | null;
  profile: string;
  trigger: LoadRunTrigger;
  startedAt: number;
  endedAt: number | null;
  exitCode: number | null;
  result: 'pass' | 'warn' | 'fail' | 'inconclusive' | null;
  explanation: string | null;
  /** `{ summary, comparison, fingerprint }`, the loadtest module's document; null while running. */
  document: Json | null;
  /** Status of the watch the run belonged to, when it still exists. */
  watchStatus: string | null;
}

/** A k6 run as it starts. */
export type NewLoadRun = Pick<
  StoredLoadRun,
  'id' | 'service' | 'watchId' | 'profile' | 'trigger' | 'startedAt'
>;

export interface LoadRunRepo {
  insert(run: NewLoadRun): Promise<void>;
  /** A null `document` stores none: the run is then never among passedRuns. */
  finish(
    id: string,
    end: {
      endedAt: number;
      exitCode: number | null;
      result: 'pass' | 'warn' | 'fail' | 'inconclusive';
      explanation: string;
      document: Json;
    },
  ): Promise<void>;
  get(id: string): Promise<StoredLoadRun | undefined>;
  /** Newest first; `limit` defaults to 50. */
  list(
    service: string,
    filter?: { profile?: string; watchId?: string; limit?: number },
  ): Promise<StoredLoadRun[]>;
  /** Passed runs of a profile with a document, newest first, none of failed or aborted watches. */
  passedRuns(service: string, profile: string, excludeId: string, limit: number): Promise<StoredLoadRun[]>;
  /** Closes runs left open by a daemon that stopped mid-run; returns how many. */
  closeInterrupted(now: number, explanation: string): Promise<number>;
}

// ---------------------------------------------------------------------------------------------------
// Log-signature patterns (the patterns check): documents as the patterns module shapes them.

/** The signatures of a baseline window, kept when the watch started. */
export interface PatternBaselineRow {
  /** ms since epoch: the window read. */
  from: number;
  to: number;
  lines: number;
  sampled: boolean;
  /** The request volume of the window (the check's `total` query), when it has one. */
  volume: number | null;
  computedAt: number;
  signatures: Json[];
}

/** A signature as a watch saw it in its latest evaluation (first seen: its earliest in the watch). */
export interface PatternObservationRow {
  check: string;
  signature: string;
  /** How the signature stands against what was known. */
  status: 'known' | 'new' | 'changed' | 'always-fail';
  level: string;
  logger: string;
  template: string;
  count: number;
  /** Its count in the baseline; null for a new signature. */
  baselineCount: number | null;
  firstSeen: number;
  lastSeen: number;
  examples: Json;
  updatedAt: number;
}

/** An operator's decision on a signature, for the service's later watches. */
export interface PatternFeedbackRow {
  service: string;
  signature: string;
  verdict: 'ignore' | 'always-fail';
  level: string;
  logger: string;
  template: string;
  reason: string;
  who: string;
  at: number;
}

/** Where a signature was seen, for feedback on it. */
export type PatternSignatureOrigin = Pick<PatternFeedbackRow, 'service' | 'level' | 'logger' | 'template'>;

/** A passed watch whose signatures a `previous-watch` baseline reads. */
export interface PatternPassedWatch {
  id: string;
  version: string;
  startedAt: number;
  endedAt: number;
}

/** A signature a watch saw in a check, with its count. */
export type PatternSignatureCount = Pick<
  PatternObservationRow,
  'signature' | 'level' | 'logger' | 'template' | 'count'
>;

export interface PatternRepo {
  baseline(watchId: string, check: string): Promise<PatternBaselineRow | undefined>;
  /** First write wins (a baseline is kept when the watch starts). */
  saveBaseline(watchId: string, check: string, service: string, baseline: PatternBaselineRow): Promise<void>;
  /** Replaces a watch's observations of a check; a signature keeps its earliest first-seen. */
  replaceObservations(
    watchId: string,
    check: string,
    service: string,
    at: number,
    observed: readonly PatternObservationRow[],
  ): Promise<void>;
  observations(watchId: string): Promise<PatternObservationRow[]>;
  /** The feedback in force for a service: the latest decision per signature, in decision order. */
  feedback(service: string): Promise<PatternFeedbackRow[]>;
  /** Every decision ever taken on a signature, oldest first (the audit). */
  feedbackHistory(signature: string): Promise<PatternFeedbackRow[]>;
  /** A signature some watch saw (the latest sighting): its service, level, logger and template. */
  findSignature(signature: string): Promise<PatternSignatureOrigin | undefined>;
  addFeedback(feedback: PatternFeedbackRow): Promise<void>;
  /** Deletes baselines and observations older than `before` (ms); the feedback audit stays. Returns rows deleted. */
  prune(before: number): Promise<number>;
  /** The last `count` passed watches of a service (newest first, without `excludeWatchId`). */
  passedWatches(service: string, excludeWatchId: string, count: number): Promise<PatternPassedWatch[]>;
  /** The signatures a watch saw in a check, ordered by signature. */
  observedOf(watchId: string, check: string): Promise<PatternSignatureCount[]>;
}

// ---------------------------------------------------------------------------------------------------
// The store

/** The repositories, bound either to the store (autocommit) or to one transaction. */
export interface StoreRepos {
  readonly watches: WatchRepo;
  readonly rollbacks: RollbackRepo;
  readonly outbox: OutboxRepo;
  readonly alerts: AlertRepo;
  readonly snapshots: SnapshotRepo;
  readonly rollups: RollupRepo;
  readonly loadRuns: LoadRunRepo;
  readonly patterns: PatternRepo;
}

/**
 * The methods that write, per repository; the rest only read. Both engines wrap these: SQLite serializes
 * them and runs each in a savepoint inside a transaction, PostgreSQL runs each in a savepoint of its own.
 */
export const STORE_WRITES: { [K in keyof StoreRepos]: readonly (keyof StoreRepos[K])[] } = {
  watches: ['insert', 'update', 'appendEvent', 'saveResults'],
  rollbacks: ['record'],
  outbox: ['insert', 'claimDue', 'recordAttempt', 'fail', 'prune'],
  alerts: ['upsertFiring', 'resolve', 'resolveByLabels', 'resolveExpired', 'markSent'],
  snapshots: ['save', 'prune'],
  rollups: ['put', 'prune', 'adoptUnowned'],
  loadRuns: ['insert', 'finish', 'closeInterrupted'],
  patterns: ['saveBaseline', 'replaceObservations', 'addFeedback', 'prune'],
};

/** The repositories bound to one transaction. */
export interface StoreTx extends StoreRepos {
  /** Runs `fn` once the transaction has committed (not at all when it rolls back), e.g. to wake a worker. */
  afterCommit(fn: () => void): void;
}

/** What changed, told to the other replicas after a commit (PostgreSQL LISTEN/NOTIFY). */
export interface StoreChange {
  kind: 'watch' | 'outbox' | 'alerts';
  /** The watch id, or '' */
  id: string;
}

export interface Store extends StoreRepos {
  readonly engine: 'sqlite' | 'postgres';
  /** Where it is, for messages: the file, or the URL without its password. */
  readonly location: string;
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /** Proves a commit works (a full disk, a read-only file, a read-only replica); throws the engine's error. */
  checkWritable(): Promise<void>;
  /** Tells the other replicas (no-op on SQLite: there are none). */
  publish(change: StoreChange): Promise<void>;
  /** Listens to the other replicas' changes; returns the unsubscribe. Never called back on SQLite. */
  subscribe(listener: (change: StoreChange) => void): () => void;
  /** The leader election for replicas on this store (SQLite: this process always leads). */
  leadership(options: { instance: string }): Leadership;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// Leadership (DESIGN §13)

export interface LeadershipStatus {
  /** This instance leads. */
  leader: boolean;
  /** This instance's name. */
  instance: string;
  /** The leader's name when known ('' when none or unknown). */
  leaderInstance: string;
  /** Why this instance does not lead, when it does not (waiting for the lock, the database is down…). */
  reason: string | null;
}

/**
 * One leader among the replicas. SQLite: always this process. PostgreSQL: an advisory lock held on a
 * dedicated connection; losing that connection calls `onLost` at once, before anyone else can lead.
 */
export interface Leadership {
  status(): LeadershipStatus;
  /** Called when this instance becomes the leader. */
  onAcquired(listener: () => void): void;
  /** Called, synchronously and first thing, when this instance stops being the leader. */
  onLost(listener: (reason: string) => void): void;
  /** Starts campaigning; resolves once the first attempt was made. */
  start(): Promise<void>;
  /** Releases the lock (if held) and stops campaigning. */
  stop(): Promise<void>;
}
