import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Clock, ManualClock, systemClock } from '../../../src/clock.js';
import { loadProfileSchema } from '../../../src/config/schema.js';
import { profileFingerprint } from '../../../src/loadtest/invocation.js';
import type { LoadProgress } from '../../../src/loadtest/progress.js';
import { createRunQueue } from '../../../src/loadtest/queue.js';
import { createLoadRunner, type LoadRunnerDeps } from '../../../src/loadtest/runner.js';
import { createLoadRunStore } from '../../../src/loadtest/runs.js';
import { parseSummaryText } from '../../../src/loadtest/summary.js';
import { openStore } from '../../../src/store/open.js';
import type { Store } from '../../../src/store/port.js';
import { createLogger, silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { REPO_ROOT } from '../../helpers/cli.js';

const FAKE_K6 = join(import.meta.dirname, '../../helpers/fake-k6.mjs');
const FIXTURES = join(import.meta.dirname, '../../fixtures/k6');
const SCENARIOS = [
  'pass',
  'thresholds-failed',
  'lying-pass',
  'no-summary',
  'script-error',
  'invalid-config',
  'script-abort',
  'external-abort',
  'hang',
  'killed',
  'port-busy',
  'checks-failed',
];

let dir: string;
const stores: Store[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-runner-test-'));
  // The fake picks its behaviour from the script's name; the text only feeds the fingerprint.
  for (const name of SCENARIOS)
    writeFileSync(join(dir, `${name}.js`), `// ${name}\nexport default function () {}\n`);
});
afterEach(async () => {
  rmSync(dir, { recursive: true, force: true });
  for (const store of stores.splice(0)) await store.close();
});

const recordOf = (profile: string) => join(dir, `${profile}.record.json`);

async function setup(
  overrides: Partial<LoadRunnerDeps> & { compare?: Record<string, unknown>; timeout?: string } = {},
) {
  const profiles = Object.fromEntries(
    SCENARIOS.map((name) => [
      name,
      loadProfileSchema.parse({
        script: `${name}.js`,
        vus: 2,
        duration: '30s',
        timeout: overrides.timeout ?? '10s',
        env: { FAKE_K6_RECORD: recordOf(name), API_TOKEN: 's3cret-token' },
        ...(overrides.compare ? { compare: overrides.compare } : {}),
      }),
    ]),
  );
  const store = await openStore({ path: ':memory:' });
  stores.push(store);
  const metrics = createMetrics({ version: 'test', defaultMetrics: false });
  const deps: LoadRunnerDeps = {
    k6Path: FAKE_K6,
    profiles,
    targetBaseUrl: 'http://127.0.0.1:18181/',
    store,
    service: 'prep-api',
    clock: systemClock,
    logger: silentLogger(),
    metrics,
    gracePeriodMs: 5_000,
    cwd: dir,
    searchPath: '',
    baseEnv: { PATH: process.env.PATH ?? '', FAKE_K6_FIXTURES: FIXTURES },
    ...overrides,
  };
  return { runner: createLoadRunner(deps), store, metrics, profiles };
}

/** Waits (bounded) until the fake k6 of `profile` has started and recorded its invocation. */
async function untilStarted(profile: string): Promise<void> {
  for (let i = 0; i < 1000 && !existsSync(recordOf(profile)); i++)
    await new Promise((r) => setTimeout(r, 10));
  if (!existsSync(recordOf(profile))) throw new Error(`fake k6 for ${profile} never started`);
}

describe('load runner: k6 endings', () => {
  it.each([
    [
      'pass',
      'pass',
      'passed',
      /^k6 exited 0 \(every threshold held\); p95 0\.93 ms, failed 0 %, 21\.17 req\/s \(212 requests\), checks 414\/414 passed; no previous passed run .*; k6 v0\.49\.0$/,
    ],
    [
      'thresholds-failed',
      'fail',
      'thresholds-failed',
      /^k6 exited 99 \(thresholds crossed\): checks rate>0\.99, http_req_duration\{endpoint:slow\} p\(95\)<250, http_req_failed rate<0\.01;/,
    ],
    ['lying-pass', 'fail', 'passed', /exited 0 but its summary shows crossed thresholds: checks rate>0\.99/],
    ['no-summary', 'inconclusive', 'passed', /exited 0 but its summary could not be read/],
    [
      'script-error',
      'inconclusive',
      'script-error',
      /^k6 exited 107 \(the script failed at init: a syntax error or an exception\): SyntaxError: file:\/\/\/path\/to\/scripts\/syntax-error\.js: Unexpected token, expected , \(4:54\); k6 v0\.49\.0$/,
    ],
    [
      'invalid-config',
      'inconclusive',
      'invalid-config',
      /^k6 exited 104 \(invalid configuration\): invalid duration/,
    ],
    [
      'script-abort',
      'fail',
      'script-aborted',
      /^k6 exited 108 \(the script aborted the test\): test aborted: dependency returned 500/,
    ],
    ['killed', 'inconclusive', 'killed', /killed by SIGKILL before it could judge the service/],
    ['port-busy', 'inconclusive', 'rest-api-failed', /^k6 exited 106 \(could not start its REST API\)/],
    [
      'checks-failed',
      'fail',
      'passed',
      /^k6 exited 0 \(every threshold held\) but too many checks failed; checks 80 % < 99 %: 'status is 200' failed 10 of 50;/,
    ],
  ])('%s → %s', async (scenario, result, ending, explanation) => {
    const { runner, metrics, store } = await setup();
    const run = await runner.run(scenario, { watchId: 'w_1' });
    expect(run.check.result).toBe(result);
    expect(run.ending).toBe(ending);
    expect(run.check.kind).toBe('load');
    expect(run.check.name).toBe(`load:${scenario}`);
    expect(run.check.explanation).toMatch(explanation);
    const counted = await metrics.loadtestRuns.get();
    expect(counted.values).toEqual([
      { labels: { service: 'prep-api', profile: scenario, result }, value: 1 },
    ]);
    const stored = await createLoadRunStore(store).get(run.runId);
    expect(stored).toMatchObject({ profile: scenario, watchId: 'w_1', trigger: 'watch', result });
    expect(stored?.endedAt).not.toBeNull();
  });

  it('invokes k6 against the configured target only, with secrets kept out of its arguments', async () => {
    const { runner } = await setup();
    await runner.run('pass');
    const record = JSON.parse(readFileSync(recordOf('pass'), 'utf8')) as {
      argv: string[];
      flags: { env: Record<string, string>; address: string; vus: string; duration: string };
      env: Record<string, string>;
      cwd: string;
    };
    expect(record.flags.env.BASE_URL).toBe('http://127.0.0.1:18181');
    expect(record.flags.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(record.flags).toMatchObject({
      vus: '2',
      duration: '30s',
      'no-color': true,
      'no-usage-report': true,
    });
    expect(record.argv.join(' ')).not.toContain('s3cret-token');
    expect(record.env.API_TOKEN).toBe('s3cret-token');
    expect(record.env.K6_NO_USAGE_REPORT).toBe('true');
    expect(record.cwd).toContain('vigil-k6-');
    // The per-run temp dir is removed afterwards.
    expect(existsSync(record.cwd)).toBe(false);
  });

  it('never lets a profile env redirect k6 to another URL', async () => {
    const profile = loadProfileSchema.parse({
      script: 'pass.js',
      env: { BASE_URL: 'http://evil.example', FAKE_K6_RECORD: recordOf('pass') },
    });
    const { runner } = await setup({ profiles: { pass: profile } });
    await runner.run('pass');
    const record = JSON.parse(readFileSync(recordOf('pass'), 'utf8')) as {
      flags: { env: Record<string, string> };
      env: Record<string, string>;
    };
    expect(record.flags.env.BASE_URL).toBe('http://127.0.0.1:18181');
    expect(record.env.BASE_URL).toBeUndefined();
  });

  it.each([
    ['a missing path', '/nonexistent/bin/k6', ''],
    ['a bare name not on PATH', 'k6', '/nonexistent-dir'],
  ])('k6 absent (%s) makes the check inconclusive, never a pass', async (_name, k6Path, searchPath) => {
    const { runner, store } = await setup({ k6Path, searchPath });
    const run = await runner.run('pass');
    expect(run.check.result).toBe('inconclusive');
    expect(run.check.explanation).toBe('k6 not found (set VIGIL_K6_PATH)');
    expect((await createLoadRunStore(store).get(run.runId))?.result).toBe('inconclusive');
    expect(await runner.health()).toEqual({ status: 'down', error: 'k6 not found (set VIGIL_K6_PATH)' });
  });

  it('reports the k6 version for /health, and disabled with no profiles', async () => {
    const { runner } = await setup();
    expect(await runner.health()).toMatchObject({ status: 'ok', version: 'v0.49.0', path: FAKE_K6 });
    const none = (await setup({ profiles: {} })).runner;
    expect(await none.health()).toEqual({ status: 'disabled' });
  });

  it('refuses an unknown profile', async () => {
    const { runner } = await setup();
    await expect(runner.run('nightly')).rejects.toThrow(/unknown load profile "nightly"/);
  });
});

describe('load runner: stopping k6', () => {
  async function started(clock: Clock, scenario: string, signal?: AbortSignal) {
    const ctx = await setup({ clock });
    const pending = ctx.runner.run(scenario, signal ? { signal } : {});
    await untilStarted(scenario);
    return { ...ctx, pending };
  }

  it('cancellation sends SIGINT and k6 stops gracefully with its summary', async () => {
    const controller = new AbortController();
    const { pending } = await started(new ManualClock(0), 'external-abort', controller.signal);
    controller.abort(new Error('watch aborted by operator'));
    const run = await pending;
    expect(run).toMatchObject({ ending: 'cancelled', exitCode: 105, signal: null });
    expect(run.check.result).toBe('inconclusive');
    expect(run.check.explanation).toMatch(/cancelled: watch aborted by operator: test run was aborted/);
    expect(run.summary?.requests?.count).toBe(212);
  });

  it('a k6 that ignores SIGINT is killed once the grace period has passed', async () => {
    const clock = new ManualClock(0);
    const controller = new AbortController();
    const { pending } = await started(clock, 'hang', controller.signal);
    controller.abort(new Error('stop'));
    let settled = false;
    void pending.then(() => {
      settled = true;
    });
    await clock.advance(4_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false);
    await clock.advance(1_000);
    const run = await pending;
    expect(run).toMatchObject({ ending: 'cancelled', signal: 'SIGKILL', exitCode: null });
    expect(run.check.result).toBe('inconclusive');
  });

  it('a run past its deadline is stopped and inconclusive', async () => {
    const clock = new ManualClock(0);
    const { pending } = await started(clock, 'hang');
    await clock.advance(10_000); // deadline: SIGINT, ignored
    await new Promise((r) => setTimeout(r, 100));
    await clock.advance(5_000); // grace period over: SIGKILL
    const run = await pending;
    expect(run.ending).toBe('deadline');
    expect(run.signal).toBe('SIGKILL');
    expect(run.check.result).toBe('inconclusive');
    expect(run.check.explanation).toMatch(/ran past its deadline of 10s and was stopped/);
  });
});

describe('load runner: one run at a time', () => {
  it('a second run waits for the first, and can leave the queue', async () => {
    const { runner } = await setup();
    const first = new AbortController();
    const firstRun = runner.run('external-abort', { signal: first.signal });
    await untilStarted('external-abort');

    const progress: LoadProgress[] = [];
    const secondRun = runner.run('pass', { onProgress: (p) => progress.push(p) });
    const leaving = new AbortController();
    const thirdRun = runner.run('thresholds-failed', { signal: leaving.signal });
    expect(runner.busy).toBe(true);
    expect(runner.queued).toBe(2);
    expect(progress[0]).toMatchObject({ state: 'queued', queuePosition: 1 });

    leaving.abort(new Error('watch superseded'));
    const third = await thirdRun;
    expect(third.check.result).toBe('inconclusive');
    expect(third.check.explanation).toMatch(/cancelled: while waiting for another k6 run: watch superseded/);
    expect(existsSync(recordOf('thresholds-failed'))).toBe(false);

    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(recordOf('pass'))).toBe(false);
    first.abort(new Error('done'));
    await firstRun;
    const second = await secondRun;
    expect(second.check.result).toBe('pass');
    expect(runner.busy).toBe(false);
  });
});

describe('load runner: one k6 per service, and a cap shared by all services', () => {
  /** Two services' runners on one daemon-wide queue of one turn. */
  async function twoServices() {
    const shared = createRunQueue(1);
    return {
      shared,
      a: (await setup({ sharedQueue: shared })).runner,
      b: (await setup({ sharedQueue: shared })).runner,
    };
  }
  const queuedAt = (progress: LoadProgress[]) =>
    progress.filter((p) => p.state === 'queued').map((p) => p.queuePosition);
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

  it('two runners run one after the other, and one runner never runs two at once', async () => {
    const { shared, a, b } = await twoServices();
    const stopA = new AbortController();
    const aFirst = a.run('external-abort', { signal: stopA.signal });
    await untilStarted('external-abort');
    const bProgress: LoadProgress[] = [];
    const bRun = b.run('pass', { onProgress: (p) => bProgress.push(p) });
    const aProgress: LoadProgress[] = [];
    const aSecond = a.run('thresholds-failed', { onProgress: (p) => aProgress.push(p) });
    await settle();
    // b waits in the shared line; a's second run waits in a's own line, not taking a shared place.
    expect(shared.waiting).toBe(1);
    expect([a.busy, a.queued, b.busy, b.queued]).toEqual([true, 1, false, 1]);
    expect(queuedAt(bProgress)).toEqual([1]);
    expect(queuedAt(aProgress)).toEqual([1]);

    stopA.abort(new Error('done'));
    const [first, second, third] = await Promise.all([aFirst, bRun, aSecond]);
    expect([first.ending, second.check.result, third.check.result]).toEqual(['cancelled', 'pass', 'fail']);
    // b was first in the shared line; a's second run then joined it behind b (position 1 again).
    expect(first.endedAt).toBeLessThanOrEqual(second.startedAt);
    expect(second.endedAt).toBeLessThanOrEqual(third.startedAt);
    expect(queuedAt(aProgress)).toEqual([1, 1]);
    expect([shared.busy, shared.waiting, a.busy, a.queued, b.busy, b.queued]).toEqual([
      false,
      0,
      false,
      0,
      false,
      0,
    ]);
  });

  it('a run that leaves the shared line gives its own turn back to the next run of its service', async () => {
    const { shared, a, b } = await twoServices();
    const stopA = new AbortController();
    const aRun = a.run('external-abort', { signal: stopA.signal });
    await untilStarted('external-abort');
    const leaving = new AbortController();
    const bLeaving = b.run('pass', { signal: leaving.signal });
    const bNext = b.run('checks-failed');
    await settle();
    // One of b's runs waits in the shared line, the other in b's own line.
    expect([shared.waiting, b.queued]).toEqual([1, 2]);

    leaving.abort(new Error('watch superseded'));
    const left = await bLeaving;
    expect(left.check.explanation).toMatch(/cancelled: while waiting for another k6 run: watch superseded/);
    await settle();
    // b's next run now holds b's turn and waits in the shared line in its place.
    expect([shared.waiting, b.queued]).toEqual([1, 1]);
    expect(existsSync(recordOf('pass'))).toBe(false);

    stopA.abort(new Error('done'));
    await aRun;
    expect((await bNext).ending).toBe('passed');
    expect([shared.busy, shared.waiting, b.busy, b.queued]).toEqual([false, 0, false, 0]);
  });
});

describe('load runner: comparison with the previous run', () => {
  it('states that there is no previous run, without failing', async () => {
    const { runner } = await setup({ compare: { p95: '20%' } });
    const run = await runner.run('pass');
    expect(run.check.result).toBe('pass');
    expect(run.comparison?.result).toBe('none');
    expect(run.check.explanation).toMatch(/no previous passed run of this profile to compare with/);
  });

  it('compares with the stored previous passed run of the same profile', async () => {
    const { runner } = await setup({ compare: { p95: '20%', failedRate: 0.01, throughput: '10%' } });
    const first = await runner.run('pass');
    const second = await runner.run('pass');
    expect(second.comparison?.previous?.runId).toBe(first.runId);
    expect(second.comparison?.result).toBe('pass');
    expect(second.check.baseline).toBeCloseTo(0.9287305999999994, 12);
    expect(second.check.explanation).toMatch(
      new RegExp(`vs previous run ${first.runId}: p95 0.93 ms vs 0.93 ms`),
    );
  });

  it('fails a passing k6 run that regressed past the tolerance against a stored run', async () => {
    const { runner, store: opened, profiles } = await setup({ compare: { p95: '10%', throughput: '10%' } });
    const store = createLoadRunStore(opened, 'prep-api');
    const parsed = parseSummaryText(readFileSync(join(FIXTURES, 'handle-summary-pass.json'), 'utf8'));
    if (!parsed.ok) throw new Error(parsed.error);
    const better = { ...parsed.summary, latencyMs: { avg: 0.3, p95: 0.5, p99: null, max: 1 } };
    const profile = profiles.pass;
    if (!profile) throw new Error('no pass profile');
    await store.insert({ id: 'lr_old', watchId: null, profile: 'pass', trigger: 'schedule', startedAt: 1 });
    await store.finish('lr_old', {
      endedAt: 2,
      exitCode: 0,
      result: 'pass',
      explanation: 'ok',
      summary: better,
      comparison: null,
      fingerprint: profileFingerprint(profile, readFileSync(join(dir, 'pass.js'), 'utf8')),
    });
    const run = await runner.run('pass');
    expect(run.check.result).toBe('fail');
    expect(run.comparison?.previous?.runId).toBe('lr_old');
    expect(run.check.explanation).toMatch(
      /p95 0\.93 ms vs 0\.5 ms \(\+85\.75 %\) outside tolerance \(at most 0\.55 ms\)/,
    );
    expect(run.check.explanation).not.toMatch(/throughput/);
  });
});

describe('load runner: live progress', () => {
  it('reports progress from the k6 REST API every interval of clock time', async () => {
    const clock = new ManualClock(1_000_000);
    const { runner, metrics } = await setup({ clock, progressIntervalMs: 5_000, timeout: '1h' });
    const seen: LoadProgress[] = [];
    const controller = new AbortController();
    const pending = runner.run('external-abort', {
      signal: controller.signal,
      onProgress: (p) => seen.push(p),
    });
    await untilStarted('external-abort');
    // The API may not answer on the first ticks, and on a loaded machine one of its two endpoints may
    // miss the 2 s deadline (a partial report); keep ticking (bounded) until a complete one arrives.
    const complete = (p: LoadProgress) => p.thresholdsBreached !== null && p.requests !== null;
    for (let i = 0; i < 200 && !seen.some(complete); i++) {
      await clock.advance(5_000);
      await new Promise((r) => setTimeout(r, 25));
    }
    const live = (await metrics.loadtestProgress.get()).values;
    expect(live).toContainEqual({ labels: { profile: 'external-abort', measure: 'vus' }, value: 3 });
    expect(live).toContainEqual({ labels: { profile: 'external-abort', measure: 'requests' }, value: 89 });
    controller.abort(new Error('enough'));
    await pending;
    // Once the run has ended no stale live figure remains.
    expect((await metrics.loadtestProgress.get()).values).toEqual([]);
    expect(seen.length).toBeGreaterThan(0);
    const first = seen.find(complete);
    expect(first).toMatchObject({
      profile: 'external-abort',
      state: 'running',
      vus: 3,
      vusMax: 5,
      requests: 89,
      failedRate: 0,
      iterations: 43,
      thresholdsBreached: false,
    });
    expect(first?.p95Ms).toBeCloseTo(301.2451778, 6);
    expect((first?.elapsedMs ?? 0) % 5_000).toBe(0);
    expect(first?.elapsedMs).toBeGreaterThanOrEqual(5_000);
  });
});

describe('load runner: what k6 v0.49 cannot parse, and failed checks', () => {
  /** Log lines, for warnings the runner logs itself. */
  function capturingLogger() {
    const lines: { msg: string; level: string }[] = [];
    const logger = createLogger({
      level: 'warn',
      destination: {
        write: (line: string) => lines.push(JSON.parse(line) as { msg: string; level: string }),
      },
    });
    return { logger, lines };
  }

  it("a script using ?. is inconclusive with k6's own SyntaxError, not a pass (the fake parses like k6 v0.49)", async () => {
    writeFileSync(join(dir, 'modern.js'), '// pass\nexport default function () { const a = {}.b?.c; }\n');
    const profile = loadProfileSchema.parse({ script: 'modern.js', env: { FAKE_K6_SCENARIO: 'pass' } });
    const { runner } = await setup({ profiles: { modern: profile } });
    const run = await runner.run('modern');
    expect(run).toMatchObject({ ending: 'script-error', exitCode: 107 });
    expect(run.check.result).toBe('inconclusive');
    expect(run.check.explanation).toBe(
      'k6 exited 107 (the script failed at init: a syntax error or an exception): ' +
        `SyntaxError: ${pathToFileURL(join(dir, 'modern.js')).href}: Unexpected token (2:44); k6 v0.49.0`,
    );
  });

  it('an imported file k6 v0.49 cannot parse stops the run too, naming that file', async () => {
    mkdirSync(join(dir, 'lib'));
    writeFileSync(join(dir, 'lib/env.js'), 'export const rate = Number(undefined ?? 20);\n');
    writeFileSync(
      join(dir, 'main.js'),
      "import { rate } from './lib/env.js';\nexport default function () { return rate; }\n",
    );
    const profile = loadProfileSchema.parse({ script: 'main.js', env: { FAKE_K6_SCENARIO: 'pass' } });
    const { runner } = await setup({ profiles: { main: profile } });
    const run = await runner.run('main');
    expect(run.check.result).toBe('inconclusive');
    expect(run.check.explanation).toContain(
      `SyntaxError: ${pathToFileURL(join(dir, 'lib/env.js')).href}: Unexpected token (1:38)`,
    );
  });

  it.each(['smoke', 'load', 'stress', 'spike', 'soak'])(
    'the shipped %s profile gets past k6 v0.49 parsing and is judged',
    async (name) => {
      const profile = loadProfileSchema.parse({
        script: join(REPO_ROOT, 'loadtests', `${name}.js`),
        env: { FAKE_K6_SCENARIO: 'pass' },
      });
      const { runner } = await setup({ profiles: { [name]: profile } });
      const run = await runner.run(name);
      expect(run.check.explanation).toMatch(/^k6 exited 0 \(every threshold held\)/);
      expect(run.check.result).toBe('pass');
    },
  );

  it.each([
    ['80%', 'pass'],
    ['81%', 'fail'],
  ])("the profile's checks: %s decides a run with 40 of 50 checks passed → %s", async (checks, result) => {
    const profile = loadProfileSchema.parse({ script: 'checks-failed.js', checks });
    const { runner } = await setup({ profiles: { 'checks-failed': profile } });
    const run = await runner.run('checks-failed');
    expect(run.check.result).toBe(result);
    if (result === 'fail') {
      expect(run.check.violation).toBe(
        "load profile checks-failed: checks 80 % < 81 %: 'status is 200' failed 10 of 50",
      );
    }
  });

  it('names the k6 version found, and warns (once) about a k6 older than the supported minimum', async () => {
    const { logger, lines } = capturingLogger();
    const { runner } = await setup({
      logger,
      baseEnv: {
        PATH: process.env.PATH ?? '',
        FAKE_K6_FIXTURES: FIXTURES,
        FAKE_K6_VERSION: 'k6 v0.45.1 (2023-06-19T08:48:19+0000/v0.45.1-0-gc2e0b6b, go1.20.5, linux/amd64)',
      },
    });
    const health = await runner.health();
    expect(health).toMatchObject({ status: 'ok', version: 'v0.45.1' });
    expect(health.warning).toMatch(/^k6 v0\.45\.1 is older than v0\.49\.0, the oldest k6 Vigil supports/);
    await runner.health();
    expect(lines.filter((l) => l.msg === health.warning)).toHaveLength(1);
    const run = await runner.run('pass');
    expect(run.check.explanation).toMatch(/; k6 v0\.45\.1$/);
  });

  it('a current k6 is no warning', async () => {
    const { runner } = await setup({
      baseEnv: {
        PATH: process.env.PATH ?? '',
        FAKE_K6_FIXTURES: FIXTURES,
        FAKE_K6_VERSION: 'k6 v2.3.0 (commit/12b6520225, go1.27.0, linux/amd64)',
      },
    });
    const health = await runner.health();
    expect(health).toMatchObject({ status: 'ok', version: 'v2.3.0' });
    expect(health.warning).toBeUndefined();
  });
});
