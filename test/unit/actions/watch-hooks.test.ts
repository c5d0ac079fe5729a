import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Actions, createActions } from '../../../src/actions/index.js';
import { createWatchHooks, deliveryTimelineEvent } from '../../../src/actions/watch-hooks.js';
import { ManualClock } from '../../../src/clock.js';
import { alertmanagerSchema } from '../../../src/config/schema.js';
import { openStore } from '../../../src/store/open.js';
import type { Store } from '../../../src/store/port.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import type { Verdict } from '../../../src/watch/types.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver.js';
import { actionsConfig, failedVerdict, SECRET, testDispatcher } from './support.js';

const T0 = Date.parse('2026-11-27T10:15:00Z');
const watch: Verdict = {
  ...failedVerdict(),
  phase: 'bake',
  endedAt: '2026-11-27T10:15:00.000Z',
  durationMs: 86_400_000,
  blindSpans: [],
};

describe('createWatchHooks', () => {
  let store: Store;
  let receiver: WebhookReceiver;
  let actions: Actions;
  let clock: ManualClock;

  beforeEach(async () => {
    store = await openStore({ path: ':memory:' });
    receiver = await startWebhookReceiver();
    clock = new ManualClock(T0);
    actions = createActions({
      store,
      service: 'prep-api',
      actions: actionsConfig({
        rollback: [{ url: `${receiver.url}/rollback`, secret: SECRET }],
        notify: [{ url: `${receiver.url}/notify`, secret: SECRET }],
      }),
      alertmanager: alertmanagerSchema.parse({ url: `${receiver.url}/am` }),
      clock,
      dispatcher: testDispatcher(),
      logger: silentLogger(),
      metrics: createMetrics({ version: 't', defaultMetrics: false }),
      userAgent: 'vigil/test',
    });
  });

  afterEach(async () => {
    await actions.stop(1_000);
    await receiver.close();
    await store.close();
  });

  it('the failure hook in the watch transaction, then the after-commit event and alert, fire one rollback and one alert', async () => {
    const hooks = createWatchHooks(actions, clock);
    await store.transaction((tx) => hooks.onFailed(tx, watch, 'automatic'));
    hooks.onEvent('watch.failed', watch);
    hooks.alerts.fire({ alertname: 'VigilWatchFailed', watch, summary: 'other words', description: 'x' });
    await actions.flush();
    const paths = receiver.requests.map((r) => r.url).sort();
    expect(paths).toEqual(['/am/api/v2/alerts', '/notify', '/rollback']);
    const posted = JSON.parse(receiver.requests.find((r) => r.url.startsWith('/am'))!.body);
    expect(posted.map((a: { labels: { alertname: string } }) => a.labels.alertname)).toEqual([
      'VigilWatchFailed',
    ]);
    hooks.alerts.fire({ alertname: 'VigilWatchFailed', watch, summary: 'again', description: 'x' });
    await actions.flush();
    expect(receiver.requests).toHaveLength(3); // unchanged content: nothing re-sent before the resend interval
  });

  it('a failure whose transaction rolls back enqueues nothing and fires no alert', async () => {
    const hooks = createWatchHooks(actions, clock);
    await expect(
      store.transaction(async (tx) => {
        await hooks.onFailed(tx, watch, 'automatic');
        throw new Error('the watch could not be marked failed');
      }),
    ).rejects.toThrow(/could not be marked/);
    await actions.flush();
    expect(receiver.requests).toEqual([]);
    expect(await actions.listDeliveries(watch.id)).toEqual([]);
    expect(await actions.alerts.held()).toEqual([]);
  });

  it('VigilWatchFailed resolves when the next watch of the service starts', async () => {
    const hooks = createWatchHooks(actions, clock);
    await store.transaction((tx) => hooks.onFailed(tx, watch, 'automatic'));
    const next = {
      ...watch,
      id: 'w_next',
      version: '1.4.3',
      status: 'running' as const,
      verdict: 'pending' as const,
    };
    hooks.onEvent('watch.started', next);
    const failed = (await actions.alerts.held()).find((a) => a.labels.alertname === 'VigilWatchFailed');
    expect(failed).toMatchObject({ state: 'resolved', endsAt: T0 });
  });

  it('blind alerts fire and resolve under the watch key; manual rollbacks go through the override hook', async () => {
    const hooks = createWatchHooks(actions, clock);
    const running = { ...watch, status: 'running' as const, verdict: 'inconclusive' as const };
    hooks.alerts.fire({
      alertname: 'VigilBlind',
      watch: running,
      summary: 's',
      description: 'no data from prometheus',
    });
    expect(
      (await actions.alerts.held()).map((a) => [a.labels.alertname, a.annotations.description, a.state]),
    ).toEqual([['VigilBlind', 'no data from prometheus', 'firing']]);
    hooks.alerts.resolve({ alertname: 'VigilBlind', watch: running, summary: 's', description: '' });
    expect((await actions.alerts.held())[0]!.state).toBe('resolved');
    await store.transaction((tx) => hooks.manualRollback(tx, running, { who: 'ops', reason: 'latency' }));
    expect((await actions.listDeliveries(watch.id)).map((d) => [d.idempotencyKey, d.manual])).toEqual([
      [`${watch.id}:rollback`, true],
    ]);
  });

  it("an operator's rollback, then the watch.failed hooks: one rollback webhook, keyed <id>:rollback", async () => {
    const hooks = createWatchHooks(actions, clock);
    const running = { ...watch, status: 'running' as const, verdict: 'pending' as const };
    await store.transaction((tx) =>
      hooks.manualRollback(tx, running, { who: 'alice', reason: 'bookings broken' }),
    );
    // What the engine does after the commit that ended the watch: notify watch.failed, fire VigilWatchFailed.
    hooks.onEvent('watch.failed', watch);
    hooks.alerts.fire({ alertname: 'VigilWatchFailed', watch, summary: 's', description: 'd' });
    // A failure path reached afterwards (a hold timing out, a replay) is a no-op too.
    expect(await store.transaction((tx) => hooks.onFailed(tx, watch, 'hold-timeout'))).toBe(1);
    await actions.flush();
    const rollbacks = receiver.requests.filter((r) => r.url === '/rollback');
    expect(rollbacks.map((r) => r.headers['idempotency-key'])).toEqual([`${watch.id}:rollback`]);
    expect(receiver.requests.filter((r) => r.url === '/notify')).toHaveLength(1);
    expect(await actions.rollbackOf(watch.id)).toMatchObject({ trigger: 'operator', who: 'alice' });
  });

  it('VigilWatchHeld and an enforce: alert VigilSLOViolation keep their own names and keys', async () => {
    const hooks = createWatchHooks(actions, clock);
    const held = { ...watch, status: 'held' as const, verdict: 'fail' as const };
    hooks.alerts.fire({ alertname: 'VigilWatchHeld', watch: held, summary: 's', description: 'p95 held' });
    hooks.alerts.fire({
      alertname: 'VigilSLOViolation',
      watch: held,
      check: 'error-rate',
      summary: 's',
      description: 'd',
    });
    const byName = async (name: string) =>
      (await actions.alerts.held()).find((a) => a.labels.alertname === name);
    expect(await byName('VigilWatchHeld')).toMatchObject({
      key: `held:${watch.id}`,
      state: 'firing',
      labels: { watch_id: watch.id, severity: 'page' },
      annotations: { description: 'p95 held' },
    });
    expect(await byName('VigilSLOViolation')).toMatchObject({
      key: `slo:error-rate:${watch.id}`,
      labels: { slo: 'error-rate', watch_id: watch.id },
    });
    expect(await byName('VigilBlind')).toBeUndefined();
    hooks.alerts.resolve({ alertname: 'VigilWatchHeld', watch: held, summary: 's', description: '' });
    expect((await byName('VigilWatchHeld'))?.state).toBe('resolved');
  });
});

describe('deliveryTimelineEvent', () => {
  const base = {
    deliveryId: 'd_1',
    watchId: 'w_1',
    event: 'rollback' as const,
    target: 'rollback:deployer',
    attempt: 2,
    at: T0,
    latencyMs: 12.345,
    dryRun: false,
    manual: false,
  };
  const cases: [string, Parameters<typeof deliveryTimelineEvent>[0], string][] = [
    [
      'delivered',
      { ...base, statusCode: 204, error: null, outcome: 'delivered', nextAttemptAt: null },
      'rollback → rollback:deployer delivered (attempt 2, HTTP 204)',
    ],
    [
      'retrying',
      { ...base, statusCode: 503, error: 'HTTP 503', outcome: 'retrying', nextAttemptAt: T0 + 1_500 },
      'rollback → rollback:deployer attempt 2 failed (HTTP 503); retrying at 2026-11-27T10:15:01.500Z',
    ],
    [
      'given up, manual, dry run',
      {
        ...base,
        manual: true,
        dryRun: true,
        statusCode: null,
        error: 'ECONNREFUSED',
        outcome: 'failed',
        nextAttemptAt: null,
      },
      'manual rollback (dry run) → rollback:deployer given up after 2 attempts (ECONNREFUSED)',
    ],
  ];
  for (const [name, attempt, message] of cases) {
    it(`says ${name}`, () => {
      const event = deliveryTimelineEvent(attempt);
      expect(event).toMatchObject({ at: T0, type: 'action', message });
      expect(event.data?.delivery).toMatchObject({ id: 'd_1', latencyMs: 12.3, outcome: attempt.outcome });
    });
  }
});
