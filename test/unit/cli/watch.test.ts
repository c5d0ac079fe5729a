import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { WATCH_USAGE } from '../../../src/cli/watch.js';
import { freePort } from '../../../src/net.js';
import { buildApp } from '../../../src/server/app.js';
import { watchRoutes } from '../../../src/server/routes/watches.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import type { Verdict, WatchView } from '../../../src/watch/types.js';
import { runInProcess } from '../../helpers/cli.js';
import { createHarness, type Harness, T0 } from '../watch/harness.js';

/*
 * The operator commands against a recording fake daemon (exact requests, canned answers such as a held
 * watch), and once end to end against the real routes.
 */

const HELD: WatchView = {
  id: 'w_held',
  service: 'prep-api',
  version: '1.4.2',
  previousVersion: '1.4.1',
  status: 'held',
  phase: 'bake',
  verdict: 'fail',
  startedAt: '2026-11-27T10:00:00.000Z',
  updatedAt: '2026-11-27T10:20:00.000Z',
  endedAt: null,
  durationMs: 86_400_000,
  reasons: ['p95-latency 0.8 ≥ objective 0.5 (enforce: hold)'],
  checks: [],
  blindSpans: [],
  held: {
    since: '2026-11-27T10:20:00.000Z',
    until: '2026-11-27T10:50:00.000Z',
    reasons: ['p95-latency 0.8 ≥ objective 0.5'],
  },
  duration: '1d',
  supersededBy: null,
  phases: [{ name: 'bake', state: 'running', startedAt: '2026-11-27T10:00:00.000Z', endedAt: null }],
  timeline: [{ at: '2026-11-27T10:20:00.000Z', type: 'held', message: 'held: p95-latency failed' }],
};

interface Recorded {
  method: string;
  url: string;
  body: unknown;
  authorization: string | undefined;
}

let fake: http.Server;
let fakeUrl: string;
let recorded: Recorded[] = [];
/** The fake daemon's answer to the next request: status and JSON body. */
let answer: (req: Recorded) => { status: number; body: unknown } = () => ({ status: 200, body: HELD });

beforeAll(async () => {
  fake = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c) => {
      text += c;
    });
    req.on('end', () => {
      const entry: Recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        body: text ? JSON.parse(text) : undefined,
        authorization: req.headers.authorization,
      };
      recorded.push(entry);
      const { status, body } = answer(entry);
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => fake.close(() => resolve())));

beforeEach(() => {
  recorded = [];
  answer = () => ({ status: 200, body: HELD });
});

const env = { VIGIL_API_TOKEN: 'tok-123', USER: 'ops-bot' };

describe('vigil watch list and show', () => {
  test('list asks for the filters given and shows a held watch as awaiting a decision', async () => {
    answer = () => ({ status: 200, body: { watches: [HELD] } });
    const run = await runInProcess(
      ['watch', 'list', '--service', 'prep-api', '--status', 'held', '--server', fakeUrl],
      env,
    );
    expect(run.code).toBe(0);
    expect(recorded).toEqual([
      {
        method: 'GET',
        url: '/api/v1/watches?service=prep-api&status=held',
        body: undefined,
        authorization: 'Bearer tok-123',
      },
    ]);
    const row = run.stderr.split('\n').find((l) => l.startsWith('w_held')) ?? '';
    expect(row).toMatch(/^w_held\s+prep-api\s+1\.4\.2\s+1\.4\.1\s+held\s+bake\s+fail\s+/);
    expect(row).toContain('awaiting promote or rollback until 2026-11-27T10:50:00.000Z');
    expect(run.stdout).toBe('');
  });

  test('list --json prints the daemon answer on stdout, one document', async () => {
    answer = () => ({ status: 200, body: { watches: [HELD] } });
    const run = await runInProcess(['watch', 'list', '--json', '--server', fakeUrl], env);
    expect(run.code).toBe(0);
    expect(recorded[0]?.url).toBe('/api/v1/watches');
    expect(JSON.parse(run.stdout)).toEqual({ watches: [HELD] });
  });

  test('show prints the watch, the hold with the commands to decide it, and the timeline', async () => {
    const run = await runInProcess(['watch', 'show', 'w_held', '--server', fakeUrl], env);
    expect(run.code).toBe(0);
    expect(recorded[0]?.url).toBe('/api/v1/watches/w_held');
    expect(run.stderr).toContain('w_held prep-api 1.4.2: held, phase bake');
    expect(run.stderr).toContain('held since 2026-11-27T10:20:00.000Z, until 2026-11-27T10:50:00.000Z');
    expect(run.stderr).toContain('`vigil watch promote w_held --reason …`');
    expect(run.stderr).toContain('2026-11-27T10:20:00.000Z  held        held: p95-latency failed');
  });

  test('show prints each check with its value in its unit and what its result means', async () => {
    const p95 = {
      name: 'p95-latency',
      kind: 'slo' as const,
      result: 'fail' as const,
      value: 0.8,
      objective: { lt: 0.5 },
      baseline: null,
      samples: 5,
      query: 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
      explanation: '0.8 is not < 0.5',
      consecutiveFailures: 3,
      evaluatedAt: '2026-11-27T10:20:00.000Z',
    };
    answer = () => ({ status: 200, body: { ...HELD, checks: [p95] } });
    const run = await runInProcess(['watch', 'show', 'w_held', '--server', fakeUrl], env);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('  p95-latency fail 800 ms (objective < 500 ms; limit reached)');
  });

  test('show of a watch the daemon does not know is refused (1) with its answer', async () => {
    answer = () => ({ status: 404, body: { error: 'not found', message: 'no watch w_nope' } });
    const run = await runInProcess(['watch', 'show', 'w_nope', '--server', fakeUrl], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('404 no watch w_nope');
  });
});

describe('vigil watch promote|rollback|abort', () => {
  test.each(['promote', 'rollback', 'abort'] as const)(
    '%s posts the reason and --who to the override route',
    async (action) => {
      answer = () => ({ status: 200, body: { ...HELD, status: 'passed' } });
      const run = await runInProcess(
        ['watch', action, 'w_held', '--reason', 'checked by hand', '--who', 'alice', '--server', fakeUrl],
        env,
      );
      expect(run.code).toBe(0);
      expect(recorded).toEqual([
        {
          method: 'POST',
          url: `/api/v1/watches/w_held/${action}`,
          body: { reason: 'checked by hand', who: 'alice' },
          authorization: 'Bearer tok-123',
        },
      ]);
    },
  );

  test('without --who the login name is sent', async () => {
    await runInProcess(['watch', 'promote', 'w_held', '--reason', 'ok', '--server', fakeUrl], env);
    expect(recorded[0]?.body).toEqual({ reason: 'ok', who: 'ops-bot' });
  });

  test("a refusal exits 1 and prints the daemon's reason", async () => {
    answer = () => ({
      status: 409,
      body: { error: 'conflict', message: 'watch w_held was already rolled back (rollback by bob)' },
    });
    const run = await runInProcess(
      ['watch', 'rollback', 'w_held', '--reason', 'again', '--server', fakeUrl],
      env,
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('409 watch w_held was already rolled back (rollback by bob)');
  });

  test('a daemon that is not there exits 4', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    for (const args of [
      ['watch', 'abort', 'w_1', '--reason', 'x'],
      ['watch', 'list'],
      ['watch', 'show', 'w_1'],
    ]) {
      const run = await runInProcess([...args, '--server', closed], env);
      expect(run.code, args.join(' ')).toBe(4);
      expect(run.stderr).toContain('cannot reach the Vigil daemon');
    }
  });
});

describe('usage', () => {
  test.each([
    { args: ['watch', 'promote', 'w_1'], says: '--reason is required' },
    { args: ['watch', 'rollback', '--reason', 'x'], says: 'expected exactly one watch ID' },
    { args: ['watch', 'abort', 'w_1', 'w_2', '--reason', 'x'], says: 'expected exactly one watch ID' },
    { args: ['watch', 'promote', 'w_1', '--reason', '  '], says: '--reason is required' },
    { args: ['watch', 'promote', 'w_1', '--reason', 'x', '--who', ''], says: '--who needs a name' },
    { args: ['watch', 'list', '--status', 'stuck'], says: '--status must be one of running, held,' },
    { args: ['watch', 'list', '--verbose'], says: 'vigil watch list: unknown flag --verbose' },
    { args: ['watch', 'list', '--stauts', 'held'], says: 'unknown flag --stauts (did you mean --status?)' },
    { args: ['watch', 'promote', 'w_1', '--reason'], says: '--reason needs a value' },
    { args: ['watch', 'show'], says: 'expected exactly one watch ID' },
    { args: ['watch'], says: 'a subcommand is required' },
    { args: ['watch', 'stop', 'w_1'], says: 'unknown command "watch stop"' },
  ])('$args: exit 64 with the watch usage, nothing sent', async ({ args, says }) => {
    const run = await runInProcess([...args, '--server', fakeUrl], env);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain(says);
    expect(run.stderr).toContain(WATCH_USAGE);
    expect(recorded).toEqual([]);
  });

  test.each(['watch --help', 'watch -h', 'help watch'])(
    '%s prints the watch usage and exits 0',
    async (line) => {
      const run = await runInProcess(line.split(' '), env);
      expect(run.code).toBe(0);
      expect(run.stderr).toBe(WATCH_USAGE);
    },
  );

  test.each([
    { line: 'watch list --help', flags: ['--status S', '--service S'], exits: '4 cannot reach the daemon' },
    { line: 'watch show -h', flags: ['show ID'], exits: '1 refused' },
    { line: 'watch promote --help', flags: ['--reason TEXT', '--who NAME'], exits: '64 usage error' },
    { line: 'watch rollback --help', flags: ['--reason TEXT'], exits: 'once per watch' },
    { line: 'watch abort --help', flags: ['--reason TEXT'], exits: '64 usage error' },
    {
      line: 'watch start w_1 --help',
      flags: ['--previous-version P', '--duration D'],
      exits: '4 cannot reach',
    },
  ])(
    "$line prints that subcommand's own help and exits 0, sending nothing",
    async ({ line, flags, exits }) => {
      const run = await runInProcess([...line.split(' '), '--server', fakeUrl], env);
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(new RegExp(`^usage: vigil ${line.split(' ').slice(0, 2).join(' ')}`));
      for (const flag of flags) expect(run.stderr).toContain(flag);
      expect(run.stderr).toContain(exits);
      expect(run.stderr).toContain('--server URL');
      expect(recorded).toEqual([]);
    },
  );
});

describe('vigil wait on a held watch', () => {
  test('exits 5 saying how to decide', async () => {
    const verdict: Verdict = { ...HELD };
    answer = () => ({ status: 200, body: verdict });
    const run = await runInProcess(['wait', 'w_held', '--server', fakeUrl], env);
    expect(run.code).toBe(5);
    expect(run.stderr).toContain(
      'held for a decision: promote or roll back with `vigil watch promote|rollback w_held`',
    );
  });

  test.each([
    [['wait']],
    [['wait', 'w_1', 'w_2']],
    [['wait', 'w_1', '--until', 'forever']],
    [['wait', 'w_1', '--timeout', 'soon']],
  ])('%j is a usage error: exit 64', async (args) => {
    const run = await runInProcess([...args, '--server', fakeUrl], env);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain('usage: vigil wait ID');
    expect(recorded).toEqual([]);
  });
});

describe('end to end against the real routes', () => {
  let h: Harness;
  let app: FastifyInstance;
  let url: string;

  beforeEach(async () => {
    h = await createHarness();
    app = await buildApp({
      logger: silentLogger(),
      metrics: h.metrics,
      apiToken: () => '',
      rateLimit: { max: 1000, windowMs: 60_000 },
      isReady: () => true,
      health: { report: async () => ({ status: 'ok', checks: {}, checkedAt: new Date(T0).toISOString() }) },
      routes: [watchRoutes(h.manager, { services: () => ['prep-api'] })],
    });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  afterEach(async () => {
    await h.manager.stop();
    await app.close();
    await h.close();
  });

  test('abort records who and how the request came, and a second abort is refused with why', async () => {
    const created = await h.manager.create({ service: 'prep-api', version: '1.4.2' });
    if (!created.ok) throw new Error('watch not created');
    const id = created.watch.id;
    const first = await runInProcess(
      ['watch', 'abort', id, '--reason', 'wrong build', '--who', 'alice', '--server', url],
      {},
    );
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(`aborted: ${id} prep-api 1.4.2: aborted`);
    const override = (await h.manager.get(id))?.timeline.find((e) => e.type === 'override');
    expect(override?.message).toBe('abort by alice (via loopback): wrong build');
    const second = await runInProcess(['watch', 'abort', id, '--reason', 'again', '--server', url], {});
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/refused: 409 .*already ended/);
  });
});
