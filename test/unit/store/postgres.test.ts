import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/net.js';
import type { Leadership, NewDelivery, StoreChange, StoredWatch, StoreTx } from '../../../src/store/port.js';
import { openPostgresStore, type PostgresStore } from '../../../src/store/postgres/index.js';
import { SCHEMA_VERSION } from '../../../src/store/postgres/migrations.js';
import {
  queryOnce,
  type RunningPostgres,
  skipWithoutPostgres,
  startPostgres,
} from '../../helpers/postgres.js';
import { makeWatch } from '../../store/contract.js';

/*
 * What only the PostgreSQL adapter does: migrations under an advisory lock, refusing a newer schema,
 * leases claimed by two replicas at once, row locks, the change feed between replicas, and leadership
 * (the advisory lock on its own connection: lost at once when that connection dies, taken over by the
 * other replica within the campaign interval). The engine-agnostic behaviour is the contract suite's.
 */

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await wait(20);
  }
  return Date.now() - started;
}

function delivery(n: number, now: number): NewDelivery {
  return {
    id: `d${String(n).padStart(3, '0')}`,
    watchId: null,
    event: 'rollback',
    target: 'deployer',
    url: 'https://hooks.example/rollback',
    idempotencyKey: `key-${n}`,
    body: `{"n":${n}}`,
    dryRun: false,
    manual: false,
    createdAt: now - 1_000 + n,
  };
}

function watch(id: string, now: number): StoredWatch {
  return makeWatch({ id, startedAt: now, updatedAt: now });
}

describe.skipIf(skipWithoutPostgres)('PostgreSQL store', () => {
  let server: RunningPostgres;
  const stores: PostgresStore[] = [];
  const open = async (url: string, instance?: string): Promise<PostgresStore> => {
    const store = await openPostgresStore(url, {
      ...(instance ? { instance } : {}),
      leadership: { campaignIntervalMs: 2_000, checkIntervalMs: 2_000 },
    });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    await server?.destroy();
  });

  describe('migrations', () => {
    it('migrates an empty database to the current schema once, even when two replicas start together', async () => {
      const url = await server.createDatabase();
      const [a, b] = await Promise.all([open(url), open(url)]);
      const versions = await queryOnce<{ version: number }>(
        url,
        'SELECT version FROM vigil_schema ORDER BY 1',
      );
      expect(versions.map((row) => row.version)).toEqual(
        Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
      );
      await a?.watches.insert(watch('w1', Date.now()));
      expect((await b?.watches.get('w1'))?.service).toBe('prep-api');
      await open(url);
      expect(await queryOnce(url, 'SELECT version FROM vigil_schema')).toHaveLength(SCHEMA_VERSION);
    });

    it('refuses a schema newer than this build, naming the database without its password', async () => {
      const url = await server.createDatabase();
      await (await open(url)).close();
      await queryOnce(url, 'INSERT INTO vigil_schema (version, applied_at) VALUES ($1, 0)', [
        SCHEMA_VERSION + 1,
      ]);
      const withPassword = url.replace('postgres@', 'postgres:s3cret@');
      const error = await openPostgresStore(withPassword).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'STORE_SCHEMA_TOO_NEW' });
      const message = (error as Error).message;
      expect(message).toContain(`schema version ${SCHEMA_VERSION + 1}, newer than this build`);
      expect(message).toContain(`127.0.0.1:${server.port}/`);
      expect(message).not.toContain('s3cret');
    });

    it('refuses a database it cannot write with STORE_READONLY, migrated or not', async () => {
      for (const migrated of [true, false]) {
        const url = await server.createDatabase();
        if (migrated) await (await open(url)).close();
        const name = new URL(url).pathname.slice(1);
        await queryOnce(server.url, `ALTER DATABASE "${name}" SET default_transaction_read_only = on`);
        const error = await openPostgresStore(url).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'STORE_READONLY' });
        expect((error as Error).message).toContain(`the store ${url} cannot be written`);
      }
    });

    it('fails with STORE_OPEN naming host:port/db when PostgreSQL is not there, never the password', async () => {
      const port = await freePort();
      const error = await openPostgresStore(`postgres://vigil:s3cret@127.0.0.1:${port}/vigil`).catch(
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'STORE_OPEN' });
      expect((error as Error).message).toContain(`postgres://vigil@127.0.0.1:${port}/vigil`);
      expect((error as Error).message).not.toContain('s3cret');
      const missing = await openPostgresStore(
        `postgres://postgres@127.0.0.1:${server.port}/no_such_db`,
      ).catch((e: unknown) => e);
      expect(missing).toMatchObject({ code: 'STORE_OPEN' });
      expect((missing as Error).message).toContain('no_such_db');
    });
  });

  describe('replicas sharing one database', () => {
    it('two stores claiming due deliveries at once never take the same row', async () => {
      const url = await server.createDatabase();
      const [a, b] = [await open(url), await open(url)];
      const now = Date.now();
      for (let n = 0; n < 60; n++) await a.outbox.insert(delivery(n, now));
      const claimed: string[] = [];
      const worker = async (store: PostgresStore): Promise<void> => {
        for (;;) {
          const rows = await store.outbox.claimDue(now, 4, () => now + 60_000);
          if (rows.length === 0) return;
          claimed.push(...rows.map((row) => row.id));
        }
      };
      await Promise.all([worker(a), worker(b), worker(a), worker(b)]);
      expect(claimed).toHaveLength(60);
      expect(new Set(claimed).size).toBe(60);
      expect(await a.outbox.nextDueAt()).toBe(now + 60_000);
    });

    it('getForUpdate makes a second transaction on the same watch wait for the first to commit', async () => {
      const url = await server.createDatabase();
      const [a, b] = [await open(url), await open(url)];
      const now = Date.now();
      await a.watches.insert(watch('w1', now));
      const order: string[] = [];
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const first = a.transaction(async (tx) => {
        const w = (await tx.watches.getForUpdate('w1')) as StoredWatch;
        order.push('first locked');
        await held;
        await tx.watches.update({ ...w, phase: 'first', updatedAt: now + 1 });
        order.push('first commits');
      });
      await until(() => order.length === 1, 5_000);
      const second = b.transaction(async (tx) => {
        const w = (await tx.watches.getForUpdate('w1')) as StoredWatch;
        order.push(`second read ${w.phase}`);
      });
      await wait(300);
      expect(order).toEqual(['first locked']);
      release();
      await Promise.all([first, second]);
      expect(order).toEqual(['first locked', 'first commits', 'second read first']);
    });

    it('a failed write caught inside a transaction leaves the rest of it to commit (a savepoint each)', async () => {
      const store = await open(await server.createDatabase());
      const now = Date.now();
      await store.watches.insert(watch('w1', now));
      let escaped: unknown;
      await store.transaction(async (tx) => {
        await tx.watches.insert(watch('w1', now)).catch((error: unknown) => {
          escaped = error;
        });
        await tx.watches.insert(watch('w2', now));
      });
      expect(escaped).toMatchObject({ code: '23505' }); // unique_violation, from the driver
      expect((await store.watches.running()).map((w) => w.id)).toEqual(['w1', 'w2']);
      let kept: StoreTx | undefined;
      await store.transaction(async (tx) => {
        kept = tx;
      });
      await expect(kept?.watches.get('w1')).rejects.toThrow('this store transaction has ended');
    });

    it('a connection cut in the middle of a transaction fails that transaction, not the process', async () => {
      const url = await server.createDatabase();
      const store = await open(url);
      const now = Date.now();
      const unheard: unknown[] = [];
      const onUncaught = (error: unknown): void => {
        unheard.push(error);
      };
      process.on('uncaughtException', onUncaught);
      try {
        const cut = store.transaction(async (tx) => {
          await tx.watches.insert(watch('w-cut', now));
          // Every other session of this database goes, the transaction's among them.
          await queryOnce(
            url,
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
          );
          await wait(200);
          await tx.watches.get('w-cut');
        });
        await expect(cut).rejects.toThrow();
        expect(unheard).toEqual([]);
        // The pool gave the dead connection up: the store works on a new one, and the insert never committed.
        expect(await store.watches.get('w-cut')).toBeUndefined();
        await store.watches.insert(watch('w-after', now));
        expect((await store.watches.get('w-after'))?.id).toBe('w-after');
      } finally {
        process.off('uncaughtException', onUncaught);
      }
    });

    it('a change published by one store reaches the others, not itself', async () => {
      const url = await server.createDatabase();
      const [a, b] = [await open(url, 'vigil-a'), await open(url, 'vigil-b')];
      const heardByA: StoreChange[] = [];
      const heardByB: StoreChange[] = [];
      a.subscribe((change) => heardByA.push(change));
      b.subscribe((change) => heardByB.push(change));
      await wait(300); // both LISTEN connections up
      await a.publish({ kind: 'watch', id: 'w1' });
      await a.publish({ kind: 'outbox', id: '' });
      await until(() => heardByB.length === 2, 5_000);
      expect(heardByB).toEqual([
        { kind: 'watch', id: 'w1' },
        { kind: 'outbox', id: '' },
      ]);
      await wait(200);
      expect(heardByA).toEqual([]);
    });

    it('the change feed listens again after its connection is cut', async () => {
      const url = await server.createDatabase();
      const [a, b] = [await open(url, 'vigil-a'), await open(url, 'vigil-feed')];
      const heard: StoreChange[] = [];
      b.subscribe((change) => heard.push(change));
      await wait(300);
      const killed = await queryOnce<{ ok: boolean }>(
        url,
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
         WHERE datname = current_database() AND query = 'LISTEN vigil_changes'`,
      );
      expect(killed.map((row) => row.ok)).toEqual([true]);
      await until(async () => {
        await a.publish({ kind: 'alerts', id: '' });
        return heard.length > 0;
      }, 10_000);
      expect(heard[0]).toEqual({ kind: 'alerts', id: '' });
    });
  });

  describe('leadership', () => {
    const started: Leadership[] = [];
    afterAll(async () => {
      await Promise.all(started.map((leadership) => leadership.stop()));
    });
    const campaign = async (store: PostgresStore, instance: string) => {
      const leadership = store.leadership({ instance });
      const events: string[] = [];
      leadership.onAcquired(() => events.push('acquired'));
      leadership.onLost((reason) => events.push(`lost: ${reason}`));
      started.push(leadership);
      await leadership.start();
      return { leadership, events };
    };

    it('exactly one of two replicas leads, and the follower names it', async () => {
      const url = await server.createDatabase();
      const one = await campaign(await open(url), 'vigil-0');
      const two = await campaign(await open(url), 'vigil-1');
      expect(one.leadership.status()).toEqual({
        leader: true,
        instance: 'vigil-0',
        leaderInstance: 'vigil-0',
        reason: null,
      });
      expect(two.leadership.status()).toEqual({
        leader: false,
        instance: 'vigil-1',
        leaderInstance: 'vigil-0',
        reason: 'vigil-0 leads',
      });
      await wait(2_500);
      expect([one.leadership.status().leader, two.leadership.status().leader]).toEqual([true, false]);
      expect(two.events).toEqual([]);
    });

    it('a leader whose lock connection dies stops at once, and the other takes over within the campaign interval', async () => {
      const url = await server.createDatabase();
      const one = await campaign(await open(url), 'vigil-0');
      const two = await campaign(await open(url), 'vigil-1');
      expect(one.leadership.status().leader).toBe(true);
      const cutAt = Date.now();
      await queryOnce(
        url,
        `SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND a.application_name = 'vigil-0'`,
      );
      const lostAfterMs = await until(() => one.events.length === 2, 5_000);
      expect(one.events[1]).toMatch(/^lost: the leadership connection/);
      expect(one.leadership.status().leader).toBe(false);
      const takeoverMs = await until(() => two.leadership.status().leader, 5_000);
      expect(two.events).toEqual(['acquired']);
      expect(Date.now() - cutAt).toBeLessThan(2_000 + 1_000);
      process.stdout.write(`leadership: lost after ${lostAfterMs} ms, taken over after ${takeoverMs} ms\n`);
      // The old leader campaigns again and follows.
      await until(() => one.leadership.status().leaderInstance === 'vigil-1', 5_000);
      expect(one.leadership.status().leader).toBe(false);
    });

    it('a leader cut off by a silent network steps down before the server frees the lock', async () => {
      const url = await server.createDatabase();
      const proxy = await silenceableProxy(server.port);
      try {
        const viaProxy = url.replace(`:${server.port}/`, `:${proxy.port}/`);
        const isolated = await openPostgresStore(viaProxy, {
          leadership: { campaignIntervalMs: 500, checkIntervalMs: 500, checkTimeoutMs: 1_000 },
        });
        stores.push(isolated);
        const order: string[] = [];
        const one = await campaign(isolated, 'vigil-isolated');
        one.leadership.onLost(() => order.push('isolated lost'));
        const two = await campaign(await open(url), 'vigil-1');
        two.leadership.onAcquired(() => order.push('other acquired'));
        expect(one.leadership.status().leader).toBe(true);
        proxy.silence(); // packets vanish: no error, no close, on either side
        const lostAfterMs = await until(() => order.includes('isolated lost'), 5_000);
        expect(lostAfterMs).toBeLessThan(500 + 1_000 + 500);
        expect(two.leadership.status().leader).toBe(false); // the server still sees the old session
        proxy.closeServerSide(); // the server's keepalives give up on the silent client
        await until(() => two.leadership.status().leader, 5_000);
        expect(order).toEqual(['isolated lost', 'other acquired']);
      } finally {
        proxy.close();
      }
    });

    it('a SIGKILLed leader process is replaced within 15 s (the lock goes with its socket)', async () => {
      const url = await server.createDatabase();
      await open(url);
      const child = leaderProcess(url, 'vigil-killed');
      try {
        await until(() => child.output.includes('leading'), 15_000);
        const follower = await campaign(await open(url), 'vigil-survivor');
        expect(follower.leadership.status()).toMatchObject({ leader: false, leaderInstance: 'vigil-killed' });
        const killedAt = Date.now();
        child.process.kill('SIGKILL');
        await until(() => follower.leadership.status().leader, 15_000);
        const takeoverMs = Date.now() - killedAt;
        process.stdout.write(`leadership: SIGKILLed leader replaced after ${takeoverMs} ms\n`);
        expect(takeoverMs).toBeLessThan(15_000);
      } finally {
        child.process.kill('SIGKILL');
      }
    });

    it('PostgreSQL stopping takes leadership away, and it comes back when PostgreSQL does', async () => {
      const url = await server.createDatabase();
      const store = await open(url);
      const one = await campaign(store, 'vigil-0');
      expect(one.leadership.status().leader).toBe(true);
      await server.stop();
      try {
        await until(() => one.events.length === 2, 5_000);
        expect(one.events).toEqual(['acquired', expect.stringMatching(/^lost: /)]);
        await until(() => /unreachable/.test(one.leadership.status().reason ?? ''), 5_000);
        await expect(store.watches.get('w1')).rejects.toThrow();
      } finally {
        await server.start();
      }
      await until(() => one.leadership.status().leader, 10_000);
      expect(one.events.slice(2)).toEqual(['acquired']);
      expect(await store.watches.get('w1')).toBeUndefined();
    });
  });
});

/**
 * A TCP proxy to PostgreSQL that can go silent (forward nothing, close nothing: a dead network as both
 * ends see it) and then close its server side (the server's keepalives giving up).
 */
async function silenceableProxy(
  targetPort: number,
): Promise<{ port: number; silence(): void; closeServerSide(): void; close(): void }> {
  const pairs: { client: Socket; upstream: Socket }[] = [];
  let silent = false;
  const proxy = createServer((client) => {
    if (silent) {
      client.destroy(); // a new connection across the dead network fails
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = () => undefined;
    client.on('error', drop);
    upstream.on('error', drop);
    pairs.push({ client, upstream });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    silence() {
      silent = true;
      for (const { client, upstream } of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    closeServerSide() {
      for (const { upstream } of pairs) upstream.destroy();
    },
    close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      proxy.close();
    },
  };
}

/** A leader in its own process, from the compiled adapter (global-setup builds dist/). */
function leaderProcess(url: string, instance: string): { process: ChildProcess; output: string } {
  const entry = fileURLToPath(new URL('../../../dist/src/store/postgres/index.js', import.meta.url));
  const script = `
    const { openPostgresStore } = await import(${JSON.stringify(entry)});
    const store = await openPostgresStore(${JSON.stringify(url)});
    const leadership = store.leadership({ instance: ${JSON.stringify(instance)} });
    leadership.onAcquired(() => console.log('leading'));
    await leadership.start();
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const handle = { process: child, output: '' };
  child.stdout?.on('data', (chunk: Buffer) => {
    handle.output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    handle.output += chunk.toString('utf8');
  });
  return handle;
}
