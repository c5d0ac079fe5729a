import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { VigilError } from '../../errors.js';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

/** The schema version this build writes and understands. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Opens (creating when absent) the SQLite store in WAL mode and applies pending migrations, each in
 * its own transaction. A store written by a newer build is refused with a clear message rather than
 * risked. `:memory:` opens a throwaway store for tests.
 *
 * @example const db = openDatabase('./data/vigil.db');
 */
export function openDatabase(path: string): Db {
  if (path !== ':memory:') {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (error) {
      throw new VigilError(
        'STORE_OPEN',
        `cannot create the store folder for ${path}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }
  let db: Db;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
  } catch (error) {
    throw new VigilError('STORE_OPEN', `cannot open the store ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    migrate(db, path);
    if (path !== ':memory:') assertWritable(db, path);
  } catch (error) {
    db.close();
    if (error instanceof VigilError) throw error;
    // E.g. reading the schema version on a full disk (SQLITE_IOERR_SHMSIZE): name the file in the message.
    throw new VigilError('STORE_OPEN', `cannot open the store ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return db;
}

/**
 * Proves the store can commit: rewrites the schema version with its own value in a write transaction,
 * which appends a frame to the WAL. SQLite silently opens a file it may not write (read-only, immutable)
 * in read-only mode, and reads keep working on a full disk, so only a real commit tells.
 * Throws the SQLite error (SQLITE_READONLY, SQLITE_FULL, SQLITE_IOERR…).
 *
 * @example checkStoreWritable(db) // throws SqliteError 'attempt to write a readonly database'
 */
export function checkStoreWritable(db: Db): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  db.transaction(() => db.pragma(`user_version = ${version}`)).immediate();
}

function assertWritable(db: Db, path: string): void {
  try {
    checkStoreWritable(db);
  } catch (error) {
    throw new VigilError(
      'STORE_READONLY',
      `the store ${path} cannot be written: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

function migrate(db: Db, path: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new VigilError(
      'STORE_SCHEMA_TOO_NEW',
      `the store ${path} has schema version ${current}, newer than this build of Vigil understands (${SCHEMA_VERSION}); upgrade Vigil or point storage.path at another file`,
    );
  }
  for (let version = current; version < SCHEMA_VERSION; version++) {
    const apply = db.transaction(() => {
      db.exec(MIGRATIONS[version] as string);
      db.pragma(`user_version = ${version + 1}`);
    });
    try {
      apply();
    } catch (error) {
      throw new VigilError(
        'STORE_MIGRATION',
        `migrating the store ${path} to version ${version + 1} failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}
