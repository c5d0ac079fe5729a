import { afterAll, beforeAll, describe } from 'vitest';
import { openStore } from '../../../src/store/open.js';
import {
  queryOnce,
  type RunningPostgres,
  skipWithoutPostgres,
  startPostgres,
} from '../../helpers/postgres.js';
import { describeStoreContract } from '../../store/contract.js';

/*
 * The store port's contract on PostgreSQL 15: one throwaway cluster and database for the file, opened the
 * way the daemon opens it (openStore with a postgres:// URL). Each test gets it empty: every table but the
 * schema version is truncated before the open (a CREATE DATABASE per test costs ~1 s; migrations from an
 * empty database are postgres.test.ts's).
 */

describe.skipIf(skipWithoutPostgres)('PostgreSQL', () => {
  let server: RunningPostgres;
  let url: string;
  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase();
  });
  afterAll(() => server?.destroy());

  describeStoreContract('postgres', async () => {
    const tables = await queryOnce<{ name: string }>(
      url,
      "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'vigil_schema'",
    );
    if (tables.length > 0) {
      await queryOnce(url, `TRUNCATE ${tables.map((t) => `"${t.name}"`).join(', ')} RESTART IDENTITY`);
    }
    return openStore({ url, instance: 'vigil-contract' });
  });
});
