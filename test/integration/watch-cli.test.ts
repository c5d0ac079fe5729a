import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wait } from '../../src/cli/wait.js';
import { watchStart } from '../../src/cli/watch.js';
import { systemClock } from '../../src/clock.js';
import type { CheckResult } from '../../src/evaluator/types.js';
import { buildApp } from '../../src/server/app.js';
import type { HealthReporter } from '../../src/server/health.js';
import { watchRoutes } from '../../src/server/routes/watches.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/port.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { WatchManager } from '../../src/watch/manager.js';
import type { Verdict } from '../../src/watch/types.js';
import { captureOutput, spawnVigil, waitForExit } from '../helpers/cli.js';
import { check, probeResult } from '../unit/watch/harness.js';

/*
 * `vigil watch start` and `vigil wait` against a real daemon API on loopback, in real (short) time:
 * watches last about a second, evaluated every 100 ms.
 */

const TOKEN = 'watch-cli-token-0123456789';
const health: HealthReporter = { report: async () => ({ status: 'ok', checks: {}, checkedAt: '' }) };

/** What each service's deploy looks like to the evaluator. */
const BEHAVIOUR: Record<string, () => CheckResult[]> = {
  good: () => [check('error-rate', 'pass', 0.001)],
  bad: () => [check('error-rate', 'fail', 0.2, { critical: true })],
  blind: () => [check('error-rate', 'inconclusive', null)],
};

let app: FastifyInstance;
let store: Store;
let manager: WatchManager;
let server: string;
let closedPort: number;

beforeAll(async () => {
  store = await openStore({ path: ':memory:' });
  manager = new WatchManager(
    {
      store,
      clock: systemClock,
      logger: silentLogger(),
      metrics: createMetrics({ version: 'test', defaultMetrics: false }),
      runSmokeProbes: async () => [probeResult('health', true)],
      evaluate: async (context) => (BEHAVIOUR[context.vars.service] ?? BEHAVIOUR.good!)(),
    },
    {
      durationMs: 3_600_000,
      phases: ['smoke', 'bake'],
      evaluationIntervalMs: 100,
      smokeTimeoutMs: 1_000,
      smokeRetryMs: 100,
      failureLimit: 3,
      inconclusiveLimitMs: 200,
    },
  );
  app = await buildApp({
    logger: silentLogger(),
    metrics: createMetrics({ version: 'test', defaultMetrics: false }),
    apiToken: () => TOKEN,
    rateLimit: { max: 10_000, windowMs: 60_000 },
    isReady: () => true,
    health,
    routes: [watchRoutes(manager)],
  });
  server = await app.listen({ host: '127.0.0.1', port: 0 });
  closedPort = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
    });
  });
});

afterAll(async () => {
  await manager.stop();
  await app.close();
  await store.close();
});

async function run(
  command: typeof wait,
  argv: string[],
  env: NodeJS.ProcessEnv = { VIGIL_API_TOKEN: TOKEN },
) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const started = Date.now();
  const code = await command({ argv, stdout, stderr, env, signal: new AbortController().signal });
  return { code, stdout: out, stderr: err, ms: Date.now() - started };
}

async function startWatch(service: string, duration: string): Promise<string> {
  const result = await run(watchStart, [
    '--service',
    service,
    '--version',
    '1.0.0',
    '--duration',
    duration,
    '--server',
    server,
  ]);
  expect(result.code).toBe(0);
  return result.stdout.trim();
}

describe('vigil watch start', () => {
  it('prints the id, or the watch object with --json', async () => {
    const id = await startWatch('json-check', '1h');
    expect(id).toMatch(/^w_/);
    const json = await run(watchStart, [
      '--service',
      'json-check',
      '--version',
      '2',
      '--server',
      server,
      '--json',
    ]);
    expect(json.code).toBe(0);
    // The first watch (1.0.0) is still running, superseded now: it never passed, so it is no baseline.
    const watch = JSON.parse(json.stdout);
    expect(watch).toMatchObject({ service: 'json-check', version: '2', previousVersion: null });
    expect(watch.warnings[0]).toMatch(/no earlier watch of json-check passed/);
  });

  it("exits 1 with the daemon's reason when it refuses (a wrong token)", async () => {
    const result = await run(watchStart, ['--service', 'x', '--version', '1', '--server', server], {
      VIGIL_API_TOKEN: 'wrong',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('refused');
    expect(result.stderr).toContain('bearer token');
  });

  it('exits 4 when the daemon cannot be reached, as vigil wait does', async () => {
    const url = `http://127.0.0.1:${closedPort}`;
    const start = await run(watchStart, ['--service', 'x', '--version', '1', '--server', url], {});
    const follow = await run(wait, ['w_x', '--server', url], {});
    expect(start.code).toBe(4);
    expect(follow.code).toBe(4);
    expect(start.stderr).toContain('cannot reach the Vigil daemon');
    expect(start.stderr).not.toContain('refused');
  });

  it('reads the daemon address from server.listen of -c FILE; --server and VIGIL_SERVER win', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-watch-cli-'));
    const file = join(dir, 'vigil.yaml');
    const { port } = new URL(server);
    writeFileSync(file, `server:\n  listen: \${LISTEN_AT:-0.0.0.0:${port}}\n  apiToken: ${TOKEN}\n`);
    try {
      // The token comes from the file too when VIGIL_API_TOKEN is unset.
      const fromFile = await run(watchStart, ['--service', 'cfg', '--version', '1', '-c', file], {});
      expect(fromFile.code, fromFile.stderr).toBe(0);
      expect(fromFile.stdout).toMatch(/^w_/);
      const closed = `http://127.0.0.1:${closedPort}`;
      const flagWins = await run(
        watchStart,
        ['--service', 'cfg', '--version', '2', '-c', file, '--server', closed],
        {},
      );
      expect(flagWins.code).toBe(4);
      const envWins = await run(watchStart, ['--service', 'cfg', '--version', '3', '-c', file], {
        VIGIL_SERVER: closed,
      });
      expect(envWins.code).toBe(4);
      const followed = await run(wait, [fromFile.stdout.trim(), '--until', 'smoke', '-c', file], {});
      expect(followed.code, followed.stderr).toBe(0);
      const missing = await run(
        watchStart,
        ['--service', 'cfg', '--version', '4', '-c', join(dir, 'nope.yaml')],
        {},
      );
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(`cannot read config ${join(dir, 'nope.yaml')}: file not found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 on a usage error', async () => {
    expect((await run(watchStart, ['--service', 'x'])).code).toBe(2);
  });
});

describe('vigil wait exit codes', () => {
  it('0 when a healthy watch passes, printing the verdict with --json', async () => {
    const id = await startWatch('good', '1s');
    const result = await run(wait, [id, '--server', server, '--json', '--timeout', '20s']);
    expect(result.code).toBe(0);
    const verdict = JSON.parse(result.stdout) as Verdict;
    expect(verdict).toMatchObject({ id, status: 'passed', verdict: 'pass' });
    expect(result.stderr).toContain('passed (phase bake)');
    // A ratio with error semantics and an objective in [0, 1] is shown in %.
    expect(result.stderr).toContain('error-rate pass 0.1 %');
  });

  it('0 for --until smoke as soon as smoke passed, long before the watch ends', async () => {
    const id = await startWatch('good', '1h');
    const result = await run(wait, [id, '--until', 'smoke', '--server', server]);
    expect(result.code).toBe(0);
    expect(result.ms).toBeLessThan(5_000);
    expect(result.stderr).toContain('smoke finished, nothing failed');
  });

  it('1 with the reasons when the watch fails', async () => {
    const id = await startWatch('bad', '1h');
    const result = await run(wait, [id, '--server', server]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error-rate 0.2 ≥ objective 0.01');
    // Every failing check at the end, with its numbers and units.
    expect(result.stderr).toContain('  • error-rate fail 20 % (objective < 1 %; limit reached)');
  });

  it('2 when the watch ends inconclusive', async () => {
    const id = await startWatch('blind', '1s');
    const result = await run(wait, [id, '--server', server, '--timeout', '20s']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('inconclusive');
  });

  it('3 when --timeout runs out first', async () => {
    const id = await startWatch('good', '1h');
    const result = await run(wait, [id, '--server', server, '--timeout', '1s']);
    expect(result.code).toBe(3);
    expect(result.ms).toBeGreaterThanOrEqual(900);
    expect(result.ms).toBeLessThan(5_000);
  });

  it('rides out a daemon restart while following, then reports the verdict', async () => {
    const build = () =>
      buildApp({
        logger: silentLogger(),
        metrics: createMetrics({ version: 'test', defaultMetrics: false }),
        apiToken: () => TOKEN,
        rateLimit: { max: 10_000, windowMs: 60_000 },
        isReady: () => true,
        health,
        routes: [watchRoutes(manager)],
      });
    const first = await build();
    const url = await first.listen({ host: '127.0.0.1', port: 0 });
    const port = Number(new URL(url).port);
    const id = await startWatch('good', '3s');
    const following = run(wait, [id, '--server', url, '--timeout', '20s']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const closing = first.close();
    first.server.closeAllConnections();
    await closing;
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const second = await build();
    await second.listen({ host: '127.0.0.1', port });
    try {
      const result = await following;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain('watch passed');
    } finally {
      await second.close();
    }
  });

  it('4 when the daemon cannot be reached', async () => {
    const result = await run(wait, ['w_x', '--server', `http://127.0.0.1:${closedPort}`]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('ECONNREFUSED');
  });

  it('130 on Ctrl-C (the real process): the watch keeps running in the daemon, and says how to follow it', async () => {
    const id = await startWatch('good', '1h');
    const child = spawnVigil(['wait', id, '--server', server], { VIGIL_API_TOKEN: TOKEN });
    const output = captureOutput(child);
    const deadline = Date.now() + 10_000;
    while (!output.stderr().includes(id) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    expect(await waitForExit(child, 10_000), output.stderr()).toBe(130);
    expect(output.stderr()).toContain(`watch ${id} keeps running in the daemon`);
    expect(output.stderr()).toContain(`follow it again: vigil wait ${id} --server ${server}`);
    const after = await run(wait, [id, '--until', 'smoke', '--server', server]);
    expect(after.code).toBe(0);
    expect(after.stderr).toContain('smoke finished, nothing failed');
  });

  it('4 when the daemon does not know the watch', async () => {
    const result = await run(wait, ['w_unknown', '--server', server]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('no watch w_unknown');
  });
});
