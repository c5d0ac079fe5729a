import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
import type { HeldAlert } from '../../../src/store/alerts.js';
import { type Db, openDatabase } from '../../../src/store/db.js';
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
  let db: Db;
  let clock: ManualClock;
  let metrics: Metrics;
  let am: WebhookReceiver;
  let alerts: AlertState;
  const dispatcher = testDispatcher();

  beforeEach(async () => {
    db = openDatabase(':memory:');
    clock = new ManualClock(T0);
    metrics = createMetrics({ version: 'test', defaultMetrics: false });
    am = await startWebhookReceiver();
    const client = createAlertmanagerClient({
      config: { url: am.url, timeout: 2_000, headers: {}, tenant: 'prep' },
      dispatcher,
      userAgent: 'vigil/test',
    });
    alerts = createAlertState({
      db,
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
    db.close();
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
    expect(alerts.held()).toEqual([]);
    expect(await sent('sent')).toBe(3);
  });

  it('an unreachable or failing Alertmanager keeps the alert for the next tick', async () => {
    am.script({ status: 500, body: 'down' });
    alerts.fire('blind:w', blindAlert(verdict));
    await alerts.tick();
    expect(alerts.held()[0]!.lastSentAt).toBeNull();
    await alerts.tick();
    expect(am.requests).toHaveLength(2);
    expect(alerts.held()[0]!.lastSentAt).toBe(T0);
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
    expect(alerts.held().map((a) => a.key)).toEqual(['blind:w2']);
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

  it('fire and resolve never throw into the caller, even with the store closed', () => {
    db.close();
    expect(() => alerts.fire('x', blindAlert(verdict))).not.toThrow();
    expect(() => alerts.resolve('x')).not.toThrow();
    db = openDatabase(':memory:');
  });
});
