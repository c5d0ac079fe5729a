import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/actions/sign.js';
import { type PrepService, startPrepService } from '../../src/demo/prep-service.js';
import {
  type DaemonFiles,
  eventually,
  type RunningDaemon,
  startDaemon,
  writeDaemonConfig,
} from '../helpers/daemon.js';
import {
  type ReceivedRequest,
  startWebhookReceiver,
  unusedPort,
  type WebhookReceiver,
} from '../helpers/webhook-receiver.js';
import { readStore } from './faults-helpers.js';

/*
 * One failing watch, three rollback targets that each misbehave differently — one answers after the
 * timeout, one answers 500 twice, one is not listening until a few seconds in — in a real daemon.
 * Every target ends up with exactly one delivered outbox row, every request to a target carries the same
 * delivery id and a valid signature, every attempt is recorded, and nothing more arrives once delivered.
 */

const SECRET = 'webhook-faults-secret-0123456789';

let service: PrepService;
let slow: WebhookReceiver;
let failing: WebhookReceiver;
let late: WebhookReceiver | undefined;
let latePort: number;
let files: DaemonFiles;
let daemon: RunningDaemon | undefined;

beforeAll(async () => {
  service = await startPrepService();
  slow = await startWebhookReceiver();
  slow.script({ status: 200, delayMs: 2_500 });
  failing = await startWebhookReceiver();
  failing.script({ status: 500, body: 'boom' }, { status: 500, body: 'boom again' });
  latePort = await unusedPort();
  files = writeDaemonConfig({
    targetUrl: service.url,
    probes:
      '- name: health\n  kind: smoke\n  interval: 1s\n  timeout: 2s\n  request: { method: GET, path: /no-such-route }\n  expect: [ { status: 200 } ]\n',
    slos: '- name: availability\n  source: probes\n  sli: { probe: health, measure: successRatio }\n  objective: { gte: 0.99 }\n  critical: true\n',
    root: [
      'watch: { duration: 1h, phases: [bake], evaluationInterval: 1s, window: 1m, minWindow: 1s }',
      'actions:',
      '  rollback:',
      `    - { name: slow, url: "${slow.url}/hook", secret: "${SECRET}", timeout: 1s }`,
      `    - { name: failing, url: "${failing.url}/hook", secret: "${SECRET}", timeout: 2s }`,
      `    - { name: late, url: "http://127.0.0.1:${latePort}/hook", secret: "${SECRET}", timeout: 2s }`,
    ],
  });
  daemon = await startDaemon(files);
}, 30_000);

afterAll(async () => {
  await daemon?.dispose();
  await Promise.all([slow?.close(), failing?.close(), late?.close()]);
  await service?.close();
  files?.cleanup();
});

function expectOneSignedDelivery(requests: ReceivedRequest[], watchId: string): void {
  expect(new Set(requests.map((r) => r.headers['x-vigil-delivery'])).size).toBe(1);
  for (const request of requests) {
    expect(request.headers['idempotency-key']).toBe(`${watchId}:rollback`);
    const check = verifySignature(
      SECRET,
      request.headers['x-vigil-signature'] as string,
      request.headers['x-vigil-timestamp'] as string,
      request.body,
    );
    expect(check.ok).toBe(true);
  }
}

describe('rollback webhooks to misbehaving receivers', () => {
  it('retry a slow, a failing and a closed receiver until each has exactly one delivery', async () => {
    const live = daemon as RunningDaemon;
    const created = await live.api('POST', '/api/v1/watches', { service: 'prep-api', version: 'hooks' });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;

    // Nothing listens on the late target yet: its first attempts are refused connections.
    await eventually(15_000, () =>
      readStore(files.dbPath, (db) =>
        (
          db
            .prepare(
              "SELECT count(*) AS n FROM delivery_attempts a JOIN outbox o ON o.id = a.delivery_id WHERE o.target LIKE '%late%'",
            )
            .get() as { n: number }
        ).n > 0
          ? true
          : undefined,
      ),
    );
    late = await startWebhookReceiver({ port: latePort });

    await eventually(30_000, () =>
      readStore(files.dbPath, (db) =>
        (db.prepare("SELECT count(*) AS n FROM outbox WHERE status = 'delivered'").get() as { n: number })
          .n === 3
          ? true
          : undefined,
      ),
    );
    const counts = {
      slow: slow.requests.length,
      failing: failing.requests.length,
      late: late.requests.length,
    };
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    // Delivered means done: no request arrives afterwards.
    expect({
      slow: slow.requests.length,
      failing: failing.requests.length,
      late: late.requests.length,
    }).toEqual(counts);

    expect(slow.requests).toHaveLength(2); // timed out once, then answered in time
    expect(failing.requests).toHaveLength(3); // 500, 500, 200
    expect(late.requests).toHaveLength(1); // refused until it listened
    for (const receiver of [slow, failing, late]) expectOneSignedDelivery(receiver.requests, id);

    const rows = readStore(files.dbPath, (db) =>
      db
        .prepare(
          `SELECT o.target, o.status, o.attempts,
             (SELECT json_group_array(coalesce(a.status_code, a.error)) FROM delivery_attempts a WHERE a.delivery_id = o.id) AS outcomes
           FROM outbox o WHERE o.event = 'rollback' ORDER BY o.target`,
        )
        .all(),
    ) as { target: string; status: string; attempts: number; outcomes: string }[];
    expect(rows).toHaveLength(3);
    const byName = Object.fromEntries(
      rows.map((r) => [r.target.replace(/^.*?(slow|failing|late).*$/, '$1'), r]),
    );
    expect(JSON.parse(byName.slow?.outcomes ?? '[]')).toEqual([expect.stringMatching(/timed out/), 200]);
    expect(JSON.parse(byName.failing?.outcomes ?? '[]')).toEqual([500, 500, 200]);
    const lateOutcomes = JSON.parse(byName.late?.outcomes ?? '[]') as unknown[];
    expect(lateOutcomes.at(-1)).toBe(200);
    expect(lateOutcomes.slice(0, -1).every((o) => typeof o === 'string' && /ECONNREFUSED/.test(o))).toBe(
      true,
    );
    for (const row of rows) {
      expect(row.status).toBe('delivered');
      expect(row.attempts).toBe(JSON.parse(row.outcomes).length);
    }

    // The watch's timeline tells the story of every attempt.
    const view = (await live.api('GET', `/api/v1/watches/${id}`)).body as { timeline: { message: string }[] };
    const messages = view.timeline.map((e) => e.message).join('\n');
    expect(messages).toMatch(/failed \(HTTP 500\); retrying/);
    expect(messages).toMatch(/delivered/);
    const metrics = (await live.api('GET', '/metrics')).text;
    expect(metrics).toMatch(
      /vigil_webhook_deliveries_total\{service="prep-api",event="rollback",result="delivered"\} 3/,
    );
  }, 60_000);
});
