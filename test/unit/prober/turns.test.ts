import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeSchema } from '../../../src/config/schema.js';
import { runProbe } from '../../../src/prober/engine.js';
import { prepareProbe } from '../../../src/prober/prepare.js';
import { createJudgeTurns, type JudgeTurns } from '../../../src/prober/turns.js';
import { type Running, startHttp } from './servers.js';

/*
 * The judge turns: exchanges that finished in one poll phase are judged one per check phase, so the loop
 * reads ready sockets (their end times) between two judgments. The loop's timers phase stands in for
 * the poll phase here: a timer that is due runs between two turns, never between two judgments of the
 * same turn.
 */

/** Holds the thread until a 1 ms timer set before it is surely due. */
function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
}

/** Sets a 1 ms timer that logs `timer`, then holds the thread past its due time; resolves once it ran. */
function dueTimer(log: string[]): Promise<void> {
  const fired = new Promise<void>((resolve) =>
    setTimeout(() => {
      log.push('timer');
      resolve();
    }, 1),
  );
  busyFor(5);
  return fired;
}

describe('judge turns', () => {
  it('releases one waiter per loop turn: a due timer runs between two judgments', async () => {
    const turns = createJudgeTurns();
    const log: string[] = [];
    let timer: Promise<void> = Promise.resolve();
    const judged = ['a', 'b', 'c'].map((name) =>
      turns.next().then(() => {
        log.push(name);
        if (name === 'a') timer = dueTimer(log);
      }),
    );
    await Promise.all(judged);
    await timer;
    expect(log).toEqual(['a', 'timer', 'b', 'c']);
  });

  it('a plain setImmediate per exchange judges them all in one check phase (what the turns replace)', async () => {
    const log: string[] = [];
    let timer: Promise<void> = Promise.resolve();
    const judged = ['a', 'b', 'c'].map((name) =>
      new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        log.push(name);
        if (name === 'a') timer = dueTimer(log);
      }),
    );
    await Promise.all(judged);
    await timer;
    expect(log).toEqual(['a', 'b', 'c', 'timer']);
  });

  it('keeps the order of arrival, and a waiter queued later still gets its turn', async () => {
    const turns = createJudgeTurns();
    const log: number[] = [];
    await Promise.all([1, 2, 3].map((n) => turns.next().then(() => log.push(n))));
    await turns.next().then(() => log.push(4));
    expect(log).toEqual([1, 2, 3, 4]);
  });
});

describe('a run takes its turns', () => {
  let server: Running;
  beforeAll(async () => {
    server = await startHttp((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('{"status":"ok"}');
    });
  });
  afterAll(() => server.close());

  /** Turns that count the exchanges judged through them. */
  function counting(): JudgeTurns & { taken: number } {
    const turns = createJudgeTurns();
    return {
      taken: 0,
      next() {
        this.taken++;
        return turns.next();
      },
    };
  }

  it.each([
    [
      'a smoke probe waits once',
      { kind: 'smoke', request: { path: '/health' }, expect: [{ status: 200 }] },
      1,
    ],
    [
      'a journey waits once per step',
      {
        kind: 'synthetic',
        steps: [
          { name: 'one', request: { path: '/a' }, expect: [{ status: 200 }] },
          { name: 'two', request: { path: '/b' }, expect: [{ jsonPath: '$.status', equals: 'ok' }] },
        ],
      },
      2,
    ],
  ])('%s', async (_name, raw, expected) => {
    const turns = counting();
    const config = probeSchema.parse({ name: 'p', timeout: '2s', ...raw });
    const result = await runProbe(prepareProbe(config, { baseUrl: server.url }), { now: Date.now, turns });
    expect(result.success).toBe(true);
    expect(turns.taken).toBe(expected);
  });
});
