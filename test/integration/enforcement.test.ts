import { afterEach, describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/actions/sign.js';
import type { ManualClock } from '../../src/clock.js';
import type { Enforcement } from '../../src/config/schema.js';
import type { Daemon } from '../../src/daemon/index.js';
import type { WatchView } from '../../src/watch/types.js';
import { type CliRun, runInProcess } from '../helpers/cli.js';
import { eventually, TEST_API_TOKEN, writeDaemonConfig } from '../helpers/daemon.js';
import { advanceWithProbes, settleProbeRuns, startClockedDaemon } from '../helpers/probe-clock.js';
import {
  type ReceivedRequest,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../helpers/webhook-receiver.js';
import { startHttp } from '../unit/prober/servers.js';

/*
 * Graduated enforcement end to end (issue 12, DESIGN §6, §7): a REAL daemon (createDaemon) on a
 * ManualClock, listening on loopback, its prober running the `orders` smoke probe against a loopback
 * target that starts answering 500 right after the smoke phase. The bake judges it as `probe:orders`
 * with the probe's `enforce:` level; `actions.rollback` points at a loopback receiver. Everything an
 * operator or CI does goes through the real HTTP port: `vigil watch start`, `vigil wait`,
 * `vigil watch rollback` in-process, and plain POSTs for the overrides.
 *
 * The delivery worker sleeps on the daemon's clock but is woken by every enqueue, so a rollback arrives
 * in real time without moving the clock. A `notify` target on the same receiver gets `watch.passed` /
 * `watch.failed`, enqueued with (or after) any rollback: once it has arrived, the worker has sent
 * everything that was due, so "no rollback" is checked after it rather than after an arbitrary sleep.
 * "Still only one" is checked after more clock time (past any retry or hold timeout) and one short
 * real pause: a second enqueue would wake the worker at once.
 */

const SECRET = 'enforcement-suite-secret-5f2c9a';
const ENV = { VIGIL_API_TOKEN: TEST_API_TOKEN };
const PROBE_INTERVAL_MS = 30_000;
const STEP_MS = 10_000;
const HOLD_TIMEOUT_MS = 10 * 60_000;

interface Scenario {
  daemon: Daemon;
  clock: ManualClock;
  /** The daemon's real address, http://127.0.0.1:<port>. */
  server: string;
  receiver: WebhookReceiver;
  /** From now on the target's orders endpoint answers 500. */
  breakOrders(): void;
  startedAt: number;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startScenario(
  enforce: Enforcement,
  onHoldTimeout: 'rollback' | 'promote' = 'rollback',
): Promise<Scenario> {
  let ordersStatus = 200;
  const target = await startHttp((req, res) => {
    res.writeHead(req.url === '/api/orders' ? ordersStatus : 404).end();
  });
  cleanups.push(() => target.close());
  const receiver = await startWebhookReceiver();
  cleanups.push(() => receiver.close());
  const files = writeDaemonConfig({
    targetUrl: target.url,
    probes: [
      '- name: orders',
      '  kind: smoke',
      '  interval: 30s',
      `  enforce: ${enforce}`,
      '  request: { path: /api/orders }',
      '  expect: [ { status: 200 } ]',
      '',
    ].join('\n'),
    root: [
      'watch:',
      '  phases: [smoke, bake]',
      '  evaluationInterval: 1m',
      '  window: 1m',
      '  failureLimit: 2',
      '  inconclusiveLimit: 1h',
      '  holdTimeout: 10m',
      `  onHoldTimeout: ${onHoldTimeout}`,
      // The receiver stands in for Alertmanager too: alerts arrive as POST /am/api/v2/alerts.
      `alertmanager: { url: "${receiver.url}/am/" }`,
      'actions:',
      '  rollback:',
      `    - { name: deploy-bot, url: "${receiver.url}/rollback", secret: "${SECRET}", timeout: 3s }`,
      '  notify:',
      `    - { name: chat, url: "${receiver.url}/notify", secret: "${SECRET}", timeout: 3s, events: [watch.passed, watch.failed] }`,
    ],
  });
  cleanups.push(() => files.cleanup());
  const { daemon, clock, port, stop } = await startClockedDaemon(files.configFile);
  cleanups.push(stop);
  return {
    daemon,
    clock,
    server: `http://127.0.0.1:${port}`,
    receiver,
    breakOrders: () => {
      ordersStatus = 500;
    },
    startedAt: clock.now(),
  };
}

/** A `vigil` command in-process against the scenario's daemon, with the API token. */
function cli(s: Scenario, args: string[]): Promise<CliRun> {
  return runInProcess([...args, '--server', s.server], ENV);
}

interface Answer<T> {
  status: number;
  body: T;
}

/** One request to the daemon's real HTTP API with the token. */
async function api<T>(s: Scenario, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer<T>> {
  const response = await fetch(`${s.server}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TEST_API_TOKEN}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(5_000),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function getWatch(s: Scenario, id: string): Promise<WatchView> {
  const answer = await api<WatchView>(s, 'GET', `/watches/${id}`);
  expect(answer.status).toBe(200);
  return answer.body;
}

/** Waits (real time, bounded) until every `orders` run the scheduler fired so far has its result recorded. */
function settle(s: Scenario): Promise<void> {
  return settleProbeRuns(s.daemon, s.clock, s.startedAt, new Map([['orders', PROBE_INTERVAL_MS]]));
}

/** Moves the clock forward `ms` in steps, letting each step's probe runs land. */
function advance(s: Scenario, ms: number): Promise<void> {
  return advanceWithProbes(s.clock, ms, STEP_MS, () => settle(s));
}

/** Moves the clock step by step until the watch reaches `status`, at most `limitMs` of clock time. */
async function advanceUntilStatus(
  s: Scenario,
  id: string,
  status: WatchView['status'],
  limitMs: number,
): Promise<WatchView> {
  for (let moved = 0; moved <= limitMs; moved += STEP_MS) {
    const watch = await getWatch(s, id);
    if (watch.status === status) return watch;
    await advance(s, STEP_MS);
  }
  throw new Error(
    `watch ${id} did not become ${status} within ${limitMs} ms: ${JSON.stringify(await getWatch(s, id))}`,
  );
}

/** `vigil watch start` for a 2.0.0 deploy; waits until its smoke phase passed, then breaks orders. */
async function startWatchThenBreak(s: Scenario, duration: string): Promise<string> {
  const started = await cli(s, [
    'watch',
    'start',
    '--service',
    'prep-api',
    '--version',
    '2.0.0',
    '--previous-version',
    '1.9.0',
    '--duration',
    duration,
  ]);
  expect(started.code, started.stderr).toBe(0);
  const id = started.stdout.trim();
  expect(id).toMatch(/^w_/);
  const baked = await eventually(
    10_000,
    async () => {
      const watch = await getWatch(s, id);
      return watch.phase === 'bake' ? watch : undefined;
    },
    'the smoke phase to pass',
  );
  expect(baked.checks.find((c) => c.name === 'smoke:orders')?.result).toBe('pass');
  s.breakOrders();
  return id;
}

/** A short real pause: long enough for a woken delivery worker to send what a wrong second enqueue added. */
function workerTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 200));
}

function rollbacksOf(s: Scenario): ReceivedRequest[] {
  return s.receiver.requests.filter((r) => r.url === '/rollback');
}

/** Waits (real time, bounded) for the `watch.passed`/`watch.failed` notification: the worker's barrier. */
async function notified(s: Scenario, event: 'watch.passed' | 'watch.failed'): Promise<void> {
  await eventually(
    5_000,
    () =>
      s.receiver.requests.find(
        (r) => r.url === '/notify' && (JSON.parse(r.body) as { event: string }).event === event,
      ),
    `the ${event} notification`,
  );
}

/**
 * Waits (real time, bounded) for the watch's first rollback delivery and checks it is the §7 request:
 * signed, keyed `<id>:rollback`, carrying the failed verdict. Callers pin "only one" after later events.
 */
async function firstRollback(s: Scenario, id: string): Promise<ReceivedRequest> {
  const [delivery] = await eventually(5_000, () => (rollbacksOf(s).length > 0 ? rollbacksOf(s) : undefined));
  if (!delivery) throw new Error('no rollback delivery');
  expect(delivery.method).toBe('POST');
  expect(delivery.headers['idempotency-key']).toBe(`${id}:rollback`);
  expect(delivery.headers['x-vigil-event']).toBe('rollback');
  const signature = verifySignature(
    SECRET,
    delivery.headers['x-vigil-signature'] as string | undefined,
    delivery.headers['x-vigil-timestamp'] as string | undefined,
    delivery.body,
    { now: s.clock.now() },
  );
  expect(signature).toEqual({ ok: true });
  const body = JSON.parse(delivery.body) as {
    event: string;
    dryRun: boolean;
    deliveryId: string;
    watch: { id: string; version: string; previousVersion: string };
    verdict: { id: string; status: string; verdict: string };
  };
  expect(body).toMatchObject({
    event: 'rollback',
    dryRun: false,
    watch: { id, version: '2.0.0', previousVersion: '1.9.0' },
    verdict: { id, status: 'failed', verdict: 'fail' },
  });
  expect(delivery.headers['x-vigil-delivery']).toBe(body.deliveryId);
  return delivery;
}

interface SentAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Every alert the daemon sent for this watch so far (Alertmanager's POST bodies are arrays). */
function alertsOf(s: Scenario, id: string): SentAlert[] {
  return s.receiver.requests
    .filter((r) => r.url === '/am/api/v2/alerts')
    .flatMap((r) => JSON.parse(r.body) as SentAlert[])
    .filter((a) => a.labels.watch_id === id);
}

/** Waits (real time, bounded; the alert ticker runs on the clock, so time moves) for an alert. */
async function alerted(s: Scenario, id: string, alertname: string): Promise<SentAlert> {
  for (let step = 0; step < 10; step++) {
    const found = await eventually(500, () =>
      alertsOf(s, id).find((a) => a.labels.alertname === alertname),
    ).catch(() => undefined);
    if (found) return found;
    await advance(s, STEP_MS);
  }
  throw new Error(`no ${alertname} for ${id}; sent: ${JSON.stringify(alertsOf(s, id))}`);
}

/** The delivery attempts of the watch's rollback, as its timeline records them. */
function rollbackDeliveriesIn(watch: WatchView): string[] {
  return watch.timeline
    .filter((e) => e.type === 'action' && /^(manual )?rollback → rollback:deploy-bot /.test(e.message))
    .map((e) => e.message);
}

describe('enforcement end to end: what a failing probe does to its watch', () => {
  it('rollback: the watch fails, the rollback fires once, and a second request answers 409 naming it', async () => {
    const s = await startScenario('rollback');
    const id = await startWatchThenBreak(s, '30m');
    // CI follows the watch while it bakes: the long poll wakes on the failure.
    const following = cli(s, ['wait', id, '--json', '--timeout', '40s']);

    const failed = await advanceUntilStatus(s, id, 'failed', 10 * 60_000);
    expect(failed.verdict).toBe('fail');
    expect(failed.checks.find((c) => c.name === 'probe:orders')).toMatchObject({
      result: 'fail',
      enforce: 'rollback',
    });
    expect(failed.reasons.join('; ')).toMatch(/probe:orders/);

    const waited = await following;
    expect(waited.code, waited.stderr).toBe(1);
    expect(JSON.parse(waited.stdout)).toMatchObject({ id, status: 'failed', verdict: 'fail' });

    const first = await firstRollback(s, id);
    await notified(s, 'watch.failed');
    await alerted(s, id, 'VigilWatchFailed');
    expect(alertsOf(s, id).filter((a) => a.labels.alertname === 'VigilSLOViolation')).toEqual([]);

    const again = await api<{ error: string; message: string }>(s, 'POST', `/watches/${id}/rollback`, {
      reason: 'rolling back by hand too',
      who: 'carol',
    });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('conflict');
    expect(again.body.message).toMatch(/already rolled back at .*\(automatic: .*probe:orders/);
    expect(again.body.message).toContain('a watch rolls back once');

    // Delivered with a 2xx, so nothing is retried: minutes later still the one delivery, as the timeline says.
    await advance(s, 3 * 60_000);
    await workerTurn();
    expect(rollbacksOf(s)).toEqual([first]);
    const after = await getWatch(s, id);
    expect(after.status).toBe('failed');
    expect(rollbackDeliveriesIn(after)).toEqual([expect.stringMatching(/delivered \(attempt 1, HTTP 200\)/)]);
    expect(after.timeline.filter((e) => e.type === 'override')).toEqual([]);
  }, 45_000);

  it('alert: the watch warns and goes on to pass with verdict warn, never rolling back', async () => {
    const s = await startScenario('alert');
    const id = await startWatchThenBreak(s, '20m');

    await advance(s, 5 * 60_000);
    const warned = await getWatch(s, id);
    expect(warned).toMatchObject({ status: 'running', phase: 'bake', verdict: 'warn' });
    expect(warned.checks.find((c) => c.name === 'probe:orders')).toMatchObject({
      result: 'fail',
      enforce: 'alert',
    });
    expect(warned.reasons.join('; ')).toMatch(/probe:orders .*\(enforce: alert: alerted, no rollback\)/);
    const violation = await alerted(s, id, 'VigilSLOViolation');
    expect(violation.labels).toMatchObject({ slo: 'probe:orders', service: 'prep-api', version: '2.0.0' });

    const passed = await advanceUntilStatus(s, id, 'passed', 20 * 60_000);
    expect(passed.verdict).toBe('warn');
    expect(passed.reasons.join('; ')).toMatch(/enforce: alert/);
    await notified(s, 'watch.passed');
    expect(rollbacksOf(s)).toEqual([]);
    expect(rollbackDeliveriesIn(passed)).toEqual([]);
    expect(alertsOf(s, id).filter((a) => a.labels.alertname === 'VigilWatchFailed')).toEqual([]);

    const waited = await cli(s, ['wait', id, '--timeout', '10s']);
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stderr).toContain('watch passed (verdict warn)');
  }, 45_000);

  it('hold: held with held.until, wait exits 5; no decision by holdTimeout rolls back exactly once', async () => {
    const s = await startScenario('hold');
    const id = await startWatchThenBreak(s, '30m');
    const following = cli(s, ['wait', id, '--timeout', '40s']);

    const held = await advanceUntilStatus(s, id, 'held', 10 * 60_000);
    expect(held.verdict).toBe('fail');
    expect(held.held).toBeDefined();
    const since = Date.parse(held.held?.since ?? '');
    const until = Date.parse(held.held?.until ?? '');
    expect(until - since).toBe(HOLD_TIMEOUT_MS);
    expect(held.held?.reasons.join('; ')).toMatch(/probe:orders .*\(enforce: hold\)/);
    expect(held.timeline.filter((e) => e.type === 'held')).toHaveLength(1);
    await alerted(s, id, 'VigilWatchHeld');

    // CI following the bake is told at once; asked again later, the answer is the same.
    const followed = await following;
    expect(followed.code, followed.stderr).toBe(5);
    expect(followed.stderr).toContain(
      `held for a decision: promote or roll back with \`vigil watch promote|rollback ${id}\``,
    );
    const waitedHeld = await cli(s, ['wait', id, '--timeout', '10s']);
    expect(waitedHeld.code, waitedHeld.stderr).toBe(5);

    // Just before the timeout nothing has happened yet.
    await advance(s, until - s.clock.now() - STEP_MS);
    expect((await getWatch(s, id)).status).toBe('held');
    expect(rollbacksOf(s)).toEqual([]);

    const failed = await advanceUntilStatus(s, id, 'failed', 2 * STEP_MS);
    expect(failed.verdict).toBe('fail');
    expect(failed.reasons[0]).toMatch(/^held 10m with no decision: onHoldTimeout rollback$/);
    const first = await firstRollback(s, id);
    await notified(s, 'watch.failed');

    const waited = await cli(s, ['wait', id, '--timeout', '10s']);
    expect(waited.code, waited.stderr).toBe(1);

    const again = await api<{ message: string }>(s, 'POST', `/watches/${id}/rollback`, {
      reason: 'late decision',
      who: 'dave',
    });
    expect(again.status).toBe(409);
    expect(again.body.message).toMatch(/already rolled back at .*\(hold-timeout: held 10m with no decision/);

    await advance(s, 2 * 60_000);
    await workerTurn();
    expect(rollbacksOf(s)).toEqual([first]);
    expect(rollbackDeliveriesIn(await getWatch(s, id))).toHaveLength(1);
  }, 45_000);

  it('hold: an operator promote passes the watch with verdict warn and nothing ever rolls back', async () => {
    const s = await startScenario('hold');
    const id = await startWatchThenBreak(s, '30m');
    await advanceUntilStatus(s, id, 'held', 10 * 60_000);

    const promoted = await api<WatchView>(s, 'POST', `/watches/${id}/promote`, {
      reason: 'orders 500s are the partner sandbox, not us',
      who: 'alice',
    });
    expect(promoted.status).toBe(200);
    expect(promoted.body).toMatchObject({ id, status: 'passed', verdict: 'warn' });
    expect(promoted.body.held).toBeUndefined();
    const override = promoted.body.timeline.find((e) => e.type === 'override') as
      | (WatchView['timeline'][number] & { action?: string; who?: string; reason?: string })
      | undefined;
    expect(override).toMatchObject({
      action: 'promote',
      reason: 'orders 500s are the partner sandbox, not us',
    });
    expect(override?.who).toMatch(/^alice \(via token/);
    expect(promoted.body.reasons[0]).toMatch(/^promoted by alice/);

    // Past the hold timeout: the promote was the decision, onHoldTimeout never happens.
    await advance(s, HOLD_TIMEOUT_MS + 60_000);
    const later = await getWatch(s, id);
    expect(later).toMatchObject({ status: 'passed', verdict: 'warn' });
    await notified(s, 'watch.passed');
    await workerTurn();
    expect(rollbacksOf(s)).toEqual([]);
    expect(rollbackDeliveriesIn(later)).toEqual([]);

    const waited = await cli(s, ['wait', id, '--timeout', '10s']);
    expect(waited.code, waited.stderr).toBe(0);
  }, 45_000);

  it('hold: `vigil watch rollback` rolls a held watch back once; a second is refused naming the first', async () => {
    const s = await startScenario('hold');
    const id = await startWatchThenBreak(s, '30m');
    await advanceUntilStatus(s, id, 'held', 10 * 60_000);

    const rolled = await cli(s, ['watch', 'rollback', id, '--reason', 'orders failing', '--who', 'bob']);
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(rolled.stderr).toMatch(/^rolled back: /);
    const first = await firstRollback(s, id);
    // An operator's rollback says who asked, in the body the deploy tool receives.
    expect(JSON.parse(first.body)).toMatchObject({
      manual: { who: expect.stringMatching(/^bob \(via token/), reason: 'orders failing' },
    });
    const watch = await getWatch(s, id);
    expect(watch.status).toBe('failed');
    expect(watch.reasons[0]).toMatch(/^rolled back by bob \(via token, [^)]+\): orders failing$/);

    const second = await cli(s, ['watch', 'rollback', id, '--reason', 'again', '--who', 'erin']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(
      /refused: 409 watch .* was already rolled back at .*\(operator by bob .*: orders failing\)/,
    );

    const waited = await cli(s, ['wait', id, '--timeout', '10s']);
    expect(waited.code, waited.stderr).toBe(1);

    // The hold timeout passing later changes nothing: the operator's rollback was the one.
    await advance(s, HOLD_TIMEOUT_MS + 60_000);
    await workerTurn();
    expect(rollbacksOf(s)).toEqual([first]);
    const after = await getWatch(s, id);
    expect(after.status).toBe('failed');
    expect(rollbackDeliveriesIn(after)).toEqual([
      expect.stringMatching(/^manual rollback → rollback:deploy-bot delivered \(attempt 1, HTTP 200\)$/),
    ]);
  }, 45_000);

  it('hold: with onHoldTimeout promote, no decision by holdTimeout passes the watch with verdict warn', async () => {
    const s = await startScenario('hold', 'promote');
    const id = await startWatchThenBreak(s, '30m');
    const held = await advanceUntilStatus(s, id, 'held', 10 * 60_000);
    const until = Date.parse(held.held?.until ?? '');

    await advance(s, until - s.clock.now() - STEP_MS);
    expect((await getWatch(s, id)).status).toBe('held');
    const passed = await advanceUntilStatus(s, id, 'passed', 2 * STEP_MS);
    expect(passed.verdict).toBe('warn');
    expect(passed.reasons[0]).toBe('held 10m with no decision: onHoldTimeout promote');
    await notified(s, 'watch.passed');
    expect(rollbacksOf(s)).toEqual([]);

    const waited = await cli(s, ['wait', id, '--timeout', '10s']);
    expect(waited.code, waited.stderr).toBe(0);
  }, 45_000);

  it('shadow: the check is shown failing but counts for nothing; the watch passes clean', async () => {
    const s = await startScenario('shadow');
    const id = await startWatchThenBreak(s, '20m');

    await advance(s, 5 * 60_000);
    const running = await getWatch(s, id);
    expect(running).toMatchObject({ status: 'running', verdict: 'pass', reasons: [] });
    expect(running.checks.find((c) => c.name === 'probe:orders')).toMatchObject({
      result: 'fail',
      enforce: 'shadow',
      shadow: true,
    });

    const passed = await advanceUntilStatus(s, id, 'passed', 20 * 60_000);
    expect(passed).toMatchObject({ verdict: 'pass', reasons: [] });
    await notified(s, 'watch.passed');
    expect(rollbacksOf(s)).toEqual([]);
    // Not even an alert: shadow records and shows, nothing else.
    expect(alertsOf(s, id)).toEqual([]);

    const waited = await cli(s, ['wait', id, '--timeout', '10s']);
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stderr).toContain('watch passed (verdict pass)');
  }, 45_000);
});
