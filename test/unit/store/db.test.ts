import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, test } from 'vitest';
import { VigilError } from '../../../src/errors.js';
import { openDatabase, SCHEMA_VERSION } from '../../../src/store/db.js';
import { MIGRATIONS } from '../../../src/store/migrations.js';

/** Every table DESIGN §5–§7 needs; a migration that drops or forgets one fails here. */
const TABLES = [
  'alerts',
  'check_results',
  'delivery_attempts',
  'loadtest_runs',
  'outbox',
  'pattern_baselines',
  'pattern_feedback',
  'pattern_observations',
  'probe_rollups',
  'rollbacks',
  'sli_snapshots',
  'timeline_events',
  'watches',
];

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function storePath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-store-'));
  dirs.push(dir);
  return join(dir, 'nested', 'vigil.db');
}

function tables(db: Database.Database): string[] {
  return (
    db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .all() as { name: string }[]
  ).map((row) => row.name);
}

describe('openDatabase', () => {
  test('migrations from an empty file create every table and set user_version', () => {
    const path = storePath();
    const db = openDatabase(path);
    try {
      expect(tables(db)).toEqual(TABLES);
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
      expect(SCHEMA_VERSION).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  });

  test('the store runs in WAL mode with foreign keys on', () => {
    const db = openDatabase(storePath());
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    } finally {
      db.close();
    }
  });

  test('opening an up-to-date store again is a no-op that keeps the data', () => {
    const path = storePath();
    const first = openDatabase(path);
    first
      .prepare(
        `INSERT INTO watches (id, service, version, status, verdict, phase, started_at, updated_at, duration_ms, phases_json)
         VALUES ('w_1', 'prep-api', '1.0.0', 'running', 'pending', 'smoke', 1, 1, 1000, '[]')`,
      )
      .run();
    const schemaBefore = first.prepare('SELECT sql FROM sqlite_master ORDER BY name').all();
    first.close();

    const second = openDatabase(path);
    try {
      expect(second.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(second.prepare('SELECT sql FROM sqlite_master ORDER BY name').all()).toEqual(schemaBefore);
      expect(second.prepare('SELECT id, service FROM watches').all()).toEqual([
        { id: 'w_1', service: 'prep-api' },
      ]);
    } finally {
      second.close();
    }
  });

  test('a store written by a newer build is refused, naming both versions', () => {
    const path = storePath();
    openDatabase(path).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 3}`);
    raw.close();

    let thrown: unknown;
    try {
      openDatabase(path).close();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(VigilError);
    const error = thrown as VigilError;
    expect(error.code).toBe('STORE_SCHEMA_TOO_NEW');
    expect(error.message).toContain(`schema version ${SCHEMA_VERSION + 3}`);
    expect(error.message).toContain(`(${SCHEMA_VERSION})`);
    expect(error.message).toContain(path);

    // The refusal must not have touched the file: its version is still the newer one.
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 3);
    } finally {
      check.close();
    }
  });

  test('a store left at an older version is migrated forward', () => {
    if (MIGRATIONS.length < 2) {
      // Only one migration so far: the "older" store is the empty file, covered above. Pin that an
      // empty file with user_version 0 counts as old.
      const path = storePath();
      openDatabase(path).close();
      const raw = new Database(path);
      expect(raw.pragma('user_version', { simple: true })).toBe(1);
      raw.close();
      return;
    }
    const path = storePath();
    mkdirSync(dirname(path), { recursive: true });
    const raw = new Database(path);
    raw.exec(MIGRATIONS[0] as string);
    raw.pragma('user_version = 1');
    // A v1 store that rolled back w_1 automatically, then by hand; w_2 only by hand.
    const insert = raw.prepare(
      `INSERT INTO outbox (id, watch_id, event, target, url, idempotency_key, body, manual, status, created_at, next_attempt_at)
       VALUES (?, ?, 'rollback', 'rollback:0', 'http://x', ?, '{}', ?, 'delivered', ?, 0)`,
    );
    insert.run('d1', 'w_1', 'w_1:rollback', 0, 1_000);
    insert.run('d2', 'w_1', 'w_1:rollback:manual:1', 1, 2_000);
    insert.run('d3', 'w_2', 'w_2:rollback:manual:1', 1, 3_000);
    raw.close();
    const db = openDatabase(path);
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      // v2: each watch's first rollback becomes its one rollback decision.
      expect(db.prepare('SELECT watch_id, at, trigger FROM rollbacks ORDER BY watch_id').all()).toEqual([
        { watch_id: 'w_1', at: 1_000, trigger: 'automatic' },
        { watch_id: 'w_2', at: 3_000, trigger: 'operator' },
      ]);
    } finally {
      db.close();
    }
  });

  test('a path that cannot be created is a STORE_OPEN error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-store-'));
    dirs.push(dir);
    const blocker = join(dir, 'file');
    new Database(blocker).close();
    expect(() => openDatabase(join(blocker, 'sub', 'vigil.db'))).toThrow(
      expect.objectContaining({ code: 'STORE_OPEN' }),
    );
  });

  test(':memory: opens a migrated throwaway store', () => {
    const db = openDatabase(':memory:');
    try {
      expect(tables(db)).toEqual(TABLES);
    } finally {
      db.close();
    }
  });
});
