import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type AlertState,
  createAlertState,
  ENDS_AT_RESEND_FACTOR,
  planAlertPosts,
} from '../../../src/actions/alert-state.js';
import {
  blindAlert,
  createAlertmanagerClient,
  type PostableAlert,
  sloViolationAlert,
  toAlertContent,
  watchFailedAlert,
} from '../../../src/actions/alertmanager.js';
import { ManualClock } from '../../../src/clock.js';
import { openStore } from '../../../src/store/open.js';
import type { HeldAlert, Store } from '../../../src/store/port.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics, type Metrics } from '../../../src/telemetry/metrics.js';
import { startWebhookReceiver, unusedPort, type WebhookReceiver } from '../../helpers/webhook-receiver.js';
import { failedVerdict, testDispatcher } from './support.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../../fixtures/alertmanager/${name}`, import.meta.url), 'utf8');
const T0 = Date.parse('2026-11-27T10:15:00Z');
const RESEND = 60_000;
const RUNBOOK = 'https://github.com/prep/vigil/blob/main/deploy/RUNBOOK.md';
const verdict = failedVerdict();

function held(overrides: Partial<HeldAlert>): HeldAlert {
  return {
    key: 'k',
    labels: { alertname: 'VigilBlind', service: 'prep-api' },
    annotations: { summary: 's' },
    generatorUrl: null,
    startsAt: T0,
    endsAt: null,
    lastSentAt: null,
    state: 'firing',
    ...overrides,
  };
}

describe('planAlertPosts (pure)', () => {
  const cases: { name: string; alert: HeldAlert; now: number; endsAt: string | null }[] = [
    {
      name: 'a new firing alert is due, ending four resend intervals out',
      alert: held({}),
      now: T0,
      endsAt: new Date(T0 + ENDS_AT_RESEND_FACTOR * RESEND).toISOString(),
    },
    {
      name: 'a firing alert sent less than a resend interval ago waits',
      alert: held({ lastSentAt: T0 }),
      now: T0 + RESEND - 1,
      endsAt: null,
    },
    {
      name: 'a firing alert is re-sent every resend interval',
      alert: held({ lastSentAt: T0 }),
      now: T0 + RESEND,
      endsAt: new Date(T0 + RESEND * (1 + ENDS_AT_RESEND_FACTOR)).toISOString(),
    },
    {
      name: 'an auto-resolve deadline caps endsAt',
      alert: held({ endsAt: T0 + 1_000 }),
      now: T0,
      endsAt: new Date(T0 + 1_000).toISOString(),
    },
    {
      name: 'a resolved alert not yet sent is due with its end',
      alert: held({ state: 'resolved', endsAt: T0 + 5_000 }),
      now: T0 + 9_000,
      endsAt: new Date(T0 + 5_000).toISOString(),
    },
    {
      name: 'a resolved alert ending at its start gets endsAt after startsAt',
      alert: held({ state: 'resolved', endsAt: T0 }),
      now: T0,
      endsAt: new Date(T0 + 1).toISOString(),
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planAlertPosts([c.alert], c.now, RESEND);
      expect(plan.map((p) => p.alert.endsAt ?? null)).toEqual(c.endsAt === null ? [] : [c.endsAt]);
      if (c.endsAt !== null) expect(plan[0]!.alert.startsAt).toBe(new Date(T0).toISOString());
    });
  }
});

describe('alert content (DESIGN §7)', () => {
  it('VigilWatchFailed carries service, severity, watch_id, version and the runbook anchor', () => {
    expect(toAlertContent(watchFailedAlert(verdict), RUNBOOK)).toEqual({
      labels: {
        alertname: 'VigilWatchFailed',
        service: 'prep-api',
        severity: 'page',
        watch_id: verdict.id,
        version: '1.4.2',
      },
      annotations: {
        summary: 'prep-api 1.4.2 failed its post-deploy watch',
        description: verdict.reasons[0],
        runbook_url: `${RUNBOOK}#vigilwatchfailed`,
      },
    });
  });

  it('VigilSLOViolation names the slo and describes value, objective and baseline; empty labels are omitted', () => {
    const content = toAlertContent(
      sloViolationAlert(verdict.checks[0]!, { service: 'prep-api', severity: 'ticket', version: '' }),
      RUNBOOK,
    );
    expect(content.labels).toEqual({
      alertname: 'VigilSLOViolation',
      service: 'prep-api',
      slo: 'error-rate',
      severity: 'ticket',
    });
    expect(content.annotations.description).toBe(
      'value 0.034, objective < 0.01, baseline none: 0.034 is not < 0.01',
    );
    expect(content.annotations.runbook_url).toBe(`${RUNBOOK}#vigilsloviolation`);
  });

  it("a check's own runbook replaces the RUNBOOK.md section, and generatorURL points back at Vigil", () => {
    const alert = sloViolationAlert(verdict.checks[0]!, {
      service: 'prep-api',
      severity: 'page',
      runbookUrl: 'https://wiki.prep.example/runbooks/error-rate',
      generatorUrl: 'https://vigil.prep.example/api/v1/slos',
    });
    expect(toAlertContent(alert, RUNBOOK).annotations.runbook_url).toBe(
      'https://wiki.prep.example/runbooks/error-rate',
    );
    expect(alert.generatorUrl).toBe('https://vigil.prep.example/api/v1/slos');
  });

  it('VigilBlind links its runbook section', () => {
    expect(toAlertContent(blindAlert(verdict), RUNBOOK).annotations.runbook_url).toBe(
      `${RUNBOOK}#vigilblind`,
    );
  });
});

describe('alert state against a fake Alertmanager', () => {
  let store: Store;
  let clock: ManualClock;
  let metrics: Metrics;
  let am: WebhookReceiver;
  let alerts: AlertState;
  const dispatcher = testDispatcher();

  beforeEach(async () => {
    store = await openStore({ path: ':memory:' });
    clock = new ManualClock(T0);
    metrics = createMetrics({ version: 'test', defaultMetrics: false });
    am = await startWebhookReceiver();
    const client = createAlertmanagerClient({
      config: { url: am.url, timeout: 2_000, headers: {}, tenant: 'prep' },
      dispatcher,
      userAgent: 'vigil/test',
    });
    alerts = createAlertState({
      store,
      client,
      runbookBaseUrl: RUNBOOK,
      resendIntervalMs: RESEND,
      clock,
      logger: silentLogger(),
      metrics,
    });
  });

  afterEach(async () => {
    await alerts.stop();
    await am.close();
    await store.close();
  });

  const posted = (i: number) => JSON.parse(am.requests[i]!.body) as PostableAlert[];
  const sent = async (result: string) =>
    (await metrics.alertsSent.get()).values
      .filter((v) => v.labels.result === result)
      .reduce((sum, v) => sum + v.value, 0);

  it('fire posts an array to /api/v2/alerts, re-sends every resend interval, and resolve posts endsAt = now', async () => {
    alerts.fire('watch-failed:w', watchFailedAlert(verdict));
    expect(am.requests).toHaveLength(0); // fire never touches the network
    await alerts.tick();
    expect(am.requests[0]!.url).toBe('/api/v2/alerts');
    expect(am.requests[0]!.headers['x-scope-orgid']).toBe('prep');
    expect(posted(0)).toHaveLength(1);
    expect(posted(0)[0]!.labels.alertname).toBe('VigilWatchFailed');
    await alerts.tick();
    expect(am.requests).toHaveLength(1); // nothing due yet
    await clock.advance(RESEND);
    alerts.fire('watch-failed:w', watchFailedAlert(verdict)); // unchanged: keeps its start
    await alerts.tick();
    expect(posted(1)[0]!.startsAt).toBe(new Date(T0).toISOString());
    await clock.advance(5_000);
    alerts.resolve('watch-failed:w');
    await alerts.tick();
    expect(posted(2)[0]!.endsAt).toBe(new Date(T0 + RESEND + 5_000).toISOString());
    expect(await alerts.held()).toEqual([]);
    expect(await sent('sent')).toBe(3);
  });

  it('an unreachable or failing Alertmanager keeps the alert for the next tick', async () => {
    am.script({ status: 500, body: 'down' });
    alerts.fire('blind:w', blindAlert(verdict));
    await alerts.tick();
    expect((await alerts.held())[0]!.lastSentAt).toBeNull();
    await alerts.tick();
    expect(am.requests).toHaveLength(2);
    expect((await alerts.held())[0]!.lastSentAt).toBe(T0);
    expect(await sent('error')).toBe(1);
  });

  const rejections: [string, string, string][] = [
    ['400 (validation, a JSON string)', 'post-invalid-empty-labels.status', 'post-invalid-empty-labels.txt'],
    ['422 (schema, {code, message})', 'post-invalid.status', 'post-invalid.txt'],
  ];
  for (const [name, statusFile, bodyFile] of rejections) {
    it(`a ${name} answer is logged and not hammered: retried at the resend pace`, async () => {
      am.script({ status: Number(fixture(statusFile).trim()), body: fixture(bodyFile) });
      alerts.fire('blind:w', blindAlert(verdict));
      await alerts.tick();
      await alerts.tick();
      expect(am.requests).toHaveLength(1);
      expect(await sent('rejected')).toBe(1);
    });
  }

  it('resolveWatch resolves only that watch, and a resolution survives a failed post', async () => {
    alerts.fire('blind:w1', blindAlert(verdict));
    alerts.fire('blind:w2', blindAlert({ ...verdict, id: 'w2' }));
    await alerts.tick();
    am.script({ status: 503 });
    alerts.resolveWatch(verdict.id);
    await alerts.tick();
    await alerts.tick();
    const resolution = posted(2);
    expect(resolution.map((a) => a.labels.watch_id)).toEqual([verdict.id]);
    expect((await alerts.held()).map((a) => a.key)).toEqual(['blind:w2']);
  });

  it('health is ok when /-/ready answers 200, down otherwise', async () => {
    const client = createAlertmanagerClient({
      config: { url: am.url, timeout: 2_000, headers: {} },
      dispatcher,
      userAgent: 'v',
    });
    expect(await client.health()).toMatchObject({ status: 'ok' });
    expect(am.requests[0]!.url).toBe('/-/ready');
    am.script({ status: 503 });
    expect(await client.health()).toMatchObject({ status: 'down', error: 'HTTP 503' });
    const gone = createAlertmanagerClient({
      config: { url: `http://127.0.0.1:${await unusedPort()}`, timeout: 2_000, headers: {} },
      dispatcher,
      userAgent: 'v',
    });
    expect(await gone.health()).toMatchObject({
      status: 'down',
      error: expect.stringMatching(/ECONNREFUSED/),
    });
  });

  it('drops a generatorURL that is not a URI rather than have the whole batch refused', async () => {
    alerts.fire('blind:w', { ...blindAlert(verdict), generatorUrl: 'not a uri' });
    alerts.fire('blind:v', {
      ...blindAlert({ ...verdict, id: 'v' }),
      generatorUrl: 'http://vigil.local/watches/v',
    });
    await alerts.tick();
    expect(posted(0).map((a) => a.generatorURL)).toEqual(['http://vigil.local/watches/v', undefined]); // held in key order;
  });

  it('writes land in call order through one chain, and settled() waits for those queued so far', async () => {
    alerts.fire('blind:w', blindAlert(verdict));
    await clock.advance(1_000);
    alerts.resolve('blind:w');
    alerts.fire('blind:w', blindAlert(verdict)); // fired anew after its resolution: starts now
    await alerts.settled();
    expect(await store.alerts.list()).toMatchObject([
      { key: 'blind:w', state: 'firing', startsAt: T0 + 1_000, lastSentAt: null },
    ]);
  });

  it('a replica that takes the lead posts the same alerts from the store, and a ticker starts again after a stop', async () => {
    const client = createAlertmanagerClient({
      config: { url: am.url, timeout: 2_000, headers: {}, tenant: 'prep' },
      dispatcher,
      userAgent: 'vigil/test',
    });
    const deps = {
      client,
      runbookBaseUrl: RUNBOOK,
      resendIntervalMs: RESEND,
      clock,
      logger: silentLogger(),
      metrics,
    };
    const other = createAlertState({ store, ...deps });
    alerts.fire('watch-failed:w', watchFailedAlert(verdict));
    const sentAt = async () => (await store.alerts.list())[0]?.lastSentAt;
    alerts.start(); // leading: posts at once
    await vi.waitFor(async () => expect(await sentAt()).toBe(T0));
    await alerts.stop(); // leadership lost
    other.start(); // the new leader: nothing due before the resend interval
    await clock.advance(RESEND);
    await vi.waitFor(async () => expect(await sentAt()).toBe(T0 + RESEND));
    await other.stop();
    expect(posted(1)).toEqual([
      { ...posted(0)[0], endsAt: new Date(T0 + RESEND * (1 + ENDS_AT_RESEND_FACTOR)).toISOString() },
    ]);
    expect(posted(1)[0]!.startsAt).toBe(new Date(T0).toISOString());
    other.resolve('watch-failed:w'); // a follower's write, the leader posts it
    await other.settled();
    alerts.start(); // leading again
    await vi.waitFor(async () => expect(await store.alerts.list()).toEqual([]));
    expect(am.requests).toHaveLength(3);
    expect(posted(2)).toMatchObject([
      { labels: posted(0)[0]!.labels, endsAt: new Date(T0 + RESEND).toISOString() },
    ]);
  });

  it('fire and resolve never throw into the caller, even with the store closed', async () => {
    await store.close();
    expect(() => alerts.fire('x', blindAlert(verdict))).not.toThrow();
    expect(() => alerts.resolve('x')).not.toThrow();
    await expect(alerts.settled()).resolves.toBeUndefined(); // the failed writes were logged, not thrown
    store = await openStore({ path: ':memory:' });
  });
});
