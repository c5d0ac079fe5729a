import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { loadConfig } from '../../../src/config/load.js';
import { createDaemon, type Daemon } from '../../../src/daemon/index.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { TEST_API_TOKEN, writeDaemonConfig } from '../../helpers/daemon.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver.js';

/*
 * DESIGN §6/§7: a watch fires its rollback once per target, one Idempotency-Key `<watch id>:rollback`,
 * whichever path decided it — here an operator's, through the whole daemon, with a restart between.
 */

const START = Date.parse('2026-11-27T10:00:00Z');
const SECRET = 'rollback-secret-0123456789';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("an operator's rollback through the daemon", () => {
  it('sends exactly one webhook keyed <id>:rollback, and no second one after a restart', async () => {
    const receiver: WebhookReceiver = await startWebhookReceiver();
    cleanups.push(() => receiver.close());
    const files = writeDaemonConfig({
      targetUrl: 'http://127.0.0.1:9',
      probes: '- name: health\n  kind: smoke\n  interval: 1h\n  request: { method: GET, path: /health }\n',
      slos: '- name: avail\n  source: probes\n  sli: { probe: health, measure: successRatio }\n  objective: { gte: 0.9 }\n',
      root: [
        'watch: { duration: 2h, phases: [bake], evaluationInterval: 1h }',
        `actions: { rollback: [ { url: "${receiver.url}/rollback", secret: "${SECRET}" } ] }`,
      ],
    });
    cleanups.push(files.cleanup);
    const boot = async (): Promise<Daemon> => {
      const daemon = await createDaemon({
        config: await loadConfig(files.configFile, {}),
        logger: silentLogger(),
        searchPath: '',
        defaultMetrics: false,
        clock: new ManualClock(START),
      });
      await daemon.start();
      return daemon;
    };
    const call = async (daemon: Daemon, url: string, payload: Record<string, unknown>) => {
      const answer = await daemon.app.inject({
        method: 'POST',
        url,
        headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
        payload,
      });
      return { status: answer.statusCode, body: answer.json() as Record<string, unknown> };
    };

    const first = await boot();
    const created = await call(first, '/api/v1/watches', { service: 'prep-api', version: '2' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const rolledBack = await call(first, `/api/v1/watches/${id}/rollback`, {
      reason: 'bookings broken',
      who: 'alice',
    });
    expect(rolledBack.status).toBe(200);
    const [request] = await receiver.waitFor(1, 5_000);
    expect(request?.headers['idempotency-key']).toBe(`${id}:rollback`);
    expect(JSON.parse(request?.body ?? '{}')).toMatchObject({ event: 'rollback', watch: { id } });
    expect((await call(first, `/api/v1/watches/${id}/rollback`, { reason: 'again' })).status).toBe(409);
    await first.stop(1_000);

    const second = await boot();
    cleanups.push(() => second.stop(1_000));
    const again = await call(second, `/api/v1/watches/${id}/rollback`, { reason: 'after the restart' });
    expect(again.status).toBe(409);
    expect(String(again.body.message ?? JSON.stringify(again.body))).toContain('already rolled back');
    await second.stop(1_000);

    // The outbox holds the one rollback, delivered: nothing is left to send, now or after any restart.
    const db = new Database(files.dbPath, { readonly: true });
    const rows = db
      .prepare(`SELECT idempotency_key AS key, status FROM outbox WHERE event = 'rollback'`)
      .all();
    db.close();
    expect(rows).toEqual([{ key: `${id}:rollback`, status: 'delivered' }]);
    expect(receiver.requests.filter((r) => r.url === '/rollback')).toHaveLength(1);
  });
});
