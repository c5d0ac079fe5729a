import { runAfterCommit } from '../after-commit.js';
import { LocalLeadership } from '../local-leadership.js';
import {
  type Leadership,
  STORE_WRITES,
  type Store,
  type StoreChange,
  type StoreRepos,
  type StoreTx,
} from '../port.js';
import { createAlertRepo } from './alerts.js';
import { checkStoreWritable, type Db, openDatabase } from './database.js';
import { Mutex } from './mutex.js';
import { createOutboxRepo, createRollbackRepo } from './outbox.js';
import { createPatternRepo } from './patterns.js';
import { createLoadRunRepo, createRollupRepo } from './rollups.js';
import { createSnapshotRepo } from './snapshots.js';
import type { Sync } from './sync.js';
import { createWatchRepo } from './watches.js';

/*
 * The SQLite adapter of the store port: one better-sqlite3 connection, whose calls are synchronous.
 *
 * Writes are serialized by an async mutex: `transaction(fn)` holds it from BEGIN IMMEDIATE to COMMIT
 * (fn may await anything meanwhile), and a write made through the store itself waits for it, then runs
 * in its own immediate transaction. Inside `fn`, a write runs in a savepoint, so a multi-statement
 * method that throws leaves nothing half-written even when fn catches the error. Reads go straight
 * through: on one connection they see the open transaction's writes.
 *
 * Inside `fn` use the `tx` handed in: awaiting a write through `store` (or a nested
 * `store.transaction`) there waits for the transaction that is waiting for it, forever.
 */

type SyncRepos = { [K in keyof StoreRepos]: Sync<StoreRepos[K]> };

/** How a bound repository runs a method: `read` or `write` it, returning the method's value. */
interface Runner {
  read<T>(call: () => T): Promise<T>;
  write<T>(call: () => T): Promise<T>;
}

type Method = (...args: unknown[]) => unknown;

function bind(repos: SyncRepos, runner: Runner): StoreRepos {
  const bound: Record<string, Record<string, Method>> = {};
  for (const [name, repo] of Object.entries(repos) as [keyof StoreRepos, Record<string, Method>][]) {
    const writes = new Set<string>(STORE_WRITES[name] as readonly string[]);
    const methods: Record<string, Method> = {};
    for (const [method, call] of Object.entries(repo)) {
      methods[method] = writes.has(method)
        ? (...args) => runner.write(() => call(...args))
        : (...args) => runner.read(() => call(...args));
    }
    bound[name] = methods;
  }
  // The one cast of this file: `bound` has each repository's methods, made asynchronous one for one.
  return bound as unknown as StoreRepos;
}

/** The SQLite store; `database` is the connection itself, for the adapter's own tests and diagnostics. */
export interface SqliteStore extends Store {
  readonly engine: 'sqlite';
  readonly database: Db;
}

/**
 * Opens (creating and migrating when needed) the SQLite store at `path`; `:memory:` for a throwaway
 * one. Fails with the VigilError codes of openDatabase: STORE_OPEN, STORE_READONLY,
 * STORE_SCHEMA_TOO_NEW, STORE_MIGRATION.
 *
 * @example
 *   const store = await openSqliteStore('./data/vigil.db');
 *   await store.transaction(async (tx) => { await tx.watches.update(watch); tx.afterCommit(wake); });
 */
export async function openSqliteStore(path: string): Promise<SqliteStore> {
  const db = openDatabase(path);
  const repos: SyncRepos = {
    watches: createWatchRepo(db),
    rollbacks: createRollbackRepo(db),
    outbox: createOutboxRepo(db),
    alerts: createAlertRepo(db),
    snapshots: createSnapshotRepo(db),
    rollups: createRollupRepo(db),
    loadRuns: createLoadRunRepo(db),
    patterns: createPatternRepo(db),
  };
  const mutex = new Mutex();
  const autocommit = bind(repos, {
    read: async (call) => call(),
    write: (call) => mutex.run(() => db.transaction(call).immediate()),
  });

  async function transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    const committed: (() => void)[] = [];
    const value = await mutex.run(async () => {
      let open = true;
      const ensureOpen = (): void => {
        if (!open) throw new Error('this store transaction has ended: use the store, or a new transaction');
      };
      const tx: StoreTx = {
        ...bind(repos, {
          read: async (call) => {
            ensureOpen();
            return call();
          },
          // Inside the open transaction, db.transaction runs as a savepoint.
          write: async (call) => {
            ensureOpen();
            return db.transaction(call)();
          },
        }),
        afterCommit(callback) {
          ensureOpen();
          committed.push(callback);
        },
      };
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(tx);
        db.exec('COMMIT');
        return result;
      } catch (error) {
        committed.length = 0;
        // SQLite may have rolled back already (SQLITE_FULL, SQLITE_IOERR on COMMIT).
        if (db.inTransaction) db.exec('ROLLBACK');
        throw error;
      } finally {
        open = false;
      }
    });
    // After the mutex is released, so a callback that writes (a worker woken up) does not wait on us.
    runAfterCommit(committed);
    return value;
  }

  return {
    engine: 'sqlite',
    location: path,
    database: db,
    ...autocommit,
    transaction,
    checkWritable: () => mutex.run(() => checkStoreWritable(db)),
    publish: async (_change: StoreChange) => {},
    subscribe: (_listener: (change: StoreChange) => void) => () => {},
    leadership: ({ instance }): Leadership => new LocalLeadership(instance),
    close: () =>
      mutex.run(() => {
        db.close();
      }),
  };
}
