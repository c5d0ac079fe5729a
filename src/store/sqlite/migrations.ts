/**
 * Versioned schema migrations. Each entry moves the store from version i to i+1; the version lives in
 * SQLite's `PRAGMA user_version`. Append only: never edit a migration that has shipped.
 * Times are integers, milliseconds since the Unix epoch.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the whole initial schema (DESIGN §5–§7).
  `
  CREATE TABLE watches (
    id               TEXT PRIMARY KEY,
    service          TEXT NOT NULL,
    version          TEXT NOT NULL,
    previous_version TEXT,
    status           TEXT NOT NULL CHECK (status IN ('running','passed','failed','inconclusive','aborted')),
    verdict          TEXT NOT NULL CHECK (verdict IN ('pending','pass','warn','fail','inconclusive')),
    phase            TEXT NOT NULL,
    started_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    ended_at         INTEGER,
    duration_ms      INTEGER NOT NULL,
    phases_json      TEXT NOT NULL,
    reasons_json     TEXT NOT NULL DEFAULT '[]',
    state_json       TEXT NOT NULL DEFAULT '{}',
    superseded_by    TEXT
  );
  CREATE INDEX watches_service_started ON watches (service, started_at DESC);
  CREATE INDEX watches_status ON watches (status);

  CREATE TABLE timeline_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    watch_id  TEXT NOT NULL REFERENCES watches (id) ON DELETE CASCADE,
    at        INTEGER NOT NULL,
    type      TEXT NOT NULL,
    message   TEXT NOT NULL,
    data_json TEXT
  );
  CREATE INDEX timeline_watch ON timeline_events (watch_id, id);

  -- One row per check per evaluation. watch_id is NULL for continuous (non-watch) evaluation.
  -- The unique key makes a replayed evaluation after a crash a no-op instead of a duplicate.
  CREATE TABLE check_results (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    watch_id     TEXT REFERENCES watches (id) ON DELETE CASCADE,
    evaluation   INTEGER NOT NULL,
    check_name   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    evaluated_at INTEGER NOT NULL,
    result       TEXT NOT NULL CHECK (result IN ('pass','warn','fail','inconclusive')),
    value        REAL,
    baseline     REAL,
    explanation  TEXT NOT NULL,
    data_json    TEXT NOT NULL,
    UNIQUE (watch_id, evaluation, check_name)
  );
  CREATE INDEX check_results_watch ON check_results (watch_id, check_name, evaluation);

  -- SLI values by elapsed time since the deploy, for previous-watch and pinned baselines.
  CREATE TABLE sli_snapshots (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    watch_id   TEXT NOT NULL,
    service    TEXT NOT NULL,
    version    TEXT NOT NULL,
    slo        TEXT NOT NULL,
    elapsed_ms INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    value      REAL NOT NULL,
    UNIQUE (watch_id, slo, elapsed_ms)
  );
  CREATE INDEX sli_snapshots_lookup ON sli_snapshots (service, slo, elapsed_ms);
  CREATE INDEX sli_snapshots_version ON sli_snapshots (service, version, slo);
  CREATE INDEX sli_snapshots_at ON sli_snapshots (at);

  -- Per-probe, per-minute rollups: counts and a latency histogram (JSON array of bucket counts).
  CREATE TABLE probe_rollups (
    probe      TEXT NOT NULL,
    minute     INTEGER NOT NULL,
    successes  INTEGER NOT NULL,
    total      INTEGER NOT NULL,
    latency_sum_ms REAL NOT NULL,
    latency_hist   TEXT NOT NULL,
    PRIMARY KEY (probe, minute)
  ) WITHOUT ROWID;

  -- Webhook outbox: enqueued in the transaction that decides the event; delivered by a worker.
  CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    watch_id        TEXT,
    event           TEXT NOT NULL,
    target          TEXT NOT NULL,
    url             TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    body            TEXT NOT NULL,
    dry_run         INTEGER NOT NULL DEFAULT 0,
    manual          INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL CHECK (status IN ('pending','delivered','failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_error      TEXT,
    UNIQUE (idempotency_key, target)
  );
  CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

  CREATE TABLE delivery_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    status_code INTEGER,
    latency_ms  REAL NOT NULL,
    error       TEXT
  );
  CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id);

  -- Alertmanager alerts Vigil holds (re-sent until resolved), keyed by the caller's key. For a firing
  -- alert ends_at is an optional auto-resolve deadline; for a resolved one, when it ended. A resolved
  -- row stays until Alertmanager has accepted the resolution (last_sent_at NULL = still to send).
  CREATE TABLE alerts (
    key              TEXT PRIMARY KEY,
    labels_json      TEXT NOT NULL,
    annotations_json TEXT NOT NULL,
    generator_url    TEXT,
    starts_at        INTEGER NOT NULL,
    ends_at          INTEGER,
    last_sent_at     INTEGER,
    state            TEXT NOT NULL CHECK (state IN ('firing','resolved'))
  );

  CREATE TABLE loadtest_runs (
    id           TEXT PRIMARY KEY,
    watch_id     TEXT,
    profile      TEXT NOT NULL,
    trigger      TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    exit_code    INTEGER,
    result       TEXT CHECK (result IN ('pass','warn','fail','inconclusive')),
    explanation  TEXT,
    summary_json TEXT
  );
  CREATE INDEX loadtest_runs_profile ON loadtest_runs (profile, started_at DESC);
  `,
  // 2: one rollback per watch (DESIGN §6): the decision that fired it — when, which path, who — whatever
  // the number of targets (none included). Stores that already rolled back watches take the earliest
  // rollback delivery of each as its decision (an operator's when that delivery was manual).
  `
  CREATE TABLE rollbacks (
    watch_id TEXT PRIMARY KEY,
    at       INTEGER NOT NULL,
    trigger  TEXT NOT NULL CHECK (trigger IN ('automatic','hold-timeout','operator')),
    who      TEXT,
    reason   TEXT
  );
  INSERT INTO rollbacks (watch_id, at, trigger)
    SELECT watch_id, MIN(created_at), CASE manual WHEN 1 THEN 'operator' ELSE 'automatic' END
    FROM outbox WHERE event = 'rollback' AND watch_id IS NOT NULL GROUP BY watch_id;
  `,
  // 3: log signatures (issue 19). The baseline's signatures of each patterns check, read once at watch
  // start, so a 24-hour watch does not depend on Loki still holding the pre-deploy logs; the signatures each
  // watch saw (known, new, changed), for the API; operators' feedback on a signature, one row per decision
  // (the audit), the latest per service and signature in force.
  `
  CREATE TABLE pattern_baselines (
    watch_id        TEXT NOT NULL,
    check_name      TEXT NOT NULL,
    service         TEXT NOT NULL,
    range_from      INTEGER NOT NULL,
    range_to        INTEGER NOT NULL,
    lines           INTEGER NOT NULL,
    sampled         INTEGER NOT NULL,
    volume          REAL,
    computed_at     INTEGER NOT NULL,
    signatures_json TEXT NOT NULL,
    PRIMARY KEY (watch_id, check_name)
  );

  CREATE TABLE pattern_observations (
    watch_id       TEXT NOT NULL,
    check_name     TEXT NOT NULL,
    signature      TEXT NOT NULL,
    service        TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('known','new','changed','always-fail')),
    level          TEXT NOT NULL,
    logger         TEXT NOT NULL,
    template       TEXT NOT NULL,
    count          INTEGER NOT NULL,
    baseline_count INTEGER,
    first_seen     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    examples_json  TEXT NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (watch_id, check_name, signature)
  );
  CREATE INDEX pattern_observations_signature ON pattern_observations (signature);

  CREATE TABLE pattern_feedback (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    service   TEXT NOT NULL,
    signature TEXT NOT NULL,
    verdict   TEXT NOT NULL CHECK (verdict IN ('ignore','always-fail')),
    level     TEXT NOT NULL,
    logger    TEXT NOT NULL,
    template  TEXT NOT NULL,
    reason    TEXT NOT NULL,
    who       TEXT NOT NULL,
    at        INTEGER NOT NULL
  );
  CREATE INDEX pattern_feedback_service ON pattern_feedback (service, signature, id);
  `,
  // 4: fleets (issue 16). Probe rollups and load runs belong to a service: two services may each have a
  // probe \`health\` or a profile \`smoke\`. Rows written before fleets get service '' and are adopted by the
  // service of a single-service config at start (adoptUnownedRows).
  `
  CREATE TABLE probe_rollups_v4 (
    service    TEXT NOT NULL,
    probe      TEXT NOT NULL,
    minute     INTEGER NOT NULL,
    successes  INTEGER NOT NULL,
    total      INTEGER NOT NULL,
    latency_sum_ms REAL NOT NULL,
    latency_hist   TEXT NOT NULL,
    PRIMARY KEY (service, probe, minute)
  ) WITHOUT ROWID;
  INSERT INTO probe_rollups_v4 (service, probe, minute, successes, total, latency_sum_ms, latency_hist)
    SELECT '', probe, minute, successes, total, latency_sum_ms, latency_hist FROM probe_rollups;
  DROP TABLE probe_rollups;
  ALTER TABLE probe_rollups_v4 RENAME TO probe_rollups;
  CREATE INDEX probe_rollups_minute ON probe_rollups (minute);

  ALTER TABLE loadtest_runs ADD COLUMN service TEXT NOT NULL DEFAULT '';
  DROP INDEX loadtest_runs_profile;
  CREATE INDEX loadtest_runs_profile ON loadtest_runs (service, profile, started_at DESC);
  `,
];
