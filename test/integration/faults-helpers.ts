import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';

/*
 * Small pieces the fault-injection files share: a fake Prometheus whose answers can be held back (to
 * crash the daemon while an evaluation waits on it) and read-only views of a daemon's store.
 */

export interface FakePrometheus {
  url: string;
  /** Queries received so far. */
  readonly queries: number;
  /** Queries whose answer is being held back right now. */
  readonly inFlight: number;
  /** Holds every answer back by `ms` from now on (0: answer at once). */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

/**
 * A loopback stand-in for Prometheus' query API: answers every instant query with one sample `value`
 * (and every range query with a short series), after an adjustable delay; `/-/ready` answers 200.
 *
 * @example const prom = await startFakePrometheus('0.001'); prom.setDelay(3_000);
 */
export async function startFakePrometheus(value = '0.001'): Promise<FakePrometheus> {
  let delayMs = 0;
  let queries = 0;
  let inFlight = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (!req.url?.startsWith('/api/v1/query')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ready');
        return;
      }
      queries++;
      inFlight++;
      const now = Date.now() / 1000;
      const data = req.url.startsWith('/api/v1/query_range')
        ? {
            resultType: 'matrix',
            result: [
              {
                metric: {},
                values: [
                  [now - 10, value],
                  [now, value],
                ],
              },
            ],
          }
        : { resultType: 'vector', result: [{ metric: {}, value: [now, value] }] };
      const answer = (): void => {
        inFlight--;
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'success', data }));
      };
      if (delayMs > 0) setTimeout(answer, delayMs).unref();
      else answer();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get queries() {
      return queries;
    },
    get inFlight() {
      return inFlight;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Runs `read` on a read-only connection to the store (safe beside a running daemon: WAL mode).
 *
 * @example const rows = readStore(files.dbPath, (db) => db.prepare('SELECT * FROM outbox').all());
 */
export function readStore<T>(dbPath: string, read: (db: Database.Database) => T): T {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 2000');
    return read(db);
  } finally {
    db.close();
  }
}

export interface EvaluationLedger {
  /** Evaluation indexes with stored check results. */
  evaluated: number[];
  /** Evaluation indexes covered by gap events. */
  gaps: number[];
  /** (evaluation, check) pairs stored more than once (must be none). */
  duplicates: number;
  /** Evaluations whose number of check rows differs from the others (a half-written evaluation). */
  ragged: number[];
  /** Gap events' messages. */
  gapMessages: string[];
  resumedEvents: number;
}

/**
 * Reads, for one watch, which bake evaluations were stored and which were declared missed, so a test
 * can check that together they cover every slot exactly once.
 *
 * @example const ledger = evaluationLedger(files.dbPath, watchId);
 */
export function evaluationLedger(dbPath: string, watchId: string): EvaluationLedger {
  return readStore(dbPath, (db) => {
    // Smoke and load results use negative evaluation numbers; bake evaluations count from 0.
    const perEvaluation = db
      .prepare(
        'SELECT evaluation, count(*) AS n FROM check_results WHERE watch_id = ? AND evaluation >= 0 GROUP BY evaluation ORDER BY evaluation',
      )
      .all(watchId) as { evaluation: number; n: number }[];
    const duplicates = (
      db
        .prepare(
          'SELECT count(*) AS n FROM (SELECT evaluation, check_name FROM check_results WHERE watch_id = ? GROUP BY evaluation, check_name HAVING count(*) > 1)',
        )
        .get(watchId) as { n: number }
    ).n;
    const events = db
      .prepare('SELECT type, message, data_json FROM timeline_events WHERE watch_id = ? ORDER BY id')
      .all(watchId) as { type: string; message: string; data_json: string | null }[];
    const gaps: number[] = [];
    const gapMessages: string[] = [];
    for (const event of events.filter((e) => e.type === 'gap')) {
      const data = JSON.parse(event.data_json ?? '{}') as { firstEvaluation: number; lastEvaluation: number };
      for (let i = data.firstEvaluation; i <= data.lastEvaluation; i++) gaps.push(i);
      gapMessages.push(event.message);
    }
    const sizes = perEvaluation.map((r) => r.n);
    const usual = Math.max(...sizes);
    return {
      evaluated: perEvaluation.map((r) => r.evaluation),
      gaps,
      duplicates,
      ragged: perEvaluation.filter((r) => r.n !== usual).map((r) => r.evaluation),
      gapMessages,
      resumedEvents: events.filter((e) => e.type === 'resumed').length,
    };
  });
}

/**
 * A system tool a fault test needs (prlimit, chattr, openssl). Without it the test skips on a developer
 * machine, but with VIGIL_REQUIRE_INTEGRATION=1 (CI, .ci/run) it runs and fails saying what is missing:
 * a suite that skips its fault tests must not read as green.
 *
 * @example const tool = requiredTool('prlimit --fsize', prlimitWorks); it.skipIf(tool.skip)('…', () => { tool.assert(); … });
 */
export function requiredTool(
  what: string,
  works: boolean,
  env: NodeJS.ProcessEnv = process.env,
): { skip: boolean; assert: () => void } {
  const required = env.VIGIL_REQUIRE_INTEGRATION === '1';
  return {
    skip: !works && !required,
    assert: () => {
      if (!works) throw new Error(`${what} is required (VIGIL_REQUIRE_INTEGRATION=1) but does not work here`);
    },
  };
}
