import type pg from 'pg';
import { VigilError } from '../../errors.js';

/**
 * The PostgreSQL schema's migration history, its own (the SQLite one starts from 2021's tables; this one
 * starts from today's). Each entry moves the database from version i to i+1; the versions applied are
 * rows of `vigil_schema`. Append only: never edit a migration that has shipped.
 *
 * Times are BIGINT milliseconds since the Unix epoch; documents the domain owns are TEXT holding JSON as
 * written (JSONB would reorder their keys), cast to jsonb where a query looks inside. A held watch is
 * stored with status 'held' (SQLite keeps 'running' plus `state.held`: its CHECK predates holds).
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the whole schema as of SQLite's version 4 (DESIGN §5–§7, rollbacks, log signatures, fleets).
  `
  CREATE TABLE watches (
    id               TEXT PRIMARY KEY,
    service          TEXT NOT NULL,
    version          TEXT NOT NULL,
    previous_version TEXT,
    status           TEXT NOT NULL
                     CHECK (status IN ('running','held','passed','failed','inconclusive','aborted')),
    verdict          TEXT NOT NULL CHECK (verdict IN ('pending','pass','warn','fail','inconclusive')),
    phase            TEXT NOT NULL,
    started_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    ended_at         BIGINT,
    duration_ms      BIGINT NOT NULL,
    phases_json      TEXT NOT NULL,
    reasons_json     TEXT NOT NULL DEFAULT '[]',
    state_json       TEXT NOT NULL DEFAULT '{}',
    superseded_by    TEXT
  );
  CREATE INDEX watches_service_started ON watches (service, started_at DESC);
  CREATE INDEX watches_status ON watches (status);

  CREATE TABLE timeline_events (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    watch_id  TEXT NOT NULL REFERENCES watches (id) ON DELETE CASCADE,
    at        BIGINT NOT NULL,
    type      TEXT NOT NULL,
    message   TEXT NOT NULL,
    data_json TEXT
  );
  CREATE INDEX timeline_watch ON timeline_events (watch_id, id);

  CREATE TABLE check_results (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    watch_id     TEXT REFERENCES watches (id) ON DELETE CASCADE,
    evaluation   BIGINT NOT NULL,
    check_name   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    evaluated_at BIGINT NOT NULL,
    result       TEXT NOT NULL CHECK (result IN ('pass','warn','fail','inconclusive')),
    value        DOUBLE PRECISION,
    baseline     DOUBLE PRECISION,
    explanation  TEXT NOT NULL,
    data_json    TEXT NOT NULL,
    UNIQUE (watch_id, evaluation, check_name)
  );

  CREATE TABLE sli_snapshots (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    watch_id   TEXT NOT NULL,
    service    TEXT NOT NULL,
    version    TEXT NOT NULL,
    slo        TEXT NOT NULL,
    elapsed_ms BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    value      DOUBLE PRECISION NOT NULL,
    UNIQUE (watch_id, slo, elapsed_ms)
  );
  CREATE INDEX sli_snapshots_lookup ON sli_snapshots (service, slo, elapsed_ms);
  CREATE INDEX sli_snapshots_version ON sli_snapshots (service, version, slo);
  CREATE INDEX sli_snapshots_at ON sli_snapshots (at);

  CREATE TABLE probe_rollups (
    service        TEXT NOT NULL,
    probe          TEXT NOT NULL,
    minute         BIGINT NOT NULL,
    successes      BIGINT NOT NULL,
    total          BIGINT NOT NULL,
    latency_sum_ms DOUBLE PRECISION NOT NULL,
    latency_hist   TEXT NOT NULL,
    PRIMARY KEY (service, probe, minute)
  );
  CREATE INDEX probe_rollups_minute ON probe_rollups (minute);

  CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    watch_id        TEXT,
    event           TEXT NOT NULL,
    target          TEXT NOT NULL,
    url             TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    body            TEXT NOT NULL,
    dry_run         BOOLEAN NOT NULL DEFAULT false,
    manual          BOOLEAN NOT NULL DEFAULT false,
    status          TEXT NOT NULL CHECK (status IN ('pending','delivered','failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_error      TEXT,
    UNIQUE (idempotency_key, target)
  );
  CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
  CREATE INDEX outbox_watch ON outbox (watch_id, created_at);

  CREATE TABLE delivery_attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    status_code INTEGER,
    latency_ms  DOUBLE PRECISION NOT NULL,
    error       TEXT
  );
  CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id);

  CREATE TABLE rollbacks (
    watch_id TEXT PRIMARY KEY,
    at       BIGINT NOT NULL,
    trigger  TEXT NOT NULL CHECK (trigger IN ('automatic','hold-timeout','operator')),
    who      TEXT,
    reason   TEXT
  );

  CREATE TABLE alerts (
    key              TEXT PRIMARY KEY,
    labels_json      TEXT NOT NULL,
    annotations_json TEXT NOT NULL,
    generator_url    TEXT,
    starts_at        BIGINT NOT NULL,
    ends_at          BIGINT,
    last_sent_at     BIGINT,
    state            TEXT NOT NULL CHECK (state IN ('firing','resolved'))
  );

  CREATE TABLE loadtest_runs (
    id           TEXT PRIMARY KEY,
    service      TEXT NOT NULL DEFAULT '',
    watch_id     TEXT,
    profile      TEXT NOT NULL,
    trigger      TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    ended_at     BIGINT,
    exit_code    INTEGER,
    result       TEXT CHECK (result IN ('pass','warn','fail','inconclusive')),
    explanation  TEXT,
    summary_json TEXT
  );
  CREATE INDEX loadtest_runs_profile ON loadtest_runs (service, profile, started_at DESC);

  CREATE TABLE pattern_baselines (
    watch_id        TEXT NOT NULL,
    check_name      TEXT NOT NULL,
    service         TEXT NOT NULL,
    range_from      BIGINT NOT NULL,
    range_to        BIGINT NOT NULL,
    lines           BIGINT NOT NULL,
    sampled         BOOLEAN NOT NULL,
    volume          DOUBLE PRECISION,
    computed_at     BIGINT NOT NULL,
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
    count          BIGINT NOT NULL,
    baseline_count BIGINT,
    first_seen     BIGINT NOT NULL,
    last_seen      BIGINT NOT NULL,
    examples_json  TEXT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (watch_id, check_name, signature)
  );
  CREATE INDEX pattern_observations_signature ON pattern_observations (signature);

  CREATE TABLE pattern_feedback (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service   TEXT NOT NULL,
    signature TEXT NOT NULL,
    verdict   TEXT NOT NULL CHECK (verdict IN ('ignore','always-fail')),
    level     TEXT NOT NULL,
    logger    TEXT NOT NULL,
    template  TEXT NOT NULL,
    reason    TEXT NOT NULL,
    who       TEXT NOT NULL,
    at        BIGINT NOT NULL
  );
  CREATE INDEX pattern_feedback_service ON pattern_feedback (service, signature, id);
  `,
];

/** The schema version this build writes and understands. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The transaction-scoped advisory lock migrations run under ('vigilMIG'), so replicas starting together
 * migrate once: the second waits, then finds the schema current.
 */
const MIGRATION_LOCK_KEY = BigInt('0x766967696C4D4947').toString();

/**
 * Applies pending migrations in one transaction under the migration lock; refuses a schema newer than
 * this build (STORE_SCHEMA_TOO_NEW). `location` names the database in messages (never its password).
 *
 * @example await migrate(client, 'postgres://vigil@db:5432/vigil')
 */
export async function migrate(client: pg.ClientBase, location: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    // Created only when absent, so opening a current database needs no write (a read-only one is then
    // reported by the write check that follows, as read-only).
    const { rows: exists } = await client.query<{ found: boolean }>(
      "SELECT to_regclass('vigil_schema') IS NOT NULL AS found",
    );
    if (!exists[0]?.found) {
      await client.query(
        `CREATE TABLE IF NOT EXISTS vigil_schema (
           version    INTEGER PRIMARY KEY,
           applied_at BIGINT NOT NULL
         )`,
      );
    }
    const { rows } = await client.query<{ version: number }>(
      'SELECT COALESCE(MAX(version), 0)::integer AS version FROM vigil_schema',
    );
    const current = rows[0]?.version ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new VigilError(
        'STORE_SCHEMA_TOO_NEW',
        `the store ${location} has schema version ${current}, newer than this build of Vigil understands (${SCHEMA_VERSION}); upgrade Vigil or point storage.url at another database`,
      );
    }
    for (let version = current; version < SCHEMA_VERSION; version++) {
      try {
        await client.query(MIGRATIONS[version] as string);
        await client.query('INSERT INTO vigil_schema (version, applied_at) VALUES ($1, $2)', [
          version + 1,
          Date.now(),
        ]);
      } catch (error) {
        throw new VigilError(
          'STORE_MIGRATION',
          `migrating the store ${location} to version ${version + 1} failed: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
