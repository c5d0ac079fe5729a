import pg from 'pg';

/*
 * How the repositories reach PostgreSQL: an executor bound either to the pool (each statement commits on
 * its own; `atomic` checks a client out for BEGIN … COMMIT) or to one transaction's client (`atomic` just
 * runs inline: the caller's transaction is already atomic).
 */

export interface Sql {
  /** Runs a statement and returns its rows. */
  rows<Row>(text: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Runs a statement and returns how many rows it touched. */
  run(text: string, params?: readonly unknown[]): Promise<number>;
  /** Runs several statements atomically: a transaction of their own, or the caller's. */
  atomic<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
  /** True inside a transaction (row locks hold until it ends). */
  readonly inTransaction: boolean;
}

/** pg's type ids of the results this adapter reads (pg_type.oid). */
const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * Result types: BIGINT (epoch ms, counts) and NUMERIC (sums) come back as JS numbers, not strings. Every
 * BIGINT this store keeps is an epoch-ms time or a count, far below 2^53.
 */
export const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

type Queryable = pg.Pool | pg.PoolClient;

async function query<Row>(db: Queryable, text: string, params: readonly unknown[] = []) {
  return db.query<Row & pg.QueryResultRow>(text, params as unknown[]);
}

/**
 * Runs `fn` in a transaction on one pooled client: BEGIN, `fn`, COMMIT; ROLLBACK when it throws. A client
 * whose ROLLBACK fails (its connection is gone) is destroyed rather than returned to the pool.
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      broken = rollbackError as Error;
    }
    throw error;
  } finally {
    client.release(broken);
  }
}

/** An executor over the pool or one client; `atomic` is how it runs several statements as one. */
function executor(db: Queryable, inTransaction: boolean, atomic: Sql['atomic']): Sql {
  return {
    inTransaction,
    async rows<Row>(text: string, params?: readonly unknown[]) {
      return (await query<Row>(db, text, params)).rows;
    },
    async run(text, params) {
      return (await query(db, text, params)).rowCount ?? 0;
    },
    atomic,
  };
}

/** The executor of statements that commit one by one. */
export function poolSql(pool: pg.Pool): Sql {
  return executor(pool, false, (fn) => inTransaction(pool, (client) => fn(clientSql(client))));
}

/** The executor bound to one transaction's client. */
export function clientSql(client: pg.PoolClient): Sql {
  const sql: Sql = executor(client, true, (fn) => fn(sql));
  return sql;
}

/**
 * Closes a connection politely (Terminate, then the server closes), but within `boundMs`: on a dead
 * network the polite way never ends.
 */
export async function closeClient(client: pg.Client, boundMs = 1_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bounded = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      destroyClient(client);
      resolve();
    }, boundMs);
  });
  await Promise.race([client.end().catch(() => undefined), bounded]);
  clearTimeout(timer);
}

/**
 * Closes a connection at once, without the goodbye `end()` waits for: on a dead network that wait never
 * ends, and closing the socket is what frees the lock on the server.
 */
export function destroyClient(client: pg.Client): void {
  client.removeAllListeners('error');
  client.on('error', () => undefined);
  client.connection.stream.destroy();
}
