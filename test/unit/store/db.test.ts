import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, test } from 'vitest';
import { VigilError } from '../../../src/errors.js';
import { openStore } from '../../../src/store/open.js';
import { SCHEMA_VERSION } from '../../../src/store/sqlite/database.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { MIGRATIONS } from '../../../src/store/sqlite/migrations.js';

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

async function openError(path: string): Promise<unknown> {
  try {
    await (await openStore({ path })).close();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('the SQLite store', () => {
  test('migrations from an empty file create every table and set user_version', async () => {
    const path = storePath();
    const store = await openSqliteStore(path);
    try {
      expect(store.engine).toBe('sqlite');
      expect(store.location).toBe(path);
      expect(tables(store.database)).toEqual(TABLES);
      expect(store.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
      expect(SCHEMA_VERSION).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  test('the store runs in WAL mode with foreign keys on', async () => {
    const store = await openSqliteStore(storePath());
    try {
      expect(store.database.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(store.database.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(store.database.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    } finally {
      await store.close();
    }
  });

  test('opening an up-to-date store again is a no-op that keeps the data', async () => {
    const path = storePath();
    const first = await openSqliteStore(path);
    first.database
      .prepare(
        `INSERT INTO watches (id, service, version, status, verdict, phase, started_at, updated_at, duration_ms, phases_json)
         VALUES ('w_1', 'prep-api', '1.0.0', 'running', 'pending', 'smoke', 1, 1, 1000, '[]')`,
      )
      .run();
    const schemaBefore = first.database.prepare('SELECT sql FROM sqlite_master ORDER BY name').all();
    await first.close();

    const second = await openSqliteStore(path);
    try {
      expect(second.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(second.database.prepare('SELECT sql FROM sqlite_master ORDER BY name').all()).toEqual(
        schemaBefore,
      );
      expect((await second.watches.list({})).map((w) => [w.id, w.service])).toEqual([['w_1', 'prep-api']]);
    } finally {
      await second.close();
    }
  });

  test('a store written by a newer build is refused, naming both versions', async () => {
    const path = storePath();
    await (await openStore({ path })).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 3}`);
    raw.close();

    const thrown = await openError(path);
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

  test('a store left at an older version is migrated forward', async () => {
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
    const store = await openSqliteStore(path);
    try {
      expect(store.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      // v2: each watch's first rollback becomes its one rollback decision.
      expect(await store.rollbacks.get('w_1')).toEqual({
        watchId: 'w_1',
        at: 1_000,
        trigger: 'automatic',
        who: null,
        reason: null,
      });
      expect(await store.rollbacks.get('w_2')).toMatchObject({ at: 3_000, trigger: 'operator' });
    } finally {
      await store.close();
    }
  });

  test('a migration that fails is a STORE_MIGRATION error naming the version, and leaves the store as it was', async () => {
    const path = storePath();
    mkdirSync(dirname(path), { recursive: true });
    const raw = new Database(path);
    raw.exec(MIGRATIONS[0] as string);
    // Migration 2 creates `rollbacks`: a table already by that name makes it fail.
    raw.exec('CREATE TABLE rollbacks (x INTEGER)');
    raw.pragma('user_version = 1');
    raw.close();
    const error = (await openError(path)) as VigilError;
    expect(error).toBeInstanceOf(VigilError);
    expect(error.code).toBe('STORE_MIGRATION');
    expect(error.message).toContain(`migrating the store ${path} to version 2 failed`);
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(1);
    } finally {
      check.close();
    }
  });

  test('a path that cannot be created is a STORE_OPEN error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-store-'));
    dirs.push(dir);
    const blocker = join(dir, 'file');
    new Database(blocker).close();
    expect(await openError(join(blocker, 'sub', 'vigil.db'))).toMatchObject({ code: 'STORE_OPEN' });
  });

  test('a file that is not a database is a STORE_OPEN error naming it', async () => {
    const path = storePath();
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, 'not a database, just text that is long enough to have a header page'.repeat(20));
    const error = (await openError(path)) as VigilError;
    expect(error.code).toBe('STORE_OPEN');
    expect(error.message).toContain(path);
  });

  test(':memory: opens a migrated throwaway store', async () => {
    const store = await openSqliteStore(':memory:');
    try {
      expect(tables(store.database)).toEqual(TABLES);
      await expect(store.checkWritable()).resolves.toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

describe('openStore', () => {
  test('a URL that is not PostgreSQL, or no store at all, is a STORE_OPEN error', async () => {
    await expect(openStore({ url: 'mysql://db/vigil' })).rejects.toMatchObject({ code: 'STORE_OPEN' });
    await expect(openStore({})).rejects.toMatchObject({ code: 'STORE_OPEN' });
  });

  test('a path opens SQLite', async () => {
    const store = await openStore({ path: ':memory:' });
    try {
      expect(store.engine).toBe('sqlite');
    } finally {
      await store.close();
    }
  });
});
