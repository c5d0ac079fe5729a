import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { VigilError } from '../../errors.js';
import { runAfterCommit } from '../after-commit.js';
import {
  type Leadership,
  STORE_WRITES,
  type Store,
  type StoreChange,
  type StoreRepos,
  type StoreTx,
} from '../port.js';
import { createAlertRepo } from './alerts.js';
import { CHANGE_CHANNEL, ChangeFeed, changePayload } from './feed.js';
import { PostgresLeadership, type PostgresLeadershipTiming } from './leadership.js';
import { migrate } from './migrations.js';
import { createOutboxRepo, createRollbackRepo } from './outbox.js';
import { createPatternRepo } from './patterns.js';
import { createLoadRunRepo, createRollupRepo } from './rollups.js';
import { createSnapshotRepo } from './snapshots.js';
import { clientSql, inTransaction, pgTypes, poolSql, type Sql } from './sql.js';
import { createWatchRepo } from './watches.js';

/*
 * The PostgreSQL adapter of the store port (DESIGN §13): a pg.Pool for the repositories, one pooled
 * client per transaction (BEGIN … COMMIT), a dedicated LISTEN connection for the replicas' change feed,
 * and a dedicated connection per leadership for its advisory lock.
 *
 * Inside `transaction(fn)` each write runs in a savepoint, so a failed write (a constraint violated) that
 * fn catches leaves the transaction usable, as on SQLite; writes of one transaction run one at a time.
 */

export interface PostgresStoreOptions {
  /** This replica's name: the application_name of its connections, and its leadership's. */
  instance?: string;
  /** Connections in the pool; default 10. */
  poolSize?: number;
  /** Leadership timing (tests shorten it). */
  leadership?: PostgresLeadershipTiming;
}

/** The PostgreSQL store, with its pool for the adapter's own tests and diagnostics. */
export interface PostgresStore extends Store {
  readonly engine: 'postgres';
  readonly pool: pg.Pool;
}

function createRepos(sql: Sql): StoreRepos {
  return {
    watches: createWatchRepo(sql),
    rollbacks: createRollbackRepo(sql),
    outbox: createOutboxRepo(sql),
    alerts: createAlertRepo(sql),
    snapshots: createSnapshotRepo(sql),
    rollups: createRollupRepo(sql),
    loadRuns: createLoadRunRepo(sql),
    patterns: createPatternRepo(sql),
  };
}

/** SQLSTATE of a write refused by a read-only transaction (a hot standby, default_transaction_read_only). */
const READ_ONLY_SQL_TRANSACTION = '25006';

type Method = (...args: unknown[]) => Promise<unknown>;

/**
 * The repositories of one transaction: every call checks the transaction is still open, and each write
 * runs alone in its own savepoint (writes queue behind each other; reads go straight through).
 */
function transactionRepos(
  client: pg.PoolClient,
  isOpen: () => boolean,
): { repos: StoreRepos; settled: () => Promise<unknown> } {
  const repos = createRepos(clientSql(client));
  let queue: Promise<unknown> = Promise.resolve();
  let savepoints = 0;
  const ensureOpen = (): void => {
    if (!isOpen()) throw new Error('this store transaction has ended: use the store, or a new transaction');
  };
  const inSavepoint = async (call: () => Promise<unknown>): Promise<unknown> => {
    const name = `vigil_${++savepoints}`;
    await client.query(`SAVEPOINT ${name}`);
    try {
      const result = await call();
      await client.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (error) {
      // When even this fails (the connection is gone), the COMMIT fails too: the write's error is the news.
      await client.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
      throw error;
    }
  };
  const bound: Record<string, Record<string, Method>> = {};
  for (const [name, repo] of Object.entries(repos) as [keyof StoreRepos, Record<string, Method>][]) {
    const writes = new Set<string>(STORE_WRITES[name] as readonly string[]);
    const methods: Record<string, Method> = {};
    for (const [method, call] of Object.entries(repo)) {
      methods[method] = writes.has(method)
        ? async (...args) => {
            ensureOpen();
            const run = queue.then(() => inSavepoint(() => call(...args)));
            queue = run.catch(() => undefined);
            return run;
          }
        : async (...args) => {
            ensureOpen();
            return call(...args);
          };
    }
    bound[name] = methods;
  }
  // The one cast of this file: `bound` has each repository's methods, wrapped one for one.
  return { repos: bound as unknown as StoreRepos, settled: () => queue };
}

/**
 * `postgres://user@host:port/db`: the URL without its password (in the user info or the query), for
 * every message and the store's `location`.
 *
 * @example describeUrl('postgres://vigil:s3cret@db:5432/vigil') // 'postgres://vigil@db:5432/vigil'
 */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    parsed.searchParams.delete('password');
    return parsed.toString();
  } catch {
    return 'postgres://(an unparsable URL)';
  }
}

/**
 * Opens the PostgreSQL store at `url`, applying pending migrations (once, under an advisory lock, when
 * replicas start together). Fails with a VigilError: STORE_OPEN (unreachable, refused, no such
 * database), STORE_SCHEMA_TOO_NEW, STORE_MIGRATION, STORE_READONLY (a read-only replica).
 *
 * @example
 *   const store = await openPostgresStore('postgres://vigil@db:5432/vigil', { instance: 'vigil-0' });
 *   const leadership = store.leadership({ instance: 'vigil-0' });
 */
export async function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<PostgresStore> {
  const location = describeUrl(url);
  const config: pg.ClientConfig = {
    connectionString: url,
    types: pgTypes,
    application_name: options.instance ?? 'vigil',
    keepAlive: true,
    connectionTimeoutMillis: 10_000,
  };
  let pool: pg.Pool;
  try {
    pool = new pg.Pool({ ...config, max: options.poolSize ?? 10, idleTimeoutMillis: 30_000 });
  } catch (error) {
    throw new VigilError('STORE_OPEN', `cannot open the store ${location}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  // An idle pooled connection dropped (PostgreSQL restarted): the pool replaces it; the next query says so.
  pool.on('error', () => undefined);
  // A connection dropped while checked out (mid-transaction) emits 'error' on the client itself, where the
  // pool listens only while it is idle: unheard, that event would end the process. The query in flight
  // rejects with the same error, and the pool discards the client when it comes back.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });

  const checkWritable = async (): Promise<void> => {
    await inTransaction(pool, async (client) => {
      await client.query(
        'UPDATE vigil_schema SET applied_at = applied_at WHERE version = (SELECT MAX(version) FROM vigil_schema)',
      );
    });
  };

  try {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw new VigilError('STORE_OPEN', `cannot open the store ${location}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    try {
      await migrate(client, location);
    } catch (error) {
      client.release(true);
      if (error instanceof VigilError) throw error;
      if ((error as { code?: unknown }).code === READ_ONLY_SQL_TRANSACTION) {
        throw new VigilError(
          'STORE_READONLY',
          `the store ${location} cannot be written: ${(error as Error).message}`,
          { cause: error },
        );
      }
      throw new VigilError('STORE_OPEN', `cannot open the store ${location}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    client.release();
    try {
      await checkWritable();
    } catch (error) {
      throw new VigilError(
        'STORE_READONLY',
        `the store ${location} cannot be written: ${(error as Error).message}`,
        { cause: error },
      );
    }
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }

  const origin = randomUUID();
  const feed = new ChangeFeed({ ...config, types: undefined }, origin);
  const leaderships = new Set<PostgresLeadership>();
  let closing: Promise<void> | undefined;

  async function transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    const committed: (() => void)[] = [];
    let open = true;
    const value = await inTransaction(pool, async (client) => {
      const { repos, settled } = transactionRepos(client, () => open);
      try {
        const tx: StoreTx = {
          ...repos,
          afterCommit(callback) {
            if (!open)
              throw new Error('this store transaction has ended: use the store, or a new transaction');
            committed.push(callback);
          },
        };
        return await fn(tx);
      } finally {
        // A write fn started without awaiting it still belongs to this transaction: end it after that.
        await settled();
        open = false;
      }
    });
    runAfterCommit(committed);
    return value;
  }

  return {
    engine: 'postgres',
    location,
    pool,
    ...createRepos(poolSql(pool)),
    transaction,
    checkWritable,
    async publish(change: StoreChange) {
      await pool.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, changePayload(change, origin)]);
    },
    subscribe: (listener) => feed.subscribe(listener),
    leadership({ instance }): Leadership {
      const leadership = new PostgresLeadership(
        { ...config, types: undefined },
        instance,
        options.leadership,
      );
      leaderships.add(leadership);
      return leadership;
    },
    close() {
      closing ??= (async () => {
        await Promise.all([...leaderships].map((leadership) => leadership.stop()));
        await feed.close();
        await pool.end();
      })();
      return closing;
    },
  };
}
