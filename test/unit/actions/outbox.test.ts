import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type Actions,
  type ActionsDeps,
  createActions,
  type RollbackRequest,
} from '../../../src/actions/index.js';
import { verifySignature } from '../../../src/actions/sign.js';
import type { DeliveryAttemptEvent, VerdictObject } from '../../../src/actions/types.js';
import { ManualClock } from '../../../src/clock.js';
import { ConfigError } from '../../../src/errors.js';
import { openStore } from '../../../src/store/open.js';
import type { Store } from '../../../src/store/port.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics, type Metrics } from '../../../src/telemetry/metrics.js';
import { startWebhookReceiver, unusedPort, type WebhookReceiver } from '../../helpers/webhook-receiver.js';
import { actionsConfig, failedVerdict, SECRET, tempStorePath, testDispatcher } from './support.js';

const T0 = Date.parse('2026-11-27T10:15:00Z');
const verdict = failedVerdict();
const MAX_DELAY = 60_000;

let file: ReturnType<typeof tempStorePath>;
let store: Store;
let clock: ManualClock;
let metrics: Metrics;
let receiver: WebhookReceiver;
let attempts: DeliveryAttemptEvent[];
const dispatcher = testDispatcher();
const opened: Actions[] = [];

/** Deps that send VigilActionFailed and the other alerts to an Alertmanager at `url`. */
function alertingTo(url: string): Partial<ActionsDeps> {
  return {
    alertmanager: { url, timeout: 1_000, headers: {}, resendInterval: 60_000, runbookBaseUrl: 'https://rb' },
  };
}

function build(actions: unknown, overrides: Partial<ActionsDeps> = {}): Actions {
  const built = createActions({
    store,
    service: 'prep-api',
    actions: actionsConfig(actions),
    clock,
    dispatcher,
    logger: silentLogger(),
    metrics,
    userAgent: 'vigil/test',
    backoff: { initialDelayMs: 1_000, maxDelayMs: MAX_DELAY },
    onAttempt: (a) => {
      attempts.push(a);
    },
    ...overrides,
  });
  opened.push(built);
  return built;
}

/** What the watch engine does when a watch fails: the failure and its actions in one transaction. */
function failWatch(actions: Actions, watch: VerdictObject = verdict) {
  return store.transaction((tx) => actions.onWatchFailed(tx, watch, watch));
}

/** A rollback decided in its own transaction (the override's, for an operator). */
function rollBack(actions: Actions, request: RollbackRequest, watch: VerdictObject = verdict) {
  return store.transaction((tx) => actions.rollback(tx, watch, watch, request));
}

async function reopen(): Promise<void> {
  await store.close(); // the daemon dies
  store = await openStore({ path: file.path });
}

function rollbackTo(url: string, extra: Record<string, unknown> = {}) {
  return { rollback: [{ name: 'deployer', url, secret: SECRET, ...extra }] };
}

async function counter(event: string, result: string): Promise<number> {
  const data = await metrics.webhookDeliveries.get();
  return data.values.find((v) => v.labels.event === event && v.labels.result === result)?.value ?? 0;
}

beforeEach(async () => {
  file = tempStorePath();
  store = await openStore({ path: file.path });
  clock = new ManualClock(T0);
  metrics = createMetrics({ version: 'test', defaultMetrics: false });
  receiver = await startWebhookReceiver();
  attempts = [];
});

afterEach(async () => {
  for (const a of opened.splice(0)) await a.stop(1_000);
  await receiver.close();
  await store.close();
  file.cleanup();
});

describe('rollback request (DESIGN §7)', () => {
  it('POSTs the standard body with the contract headers, signed with the target secret', async () => {
    const actions = build(
      rollbackTo(`${receiver.url}/hooks/rollback`, {
        headers: { 'X-Team': 'prep', 'X-Vigil-Event': 'spoof' },
      }),
    );
    const [enqueued] = await failWatch(actions);
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
    await failWatch(actions);
    for (let i = 0; i < 3; i++) {
      await actions.flush();
      await clock.advance(MAX_DELAY);
    }
    const requests = await receiver.waitFor(3);
    expect(new Set(requests.map((r) => r.headers['x-vigil-delivery'])).size).toBe(1);
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    const [delivery] = await actions.listDeliveries(verdict.id);
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
    await failWatch(first);
    await first.flush();
    expect(attempts).toHaveLength(1);
    expect(attempts[0]!.error).toMatch(/ECONNREFUSED/);
    await first.stop(1_000);
    await reopen();

    const down = await startWebhookReceiver({ port });
    try {
      const second = build(config);
      expect((await failWatch(second))[0]!.created).toBe(false); // a replayed failure is a no-op
      await clock.advance(MAX_DELAY);
      await second.flush();
      await second.flush();
      expect(down.requests).toHaveLength(1);
      const deliveries = await second.listDeliveries(verdict.id);
      expect(deliveries).toHaveLength(1);
      expect(deliveries[0]).toMatchObject({ status: 'delivered', attempts: 2 });
    } finally {
      await down.close();
    }
  });

  it('a delivery in flight when the daemon dies is retried once its lease runs out', async () => {
    const actions = build(rollbackTo(receiver.url, { timeout: '10s' }));
    const [enqueued] = await failWatch(actions);
    // A worker claimed it and died before recording the attempt.
    expect((await store.outbox.claimDue(T0, 16, () => T0 + 15_000)).map((d) => d.id)).toEqual([
      enqueued!.deliveryId,
    ]);
    await reopen();
    const restarted = build(rollbackTo(receiver.url, { timeout: '10s' }));
    await restarted.flush();
    expect(receiver.requests).toHaveLength(0);
    await clock.advance(15_000);
    await restarted.flush();
    await restarted.flush();
    expect(receiver.requests).toHaveLength(1);
    expect((await restarted.listDeliveries(verdict.id))[0]).toMatchObject({
      status: 'delivered',
      attempts: 1,
    });
  });

  it('a receiver slower than the target timeout counts as a failed attempt', async () => {
    receiver.script({ status: 200, delayMs: 2_000 });
    const actions = build(rollbackTo(receiver.url, { timeout: '200ms' }));
    await failWatch(actions);
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
    const actions = build({ ...rollbackTo(receiver.url), maxAge: '2m' }, alertingTo(receiver.url));
    await failWatch(actions);
    for (let i = 0; i < 20 && (await actions.listDeliveries(verdict.id))[0]!.status === 'pending'; i++) {
      await actions.flush();
      await clock.advance(MAX_DELAY);
    }
    const [delivery] = await actions.listDeliveries(verdict.id);
    expect(delivery!.status).toBe('failed');
    expect(delivery!.attemptLog.at(-1)!.at).toBeGreaterThanOrEqual(T0 + 120_000);
    expect(attempts.at(-1)!.outcome).toBe('failed');
    expect(await counter('rollback', 'failed')).toBe(1);
    const failedAlert = (await actions.alerts.held()).find((a) => a.labels.alertname === 'VigilActionFailed');
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
  it('a second automatic enqueue is a no-op that reports the first deliveries', async () => {
    const actions = build({
      rollback: [
        { url: receiver.url, secret: SECRET },
        { name: 'b', url: receiver.url, secret: SECRET },
      ],
    });
    const first = await failWatch(actions);
    const again = await failWatch(actions);
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
    await failWatch(actions);
    const operator = await rollBack(actions, { trigger: 'operator', who: 'alice', reason: 'p95' });
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
      const outcome = await rollBack(actions, request);
      expect(outcome.enqueued).toBe(1);
      expect(outcome.existing).toBeUndefined();
      expect(outcome.deliveries.map((d) => [d.idempotencyKey, d.manual])).toEqual([
        [`${verdict.id}:rollback`, request.trigger === 'operator'],
      ]);
      await clock.advance(5_000);
      expect((await failWatch(actions)).filter((d) => d.created)).toEqual([]);
      expect((await rollBack(actions, { trigger: 'operator', who: 'bob' })).existing).toMatchObject({
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
    await rollBack(actions, { trigger: 'operator', who: 'alice', reason: 'r' });
    const other = failedVerdict('w_01JDOTHER');
    expect(await actions.onWatchEvent('watch.failed', verdict, verdict)).toEqual([]);
    expect(await actions.onWatchEvent('watch.failed', other, other)).toEqual([]);
    expect(await actions.rollbackOf(other.id)).toBeUndefined();
    await actions.flush();
    expect(receiver.requests.map((r) => r.headers['idempotency-key'])).toEqual([`${verdict.id}:rollback`]);
  });

  it('with no rollback target the decision is still recorded, so a second request is refused too', async () => {
    const actions = build({});
    expect(await rollBack(actions, { trigger: 'automatic' })).toEqual({
      enqueued: 0,
      deliveries: [],
    });
    const second = await rollBack(actions, { trigger: 'operator', who: 'alice', reason: 'r' });
    expect(second.existing).toMatchObject({ trigger: 'automatic' });
    expect(second.existing).toMatchObject({ at: Date.parse('2026-11-27T10:15:00.000Z'), who: null });
  });

  it('the decision survives a restart: a rollback asked again on a reopened store is a no-op', async () => {
    await rollBack(build(rollbackTo(receiver.url)), {
      trigger: 'operator',
      who: 'alice',
      reason: 'r',
    });
    await reopen();
    const reopened = build(rollbackTo(receiver.url));
    expect(await reopened.rollbackOf(verdict.id)).toMatchObject({
      trigger: 'operator',
      who: 'alice',
      at: T0,
    });
    expect((await failWatch(reopened)).filter((d) => d.created)).toEqual([]);
    await reopened.flush();
    expect(receiver.requests).toHaveLength(1);
  });

  it('enqueues nothing and wakes nobody when the caller transaction rolls back', async () => {
    const actions = build(rollbackTo(receiver.url));
    actions.start();
    await vi.waitFor(() => expect(clock.pending).toBe(1)); // the worker sleeps until its next poll
    const scans = vi.spyOn(store.outbox, 'claimDue');
    const published = vi.spyOn(store, 'publish');
    await expect(
      store.transaction(async (tx) => {
        await actions.onWatchFailed(tx, verdict, verdict);
        throw new Error('marking the watch failed went wrong');
      }),
    ).rejects.toThrow(/went wrong/);
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve)); // time to scan if woken
    expect(scans).not.toHaveBeenCalled();
    expect(published).not.toHaveBeenCalled();
    expect(await actions.listDeliveries(verdict.id)).toEqual([]);
    expect(await actions.rollbackOf(verdict.id)).toBeUndefined();
    // The same failure committed: the worker wakes at once (no clock moved), the replicas are told once.
    await failWatch(actions);
    await receiver.waitFor(1);
    expect(scans).toHaveBeenCalled();
    expect(published).toHaveBeenCalledTimes(1);
    expect(published).toHaveBeenCalledWith({ kind: 'outbox', id: '' });
  });
});

describe('dryRun, templates, notifications and configuration', () => {
  it('global dryRun sends the same request with "dryRun": true', async () => {
    const actions = build({ ...rollbackTo(receiver.url), dryRun: true });
    await failWatch(actions);
    await actions.flush();
    const [request] = await receiver.waitFor(1);
    expect(JSON.parse(request!.body).dryRun).toBe(true);
    expect(request!.headers['idempotency-key']).toBe(`${verdict.id}:rollback`);
    expect((await actions.listDeliveries(verdict.id))[0]).toMatchObject({
      dryRun: true,
      status: 'delivered',
    });
  });

  it('per-target dryRun marks only that target', async () => {
    const actions = build({
      rollback: [
        { name: 'real', url: `${receiver.url}/real`, secret: SECRET },
        { name: 'dry', url: `${receiver.url}/dry`, secret: SECRET, dryRun: true },
      ],
    });
    await failWatch(actions);
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
    await failWatch(actions);
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
    await failWatch(actions);
    await actions.flush();
    expect(receiver.requests).toHaveLength(0);
    expect((await actions.listDeliveries(verdict.id))[0]).toMatchObject({
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
    await actions.onWatchEvent('watch.started', running, running);
    await actions.onWatchEvent('watch.phase', running, running);
    await actions.onWatchEvent('watch.phase', running, running); // the same phase again: no-op
    await actions.onWatchEvent('watch.phase', running, { ...running, phase: 'bake' });
    await failWatch(actions); // in the transaction that fails the watch
    await actions.onWatchEvent('watch.failed', verdict, verdict); // after its commit: nothing new
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
    await failWatch(actions);
    expect((await actions.listDeliveries(verdict.id))[0]!.url).toBe(`http://127.0.0.1:${receiver.port}/hook`);
    expect(await store.outbox.prune(T0 + 1)).toBe(0);
    await actions.flush();
    expect(receiver.requests[0]!.url).toBe('/hook?token=abc');
    expect(await store.outbox.prune(T0 + 1)).toBe(1);
    expect(await actions.listDeliveries(verdict.id)).toEqual([]);
  });

  it('reload swaps targets for pending deliveries; an invalid reload keeps the old ones', async () => {
    const port = await unusedPort();
    const actions = build(rollbackTo(`http://127.0.0.1:${port}/old`));
    await failWatch(actions);
    await actions.flush(); // refused: pending
    expect(() => actions.reload(actionsConfig(rollbackTo(receiver.url, { secret: 'short' })))).toThrow(
      ConfigError,
    );
    actions.reload(actionsConfig(rollbackTo(`${receiver.url}/new`)));
    await clock.advance(MAX_DELAY);
    await actions.flush();
    expect(receiver.requests.map((r) => r.url)).toEqual(['/new']);
    expect((await actions.listDeliveries(verdict.id))[0]).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('a pending delivery whose target left the config is failed without an attempt and raises VigilActionFailed', async () => {
    const port = await unusedPort();
    const actions = build(rollbackTo(`http://127.0.0.1:${port}/gone`), alertingTo(receiver.url));
    await failWatch(actions);
    await actions.flush(); // refused: pending, one attempt
    actions.reload(actionsConfig({}));
    await clock.advance(MAX_DELAY);
    await actions.flush();
    expect((await actions.listDeliveries(verdict.id))[0]).toMatchObject({
      status: 'failed',
      attempts: 1,
      lastError: 'target rollback:deployer is no longer configured (or its url is empty)',
    });
    expect(await counter('rollback', 'failed')).toBe(1);
    const failedAlert = (await actions.alerts.held()).find((a) => a.labels.alertname === 'VigilActionFailed');
    expect(failedAlert?.annotations.description).toMatch(/no longer configured/);
  });

  it('an asynchronous onAttempt hook (the watch timeline) is done when flush is; one that rejects changes nothing', async () => {
    const recorded: string[] = [];
    const actions = build(rollbackTo(receiver.url), {
      onAttempt: async (a) => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        recorded.push(a.outcome);
        throw new Error('the timeline is away');
      },
    });
    await failWatch(actions);
    await actions.flush();
    expect(recorded).toEqual(['delivered']);
    expect((await actions.listDeliveries(verdict.id))[0]).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('a target with an empty url is off and listed for /health', async () => {
    const actions = build({
      rollback: [
        { url: '', secret: '' },
        { name: 'live', url: receiver.url, secret: SECRET },
      ],
    });
    expect(actions.disabledTargets()).toEqual(['rollback:0']);
    expect((await failWatch(actions)).map((d) => d.target)).toEqual(['rollback:live']);
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
    await failWatch(actions);
    await receiver.waitFor(1);
    await actions.stop(5_000);
    expect((await actions.listDeliveries(verdict.id))[0]).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('stop() past its deadline aborts the attempt without recording it, for a retry after restart', async () => {
    receiver.script({ status: 200, delayMs: 3_000 });
    const actions = build(rollbackTo(receiver.url));
    actions.start();
    await failWatch(actions);
    await receiver.waitFor(1);
    const started = Date.now();
    await actions.stop(100);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await actions.listDeliveries(verdict.id))[0]).toMatchObject({ status: 'pending', attempts: 0 });
  });
});

describe('replicas on one store (DESIGN §13)', () => {
  it('two delivery workers on one store never send one row twice', async () => {
    const config = {
      rollback: [
        { name: 'a', url: `${receiver.url}/a`, secret: SECRET },
        { name: 'b', url: `${receiver.url}/b`, secret: SECRET },
      ],
      notify: [{ name: 'cd', url: `${receiver.url}/cd`, secret: SECRET }],
    };
    const replicas = [build(config), build(config)] as const;
    for (const replica of replicas) replica.start();
    const watches = Array.from({ length: 6 }, (_, i) => failedVerdict(`w_${i}`));
    for (const [i, watch] of watches.entries()) {
      // Each replica enqueues half; the other one hears of it (the daemon's wake on an outbox change).
      await failWatch(replicas[i % 2]!, watch);
      replicas[(i + 1) % 2]!.wake();
    }
    await Promise.all(replicas.flatMap((replica) => [replica.flush(), replica.flush()]));
    await receiver.waitFor(18); // 6 watches × (2 rollback targets + 1 notify target)
    await Promise.all(replicas.map((replica) => replica.flush()));
    await clock.advance(MAX_DELAY); // every lease has run out: nothing is due again
    await Promise.all(replicas.map((replica) => replica.flush()));
    expect(receiver.requests).toHaveLength(18);
    expect(new Set(receiver.requests.map((r) => r.headers['x-vigil-delivery'])).size).toBe(18);
    const stored = (await Promise.all(watches.map((w) => replicas[0].listDeliveries(w.id)))).flat();
    expect(stored.map((d) => [d.status, d.attempts])).toEqual(stored.map(() => ['delivered', 1]));
  });

  it('a row claimed by a replica that died is sent by the other once its lease runs out, with the same Idempotency-Key', async () => {
    receiver.script({ status: 200, delayMs: 3_000 });
    const config = rollbackTo(receiver.url, { timeout: '10s' });
    const dying = build(config);
    const survivor = build(config);
    const [enqueued] = await failWatch(dying);
    dying.start();
    const [first] = await receiver.waitFor(1); // its attempt reached the receiver…
    await dying.stop(50); // …and it died before recording it
    expect((await survivor.listDeliveries(verdict.id))[0]).toMatchObject({ status: 'pending', attempts: 0 });
    await survivor.flush();
    await clock.advance(14_999); // the lease: the target's 10 s timeout and a 5 s margin
    await survivor.flush();
    expect(receiver.requests).toHaveLength(1);
    await clock.advance(1);
    await survivor.flush();
    const [, second] = await receiver.waitFor(2);
    expect(second!.headers['idempotency-key']).toBe(`${verdict.id}:rollback`);
    expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
    expect(second!.headers['x-vigil-delivery']).toBe(enqueued!.deliveryId);
    expect(second!.body).toBe(first!.body);
    expect((await survivor.listDeliveries(verdict.id))[0]).toMatchObject({
      status: 'delivered',
      attempts: 1,
    });
  });

  it('a replica that stands down sends nothing, and delivers again once it leads again', async () => {
    const config = rollbackTo(receiver.url);
    const leader = build(config);
    const follower = build(config); // enqueues (its API's rollbacks), never delivers
    leader.start();
    await leader.stop(1_000); // leadership lost
    await failWatch(follower);
    await leader.flush();
    await clock.advance(MAX_DELAY);
    expect(receiver.requests).toHaveLength(0);
    leader.start(); // leadership regained: the first scan sends what is due
    await receiver.waitFor(1);
    await vi.waitFor(() => expect(clock.pending).toBe(1)); // parked until its next poll
    const other = failedVerdict('w_01JDOTHER');
    await failWatch(follower, other);
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(receiver.requests).toHaveLength(1); // another replica's enqueue does not wake this one by itself…
    leader.wake(); // …the daemon does, on the replica's outbox change
    const [, second] = await receiver.waitFor(2);
    expect(second!.headers['idempotency-key']).toBe(`${other.id}:rollback`);
  });
});
