import { VigilError } from '../errors.js';
import type { Store } from './port.js';
import { openSqliteStore } from './sqlite/index.js';

/** Where the store is: an SQLite file (`:memory:` for tests), or a PostgreSQL URL. */
export interface StoreOptions {
  /** The SQLite file; `:memory:` opens a throwaway store. */
  path?: string;
  /** `postgres://` or `postgresql://`: the PostgreSQL store shared by replicas (DESIGN §13). */
  url?: string;
  /** This replica's name (PostgreSQL: its application_name and leadership). */
  instance?: string;
}

const POSTGRES_URL = /^postgres(?:ql)?:\/\//;

/**
 * Opens the store the options name: PostgreSQL for a postgres:// URL (its driver is loaded only then),
 * otherwise SQLite at `path`. The one place src/daemon, the CLI and tests open a store.
 *
 * @example
 *   const store = await openStore({ path: ':memory:' });
 *   const shared = await openStore({ url: 'postgres://vigil@db:5432/vigil', instance: 'vigil-0' });
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  if (options.url !== undefined) {
    if (!POSTGRES_URL.test(options.url)) {
      throw new VigilError(
        'STORE_OPEN',
        'storage.url must start with postgres:// or postgresql:// (use storage.path for SQLite)',
      );
    }
    const { openPostgresStore } = await import('./postgres/index.js');
    return openPostgresStore(options.url, options);
  }
  if (options.path === undefined) {
    throw new VigilError(
      'STORE_OPEN',
      'no store given: set storage.path (SQLite) or storage.url (PostgreSQL)',
    );
  }
  return openSqliteStore(options.path);
}
