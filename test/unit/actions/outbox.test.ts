import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Actions, type ActionsDeps, createActions } from '../../../src/actions/index.js';
import { verifySignature } from '../../../src/actions/sign.js';
import type { DeliveryAttemptEvent } from '../../../src/actions/types.js';
import { ManualClock } from '../../../src/clock.js';
import { ConfigError } from '../../../src/errors.js';
import { type Db, openDatabase } from '../../../src/store/db.js';
import { claimDelivery, pruneDeliveries } from '../../../src/store/outbox.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics, type Metrics } from '../../../src/telemetry/metrics.js';
import { startWebhookReceiver, unusedPort, type WebhookReceiver } from '../../helpers/webhook-receiver.js';
import { actionsConfig, failedVerdict, SECRET, tempStorePath, testDispatcher } from './support.js';

const T0 = Date.parse('2026-11-27T10:15:00Z');
const verdict = failedVerdict();
const MAX_DELAY = 60_000;

let store: ReturnType<typeof tempStorePath>;
let db: Db;
let clock: ManualClock;
let metrics: Metrics;
let receiver: WebhookReceiver;
let attempts: DeliveryAttemptEvent[];
const dispatcher = testDispatcher();
const opened: Actions[] = [];

function build(actions: unknown, overrides: Partial<ActionsDeps> = {}): Actions {
  const built = createActions({
    db,
    service: 'prep-api',
    actions: actionsConfig(actions),
    clock,
    dispatcher,
    logger: silentLogger(),
    metrics,
    userAgent: 'vigil/test',
    backoff: { initialDelayMs: 1_000, maxDelayMs: MAX_DELAY },
    onAttempt: (a) => attempts.push(a),
    ...overrides,
  });
  opened.push(built);
  return built;
}

function rollbackTo(url: string, extra: Record<string, unknown> = {}) {
  return { rollback: [{ name: 'deployer', url, secret: SECRET, ...extra }] };
}

async function counter(event: string, result: string): Promise<number> {
  const data = await metrics.webhookDeliveries.get();
  return data.values.find((v) => v.labels.event === event && v.labels.result === result)?.value ?? 0;
}

beforeEach(async () => {
  store = tempStorePath();
  db = openDatabase(store.path);
  clock = new ManualClock(T0);
  metrics = createMetrics({ version: 'test', defaultMetrics: false });
  receiver = await startWebhookReceiver();
  attempts = [];
});

afterEach(async () => {
  for (const a of opened.splice(0)) await a.stop(1_000);
  await receiver.close();
  if (db.open) db.close();
  store.cleanup();
});

describe('rollback request (DESIGN §7)', () => {
  it('POSTs the standard body with the contract headers, signed with the target secret', async () => {
    const actions = build(
      rollbackTo(`${receiver.url}/hooks/rollback`, {
        headers: { 'X-Team': 'prep', 'X-Vigil-Event': 'spoof' },
      }),
    );
    const [enqueued] = actions.onWatchFailed(verdict, verdict);
    expect(await actions.flush()).toBeUndefined();
    const [request] = await receiver.waitFor(1);
    const body = JSON.parse(request!.body);
    expect(body).toEqual({
      event: 'rollback',
      deliveryId: enqueued!.deliveryId,
      dryRun: false,
      watch: {
        id: verdict.id,
        service: 'prep-api',
        version: '1.4.2',
        previousVersion: '1.4.1',
        startedAt: verdict.startedAt,
      },
      verdict: JSON.parse(JSON.stringify(verdict)),
      triggeredAt: new Date(T0).toISOString(),
    });
    const h = request!.headers;
    expect(request!.method).toBe('POST');
    expect(request!.url).toBe('/hooks/rollback');
    expect(h['content-type']).toBe('application/json');
    expect(h['x-vigil-event']).toBe('rollback');
    expect(h['x-vigil-delivery']).toBe(enqueued!.deliveryId);
    expect(h['idempotency-key']).toBe(`${verdict.id}:rollback`);
    expect(h['x-vigil-timestamp']).toBe(String(T0 / 1000));
    expect(h['x-team']).toBe('prep');
    const sig = h['x-vigil-signature'] as string;
    expect(
      verifySignature(SECRET, sig, h['x-vigil-timestamp'] as string, request!.body, { now: T0 }).ok,
    ).toBe(true);
    expect(
      verifySignature('not-the-secret-000000', sig, h['x-vigil-timestamp'] as string, request!.body, {
        now: T0,
      }).ok,
    ).toBe(false);
  });

  it('a receiver answering 500 twice then 200 gives one delivery with three attempts recorded', async () => {
    receiver.script({ status: 500, body: 'boom' }, { status: 503 });
    const actions = build(rollbackTo(receiver.url));
    actions.onWatchFailed(verdict, verdict);
    for (let i = 0; i < 3; i++) {
      await actions.flush();
      await clock.advance(MAX_DELAY);
    }
    const requests = await receiver.waitFor(3);
    expect(new Set(requests.map((r) => r.headers['x-vigil-delivery'])).size).toBe(1);
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    const [delivery] = actions.listDeliveries(verdict.id);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 3, manual: false, dryRun: false });
    expect(delivery!.attemptLog.map((a) => [a.statusCode, a.error])).toEqual([
      [500, 'HTTP 500: boom'],
      [503, 'HTTP 503'],
      [200, null],
    ]);
    expect(attempts.map((a) => a.outcome)).toEqual(['retrying', 'retrying', 'delivered']);
    // Full jitter: the first retry waits within [0, 1s), the second within [0, 2s).
    expect(attempts[0]!.nextAttemptAt! - T0).toBeLessThan(1_000);
    expect(attempts[1]!.nextAttemptAt! - attempts[1]!.at).toBeLessThan(2_000);
    expect(await counter('rollback', 'retried')).toBe(2);
    expect(await counter('rollback', 'delivered')).toBe(1);
    await actions.flush();
    expect(receiver.requests).toHaveLength(3);
  });

  it('a delivery to a receiver that is down survives a daemon restart and arrives exactly once', async () => {
    const port = await unusedPort();
    const config = rollbackTo(`http://127.0.0.1:${port}/hook`);
    const first = build(config);
    db.transaction(() => first.onWatchFailed(verdict, verdict))();
    await first.flush();
    expect(attempts).toHaveLength(1);
    expect(attempts[0]!.error).toMatch(/ECONNREFUSED/);
    await first.stop(1_000);
    db.close(); // the daemon dies

    const down = await startWebhookReceiver({ port });
    try {
      db = openDatabase(store.path);
      const second = build(config);
      expect(second.onWatchFailed(verdict, verdict)[0]!.created).toBe(false); // a replayed failure is a no-op
      await clock.advance(MAX_DELAY);
      await second.flush();
      await second.flush();
      expect(down.requests).toHaveLength(1);
      const deliveries = second.listDeliveries(verdict.id);
      expect(deliveries).toHaveLength(1);
      expect(deliveries[0]).toMatchObject({ status: 'delivered', attempts: 2 });
    } finally {
      await down.close();
    }
  });

  it('a delivery in flight when the daemon dies is retried once its lease runs out', async () => {
    const actions = build(rollbackTo(receiver.url, { timeout: '10s' }));
    const [enqueued] = actions.onWatchFailed(verdict, verdict);
    // A worker claimed it and died before recording the attempt.
    expect(claimDelivery(db, enqueued!.deliveryId, T0, T0 + 15_000)).toBe(true);
    db.close();
    db = openDatabase(store.path);
    const restarted = build(rollbackTo(receiver.url, { timeout: '10s' }));
    await restarted.flush();
    expect(receiver.requests).toHaveLength(0);
    await clock.advance(15_000);
    await restarted.flush();
    await restarted.flush();
    expect(receiver.requests).toHaveLength(1);
    expect(restarted.listDeliveries(verdict.id)[0]).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('a receiver slower than the target timeout counts as a failed attempt', async () => {
    receiver.script({ status: 200, delayMs: 2_000 });
    const actions = build(rollbackTo(receiver.url, { timeout: '200ms' }));
    actions.onWatchFailed(verdict, verdict);
    const started = Date.now();
    await actions.flush();
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(attempts[0]).toMatchObject({
      outcome: 'retrying',
      statusCode: null,
      error: 'timed out after 200 ms',
    });
  });

  it('gives up after maxAge, marks the delivery failed and raises VigilActionFailed', async () => {
    receiver.script(...Array.from({ length: 50 }, () => ({ status: 502 })));
    const actions = build(
      { ...rollbackTo(receiver.url), maxAge: '2m' },
      {
        alertmanager: {
          url: receiver.url,
          timeout: 1_000,
          headers: {},
          resendInterval: 60_000,
          runbookBaseUrl: 'https://rb',
        },
      },
    );
    actions.onWatchFailed(verdict, verdict);
    for (let i = 0; i < 20 && actions.listDeliveries(verdict.id)[0]!.status === 'pending'; i++) {
      await actions.flush();
      await clock.advance(MAX_DELAY);
    }
    const [delivery] = actions.listDeliveries(verdict.id);
    expect(delivery!.status).toBe('failed');
    expect(delivery!.attemptLog.at(-1)!.at).toBeGreaterThanOrEqual(T0 + 120_000);
    expect(attempts.at(-1)!.outcome).toBe('failed');
    expect(await counter('rollback', 'failed')).toBe(1);
    const failedAlert = actions.alerts.held().find((a) => a.labels.alertname === 'VigilActionFailed');
    expect(failedAlert?.labels).toEqual({
      alertname: 'VigilActionFailed',
      service: 'prep-api',
      severity: 'page',
      watch_id: verdict.id,
    });
    expect(failedAlert?.annotations.runbook_url).toBe('https://rb#vigilactionfailed');
    expect(failedAlert?.annotations.description).toMatch(/HTTP 502/);
  });
});

describe('one rollback per watch, whichever path decides it (DESIGN §6, §7)', () => {
  it('a second automatic enqueue is a no-op that reports the first deliveries', () => {
    const actions = build({
      rollback: [
        { url: receiver.url, secret: SECRET },
        { name: 'b', url: receiver.url, secret: SECRET },
      ],
    });
    const first = actions.onWatchFailed(verdict, verdict);
    const again = actions.onWatchFailed(verdict, verdict);
    expect(first.map((d) => [d.target, d.created])).toEqual([
      ['rollback:0', true],
      ['rollback:b', true],
    ]);
    expect(again.map((d) => d.created)).toEqual([false, false]);
    expect(again.map((d) => d.deliveryId)).toEqual(first.map((d) => d.deliveryId));
  });

  it('an operator rollback after the automatic one enqueues nothing and names the first', async () => {
    const actions = build({
      rollback: [
        { url: receiver.url, secret: SECRET },
        { name: 'b', url: receiver.url, secret: SECRET },
      ],
    });
    actions.onWatchFailed(verdict, verdict);
    const operator = actions.rollback(verdict, verdict, { trigger: 'operator', who: 'alice', reason: 'p95' });
    expect(operator).toMatchObject({
      enqueued: 0,
      existing: { watchId: verdict.id, at: T0, trigger: 'automatic', who: null },
    });
    expect(operator.deliveries.map((d) => d.created)).toEqual([false, false]);
    await actions.flush();
    expect(receiver.requests.map((r) => r.headers['idempotency-key'])).toEqual([
      `${verdict.id}:rollback`,
      `${verdict.id}:rollback`,
    ]);
  });

  it.each([
    ['operator', { trigger: 'operator', who: 'alice', reason: 'bookings broken' }],
    ['hold-timeout', { trigger: 'hold-timeout' }],
  ] as const)(
    'a %s rollback is keyed <id>:rollback, and a later failure sends nothing more',
    async (_, request) => {
      const actions = build(rollbackTo(receiver.url));
      const outcome = actions.rollback(verdict, verdict, request);
      expect(outcome.enqueued).toBe(1);
      expect(outcome.existing).toBeUndefined();
      expect(outcome.deliveries.map((d) => [d.idempotencyKey, d.manual])).toEqual([
        [`${verdict.id}:rollback`, request.trigger === 'operator'],
      ]);
      await clock.advance(5_000);
      expect(actions.onWatchFailed(verdict, verdict).filter((d) => d.created)).toEqual([]);
      expect(actions.rollback(verdict, verdict, { trigger: 'operator', who: 'bob' }).existing).toMatchObject({
        at: T0,
        trigger: request.trigger,
        who: request.trigger === 'operator' ? 'alice' : null,
      });
      await actions.flush();
      expect(receiver.requests).toHaveLength(1);
      expect(receiver.requests[0]!.headers['idempotency-key']).toBe(`${verdict.id}:rollback`);
      const body = JSON.parse(receiver.requests[0]!.body);
      if (request.trigger === 'operator')
        expect(body.manual).toEqual({ who: 'alice', reason: 'bookings broken' });
      else expect(body.manual).toBeUndefined();
    },
  );

  it('the watch.failed event after commit never enqueues a rollback', async () => {
    const actions = build(rollbackTo(receiver.url));
    actions.rollback(verdict, verdict, { trigger: 'operator', who: 'alice', reason: 'r' });
    const other = failedVerdict('w_01JDOTHER');
    expect(actions.onWatchEvent('watch.failed', verdict, verdict)).toEqual([]);
    expect(actions.onWatchEvent('watch.failed', other, other)).toEqual([]);
    expect(actions.rollbackOf(other.id)).toBeUndefined();
    await actions.flush();
    expect(receiver.requests.map((r) => r.headers['idempotency-key'])).toEqual([`${verdict.id}:rollback`]);
  });

  it('with no rollback target the decision is still recorded, so a second request is refused too', () => {
    const actions = build({});
    expect(actions.rollback(verdict, verdict, { trigger: 'automatic' })).toEqual({
      enqueued: 0,
      deliveries: [],
    });
    const second = actions.rollback(verdict, verdict, { trigger: 'operator', who: 'alice', reason: 'r' });
    expect(second.existing).toMatchObject({ trigger: 'automatic' });
    expect(second.existing).toMatchObject({ at: Date.parse('2026-11-27T10:15:00.000Z'), who: null });
  });

  it('the decision survives a restart: a rollback asked again on a reopened store is a no-op', async () => {
    build(rollbackTo(receiver.url)).rollback(verdict, verdict, {
      trigger: 'operator',
      who: 'alice',
      reason: 'r',
    });
    db.close();
    db = openDatabase(store.path);
    const reopened = build(rollbackTo(receiver.url));
    expect(reopened.rollbackOf(verdict.id)).toMatchObject({ trigger: 'operator', who: 'alice', at: T0 });
    expect(reopened.onWatchFailed(verdict, verdict).filter((d) => d.created)).toEqual([]);
    await reopened.flush();
    expect(receiver.requests).toHaveLength(1);
  });

  it('enqueues nothing when the caller transaction rolls back', () => {
    const actions = build(rollbackTo(receiver.url));
    expect(() =>
      db.transaction(() => {
        actions.onWatchFailed(verdict, verdict);
        throw new Error('marking the watch failed went wrong');
      })(),
    ).toThrow(/went wrong/);
    expect(actions.listDeliveries(verdict.id)).toEqual([]);
  });
});

describe('dryRun, templates, notifications and configuration', () => {
  it('global dryRun sends the same request with "dryRun": true', async () => {
    const actions = build({ ...rollbackTo(receiver.url), dryRun: true });
    actions.onWatchFailed(verdict, verdict);
    await actions.flush();
    const [request] = await receiver.waitFor(1);
    expect(JSON.parse(request!.body).dryRun).toBe(true);
    expect(request!.headers['idempotency-key']).toBe(`${verdict.id}:rollback`);
    expect(actions.listDeliveries(verdict.id)[0]).toMatchObject({ dryRun: true, status: 'delivered' });
  });

  it('per-target dryRun marks only that target', async () => {
    const actions = build({
      rollback: [
        { name: 'real', url: `${receiver.url}/real`, secret: SECRET },
        { name: 'dry', url: `${receiver.url}/dry`, secret: SECRET, dryRun: true },
      ],
    });
    actions.onWatchFailed(verdict, verdict);
    await actions.flush();
    const byPath = Object.fromEntries(receiver.requests.map((r) => [r.url, JSON.parse(r.body).dryRun]));
    expect(byPath).toEqual({ '/real': false, '/dry': true });
  });

  it('a template target gets its rendered body, method and content type, signed over the rendered bytes', async () => {
    const actions = build(
      rollbackTo(`${receiver.url}/apis/argoproj.io/v1alpha1/namespaces/prep/rollouts/prep-api/status`, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/merge-patch+json', Authorization: 'Bearer k8s' },
        bodyTemplate: '{"status": {"abort": true}, "note": "{{watch.version}}"}',
      }),
    );
    actions.onWatchFailed(verdict, verdict);
    await actions.flush();
    const [request] = await receiver.waitFor(1);
    expect(request!.method).toBe('PATCH');
    expect(request!.body).toBe('{"status":{"abort":true},"note":"1.4.2"}');
    expect(request!.headers['content-type']).toBe('application/merge-patch+json');
    expect(request!.headers.authorization).toBe('Bearer k8s');
    const h = request!.headers;
    expect(
      verifySignature(
        SECRET,
        h['x-vigil-signature'] as string,
        h['x-vigil-timestamp'] as string,
        request!.body,
        { now: T0 },
      ).ok,
    ).toBe(true);
  });

  it('in a dry run, a template target that cannot carry dryRun is not called at all', async () => {
    const actions = build({
      ...rollbackTo(receiver.url, { bodyTemplate: '{"status": {"abort": true}}' }),
      dryRun: true,
    });
    actions.onWatchFailed(verdict, verdict);
    await actions.flush();
    expect(receiver.requests).toHaveLength(0);
    expect(actions.listDeliveries(verdict.id)[0]).toMatchObject({
      status: 'delivered',
      dryRun: true,
      attempts: 1,
    });
    expect(await counter('rollback', 'skipped')).toBe(1);
  });

  it('notification targets get only the events they subscribe to, signed the same way', async () => {
    const actions = build({
      rollback: [{ url: `${receiver.url}/rollback`, secret: SECRET }],
      notify: [
        {
          name: 'chat',
          url: `${receiver.url}/chat`,
          secret: SECRET,
          events: ['watch.passed', 'watch.failed'],
        },
        { name: 'cd', url: `${receiver.url}/cd`, secret: SECRET },
      ],
    });
    const running = { ...verdict, status: 'running' as const, verdict: 'pending' as const, phase: 'smoke' };
    actions.onWatchEvent('watch.started', running, running);
    actions.onWatchEvent('watch.phase', running, running);
    actions.onWatchEvent('watch.phase', running, running); // the same phase again: no-op
    actions.onWatchEvent('watch.phase', running, { ...running, phase: 'bake' });
    actions.onWatchFailed(verdict, verdict); // in the transaction that fails the watch
    actions.onWatchEvent('watch.failed', verdict, verdict); // after its commit: nothing new
    await actions.flush();
    const seen = receiver.requests.map((r) => `${r.url} ${r.headers['x-vigil-event']}`).sort();
    expect(seen).toEqual([
      '/cd watch.failed',
      '/cd watch.phase',
      '/cd watch.phase',
      '/cd watch.started',
      '/chat watch.failed',
      '/rollback rollback',
    ]);
    for (const r of receiver.requests) {
      const h = r.headers;
      expect(
        verifySignature(SECRET, h['x-vigil-signature'] as string, h['x-vigil-timestamp'] as string, r.body, {
          now: T0,
        }).ok,
      ).toBe(true);
    }
  });

  it('the watch API view hides query tokens and user info of the target url; prune keeps pending rows', async () => {
    const actions = build(rollbackTo(`http://user:pw@127.0.0.1:${receiver.port}/hook?token=abc`));
    actions.onWatchFailed(verdict, verdict);
    expect(actions.listDeliveries(verdict.id)[0]!.url).toBe(`http://127.0.0.1:${receiver.port}/hook`);
    expect(pruneDeliveries(db, T0 + 1)).toBe(0);
    await actions.flush();
    expect(receiver.requests[0]!.url).toBe('/hook?token=abc');
    expect(pruneDeliveries(db, T0 + 1)).toBe(1);
    expect(actions.listDeliveries(verdict.id)).toEqual([]);
  });

  it('reload swaps targets for pending deliveries; an invalid reload keeps the old ones', async () => {
    const port = await unusedPort();
    const actions = build(rollbackTo(`http://127.0.0.1:${port}/old`));
    actions.onWatchFailed(verdict, verdict);
    await actions.flush(); // refused: pending
    expect(() => actions.reload(actionsConfig(rollbackTo(receiver.url, { secret: 'short' })))).toThrow(
      ConfigError,
    );
    actions.reload(actionsConfig(rollbackTo(`${receiver.url}/new`)));
    await clock.advance(MAX_DELAY);
    await actions.flush();
    expect(receiver.requests.map((r) => r.url)).toEqual(['/new']);
    expect(actions.listDeliveries(verdict.id)[0]).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('a target with an empty url is off and listed for /health', () => {
    const actions = build({
      rollback: [
        { url: '', secret: '' },
        { name: 'live', url: receiver.url, secret: SECRET },
      ],
    });
    expect(actions.disabledTargets()).toEqual(['rollback:0']);
    expect(actions.onWatchFailed(verdict, verdict).map((d) => d.target)).toEqual(['rollback:live']);
  });

  it('refuses a target with a short secret or a bad template, listing every problem', () => {
    expect(() =>
      build({
        rollback: [
          { url: receiver.url, secret: 'short' },
          { url: receiver.url, secret: SECRET, bodyTemplate: '{"a":"{{nope}}"}' },
        ],
      }),
    ).toThrow(ConfigError);
    try {
      build({
        rollback: [
          { url: receiver.url, secret: 'short' },
          { url: receiver.url, secret: SECRET, bodyTemplate: '{"a":"{{nope}}"}' },
        ],
      });
    } catch (error) {
      expect((error as ConfigError).problems.map((p) => p.path)).toEqual([
        'actions.rollback.0.secret',
        'actions.rollback.1.bodyTemplate',
      ]);
    }
  });

  it('stop() waits for a delivery in flight and leaves the outbox consistent', async () => {
    receiver.script({ status: 200, delayMs: 200 });
    const actions = build(rollbackTo(receiver.url));
    actions.start();
    actions.onWatchFailed(verdict, verdict);
    await receiver.waitFor(1);
    await actions.stop(5_000);
    expect(actions.listDeliveries(verdict.id)[0]).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('stop() past its deadline aborts the attempt without recording it, for a retry after restart', async () => {
    receiver.script({ status: 200, delayMs: 3_000 });
    const actions = build(rollbackTo(receiver.url));
    actions.start();
    actions.onWatchFailed(verdict, verdict);
    await receiver.waitFor(1);
    const started = Date.now();
    await actions.stop(100);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(actions.listDeliveries(verdict.id)[0]).toMatchObject({ status: 'pending', attempts: 0 });
  });
});
