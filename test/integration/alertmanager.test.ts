import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sloViolationAlert } from '../../src/actions/alertmanager.js';
import { type Actions, alertKeys, createActions } from '../../src/actions/index.js';
import { systemClock } from '../../src/clock.js';
import { alertmanagerSchema } from '../../src/config/schema.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/port.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics, type Metrics } from '../../src/telemetry/metrics.js';
import { alertmanagerMode, type RunningAlertmanager, startAlertmanager } from '../helpers/alertmanager.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { actionsConfig, failedVerdict, testDispatcher } from '../unit/actions/support.js';

const mode = alertmanagerMode();
const RESEND_MS = 1_000;

interface AmWebhook {
  status: 'firing' | 'resolved';
  alerts: {
    status: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    endsAt: string;
  }[];
}

describe.skipIf(mode === 'skip')('Alertmanager 0.25 (real binary)', () => {
  let sink: WebhookReceiver;
  let am: RunningAlertmanager;
  let store: Store;
  let metrics: Metrics;
  let actions: Actions;
  const verdict = failedVerdict('w_01JDINTEGRATION');

  beforeAll(async () => {
    if (mode === 'fail')
      throw new Error('prometheus-alertmanager is missing and VIGIL_REQUIRE_INTEGRATION=1');
    sink = await startWebhookReceiver();
    am = await startAlertmanager({ webhookUrl: `${sink.url}/alertmanager/webhook` });
    store = await openStore({ path: ':memory:' });
    metrics = createMetrics({ version: 'test', defaultMetrics: false });
    actions = createActions({
      store,
      service: 'prep-api',
      actions: actionsConfig({}),
      alertmanager: alertmanagerSchema.parse({
        url: am.url,
        resendInterval: '1s',
        runbookBaseUrl: 'https://rb.example/RUNBOOK.md',
      }),
      clock: systemClock,
      dispatcher: testDispatcher(),
      logger: silentLogger(),
      metrics,
      userAgent: 'vigil/test',
      alertTickIntervalMs: 200,
    });
    actions.start();
  });

  afterAll(async () => {
    await actions?.stop(2_000);
    await am?.stop();
    await sink?.close();
    await store?.close();
  });

  const webhooks = () => sink.requests.map((r) => JSON.parse(r.body) as AmWebhook);
  async function until(
    what: string,
    done: () => boolean | Promise<boolean>,
    timeoutMs = 8_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await done()) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`timed out waiting for ${what}\n${am.output()}`);
  }
  const activeAlerts = async () =>
    (await (await fetch(`${am.url}/api/v2/alerts?filter=alertname%3D%22VigilSLOViolation%22`)).json()) as {
      labels: Record<string, string>;
      status: { state: string };
    }[];

  it('reports Alertmanager healthy for /health', async () => {
    expect(await actions.alertmanagerHealth()).toMatchObject({ status: 'ok' });
  });

  it('the alert arrives with the right labels and annotations', async () => {
    const check = verdict.checks[0]!;
    actions.alerts.fire(
      alertKeys.slo(check.name, verdict.id),
      sloViolationAlert(check, {
        service: 'prep-api',
        severity: 'page',
        watchId: verdict.id,
        version: verdict.version,
      }),
    );
    await until('the firing notification', () => webhooks().some((w) => w.status === 'firing'));
    const firing = webhooks().find((w) => w.status === 'firing')!;
    expect(firing.alerts).toHaveLength(1);
    expect(firing.alerts[0]!.labels).toEqual({
      alertname: 'VigilSLOViolation',
      service: 'prep-api',
      slo: 'error-rate',
      severity: 'page',
      watch_id: verdict.id,
      version: '1.4.2',
    });
    expect(firing.alerts[0]!.annotations).toEqual({
      summary: 'prep-api error-rate SLO violated',
      description: 'value 0.034, objective < 0.01, baseline none: 0.034 is not < 0.01',
      runbook_url: 'https://rb.example/RUNBOOK.md#vigilsloviolation',
    });
  });

  it('stays firing across resends, past the endsAt of any single post', async () => {
    // Each post says endsAt = now + 4 × resendInterval; only the re-sends keep it alive past that.
    await new Promise((resolve) => setTimeout(resolve, 4 * RESEND_MS + 1_500));
    const listed = await activeAlerts();
    expect(listed.map((a) => [a.labels.slo, a.status.state])).toEqual([['error-rate', 'active']]);
    const posts =
      (await metrics.alertsSent.get()).values.find(
        (v) => v.labels.result === 'sent' && v.labels.alertname === 'VigilSLOViolation',
      )?.value ?? 0;
    expect(posts).toBeGreaterThanOrEqual(4);
    expect(webhooks().filter((w) => w.status === 'resolved')).toHaveLength(0);
  });

  it('the resolved notification arrives when the condition clears (and the watch ends)', async () => {
    const resolvedAt = Date.now();
    actions.onWatchEnded(verdict.id);
    await until('the resolved notification', () => webhooks().some((w) => w.status === 'resolved'));
    const resolved = webhooks().find((w) => w.status === 'resolved')!;
    expect(resolved.alerts[0]!.labels.slo).toBe('error-rate');
    expect(Date.parse(resolved.alerts[0]!.endsAt)).toBeGreaterThanOrEqual(resolvedAt - 1_000);
    expect(Date.parse(resolved.alerts[0]!.endsAt)).toBeLessThanOrEqual(Date.now());
    await until('the alert to leave the active list', async () => (await activeAlerts()).length === 0);
  });
});
