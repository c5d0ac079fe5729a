import { execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../../src/net.js';

/*
 * A REAL PostgreSQL 15 (Debian's binaries) for tests: `initdb` into a temporary directory and `pg_ctl`
 * on a free loopback port, with trust authentication (nothing but this machine's loopback and a private
 * socket directory can reach it) and fsync off (a throwaway cluster need not survive a power cut).
 * Startup takes ~1–2 s, so share one cluster per test file and give each test its own database.
 *
 * PostgreSQL refuses to run as root: when the tests run as root, initdb and pg_ctl run as the
 * `postgres` OS user (runuser) on a directory chowned to it.
 *
 * Gating (like Prometheus): without the binaries the tests skip — unless VIGIL_REQUIRE_INTEGRATION=1,
 * where startPostgres() throws a clear error so the suite FAILS instead.
 *
 *   import { describe } from 'vitest';
 *   import { skipWithoutPostgres, startPostgres, type RunningPostgres } from '../helpers/postgres.js';
 *   describe.skipIf(skipWithoutPostgres)('…', () => {
 *     let server: RunningPostgres;
 *     beforeAll(async () => { server = await startPostgres(); });
 *     afterAll(() => server?.destroy());
 *     it('…', async () => { const url = await server.createDatabase(); … });
 *   });
 *
 * The cluster is removed when the test process exits, and by a watchdog shell when it dies without
 * exiting (SIGKILL), so no stray postmaster outlives the suite.
 */

export const POSTGRES_BIN_DIR = process.env.VIGIL_POSTGRES_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
const INITDB = join(POSTGRES_BIN_DIR, 'initdb');
const PG_CTL = join(POSTGRES_BIN_DIR, 'pg_ctl');

/** True when the binaries are missing. */
export const postgresMissing = !existsSync(INITDB) || !existsSync(PG_CTL);
/** Skip PostgreSQL tests only when the binaries are missing and integration is not required. */
export const skipWithoutPostgres = postgresMissing && process.env.VIGIL_REQUIRE_INTEGRATION !== '1';

export interface RunningPostgres {
  /** The maintenance database's URL, e.g. postgres://postgres@127.0.0.1:40123/postgres */
  url: string;
  port: number;
  dataDir: string;
  /** Creates a fresh empty database (a unique name when none is given) and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server (fast shutdown: every connection is cut); the cluster stays for start(). */
  stop(): Promise<void>;
  /** Starts the stopped server again on the same port. */
  start(): Promise<void>;
  /** Stops the server and starts it again at once. */
  restart(): Promise<void>;
  /** Stops the server, waits `ms`, starts it again. */
  stopFor(ms: number): Promise<void>;
  /** Stops the server and removes the cluster. Idempotent. */
  destroy(): Promise<void>;
  /** The server's log so far (for failure messages). */
  log(): string;
}

export interface StartPostgresOptions {
  /** Bound on each start and stop; default 30 s. */
  timeoutMs?: number;
}

const run = promisify(execFile);
const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL binary, as the `postgres` OS user when this process is root. */
function command(bin: string, args: readonly string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, [...args]];
}

async function runPg(bin: string, args: readonly string[], timeoutMs: number): Promise<string> {
  const [file, argv] = command(bin, args);
  try {
    const { stdout } = await run(file, argv, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stderr = '', stdout = '' } = error as { stderr?: string; stdout?: string };
    throw new Error(`${bin} ${args.join(' ')} failed: ${(stderr || stdout || String(error)).trim()}`, {
      cause: error,
    });
  }
}

function readLog(path: string): string {
  try {
    return execFileSync('tail', ['-c', '8000', path], { encoding: 'utf8' });
  } catch {
    return '';
  }
}

let sequence = 0;

/**
 * Creates a cluster in a temporary directory and starts it on a free loopback port, resolving once it
 * accepts connections.
 *
 * @example const server = await startPostgres(); const url = await server.createDatabase();
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<RunningPostgres> {
  if (postgresMissing) {
    throw new Error(
      `PostgreSQL tests need ${INITDB} and ${PG_CTL} (VIGIL_REQUIRE_INTEGRATION=1 is set): ` +
        'install them with `apt-get install postgresql`',
    );
  }
  const timeoutMs = options.timeoutMs ?? 30_000;
  const root = mkdtempSync(join(tmpdir(), 'vigil-pg-'));
  const dataDir = join(root, 'data');
  const socketDir = join(root, 'sock');
  const logFile = join(root, 'postgres.log');
  let destroyed = false;
  let stopWatchdog = (): void => {};

  const removeSync = (): void => {
    if (destroyed) return;
    destroyed = true;
    stopWatchdog();
    try {
      const [file, argv] = command(PG_CTL, ['-D', dataDir, '-m', 'immediate', '-w', '-t', '10', 'stop']);
      execFileSync(file, argv, { stdio: 'ignore', timeout: 15_000 });
    } catch {
      // Not running (never started, or already stopped): nothing to stop.
    }
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', removeSync);

  try {
    mkdirSync(socketDir);
    if (asRoot) {
      const { uid, gid } = postgresIds();
      chownSync(root, uid, gid);
      chownSync(socketDir, uid, gid);
    }
    await runPg(
      INITDB,
      ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      timeoutMs * 2,
    );
    stopWatchdog = startWatchdog(root, dataDir);

    let port = 0;
    const pgStart = async (): Promise<void> => {
      const settings = [
        `-p ${port}`,
        `-k ${socketDir}`,
        '-c listen_addresses=127.0.0.1',
        '-c fsync=off',
        '-c synchronous_commit=off',
        '-c full_page_writes=off',
        '-c max_connections=200',
        '-c shared_buffers=16MB',
      ].join(' ');
      await runPg(
        PG_CTL,
        [
          '-D',
          dataDir,
          '-l',
          logFile,
          '-o',
          settings,
          '-w',
          '-t',
          String(Math.ceil(timeoutMs / 1000)),
          'start',
        ],
        timeoutMs + 5_000,
      );
    };
    // A port picked free can be taken before PostgreSQL binds it; try again with a new one.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await pgStart();
        break;
      } catch (error) {
        const log = readLog(logFile);
        if (attempt >= 3 || !/could not bind|address already in use/i.test(log)) {
          throw new Error(`${(error as Error).message}\n${log}`, { cause: error });
        }
      }
    }

    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    let running = true;
    const server: RunningPostgres = {
      url,
      port,
      dataDir,
      log: () => readLog(logFile),
      async createDatabase(name) {
        const database = name ?? `vigil_${process.pid}_${++sequence}_${Date.now().toString(36)}`;
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE "${database.replaceAll('"', '')}" STRATEGY FILE_COPY`);
        } finally {
          await client.end();
        }
        return `postgres://postgres@127.0.0.1:${port}/${database}`;
      },
      async stop() {
        if (!running) return;
        await runPg(
          PG_CTL,
          ['-D', dataDir, '-m', 'fast', '-w', '-t', String(Math.ceil(timeoutMs / 1000)), 'stop'],
          timeoutMs + 5_000,
        );
        running = false;
      },
      async start() {
        if (running) return;
        // The same port, so every URL handed out stays valid; it was ours a moment ago.
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          try {
            await pgStart();
            break;
          } catch (error) {
            if (Date.now() > deadline) throw new Error(`${(error as Error).message}\n${readLog(logFile)}`);
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        }
        running = true;
      },
      async restart() {
        await server.stop();
        await server.start();
      },
      async stopFor(ms) {
        await server.stop();
        await new Promise((resolve) => setTimeout(resolve, ms));
        await server.start();
      },
      async destroy() {
        process.removeListener('exit', removeSync);
        removeSync();
      },
    };
    return server;
  } catch (error) {
    process.removeListener('exit', removeSync);
    removeSync();
    throw error;
  }
}

function postgresIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/**
 * A detached shell that stops the cluster and removes its directory once this process is gone, however
 * it went (a worker killed by the test runner never runs its 'exit' handlers). Returns its stopper.
 */
function startWatchdog(root: string, dataDir: string): () => void {
  const [file, argv] = command(PG_CTL, ['-D', dataDir, '-m', 'immediate', 'stop']);
  const quoted = [file, ...argv].map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(' ');
  const script = `while kill -0 ${process.pid} 2>/dev/null && [ -d '${root}' ]; do sleep 2; done; [ -d '${root}' ] && { ${quoted} >/dev/null 2>&1; rm -rf '${root}'; }`;
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  child.unref();
  return () => {
    try {
      if (child.pid !== undefined) process.kill(child.pid);
    } catch {
      // Already gone.
    }
  };
}

/** Runs one SQL statement on a URL and returns its rows (tests' inspection and fault injection). */
export async function queryOnce<Row extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(sql, params)).rows;
  } finally {
    await client.end();
  }
}
