import { appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrepService, startPrepService } from '../../src/demo/prep-service.js';
import {
  type DaemonFiles,
  eventually,
  type RunningDaemon,
  startDaemon,
  writeDaemonConfig,
} from '../helpers/daemon.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';
import { evaluationLedger, type FakePrometheus, readStore, startFakePrometheus } from './faults-helpers.js';

/*
 * The real `vigil serve` process killed with SIGKILL mid-watch, mid-evaluation and mid-delivery, then
 * started again on the same store: every bake evaluation slot ends up either stored once or declared
 * missed in a gap event (never both, never twice, never invented), the watch runs to its end, and a
 * rollback is one outbox row whose every request carries the same delivery id and idempotency key.
 * Also SIGTERM with a probe and a delivery in flight: exit 0 within the deadline, the outbox intact.
 */

const SECRET = 'crash-suite-webhook-secret-0123';
const WATCH_SECONDS = 20;

const HEALTH_PROBE = `
- name: health
  kind: smoke
  interval: 1s
  timeout: 2s
  request: { method: GET, path: /health }
  expect: [ { status: 200 } ]
`;

const SLOS = `
- name: error-rate
  source: prometheus
  query: sum(rate(http_requests_total{job="prep-api",code=~"5.."}[{{window}}]))
  objective: { lt: 0.01 }
- name: health-availability
  source: probes
  sli: { probe: health, measure: successRatio }
  objective: { gte: 0.5 }
`;

const FAILING_SLOS = `
- name: health-availability
  source: probes
  sli: { probe: health, measure: successRatio }
  objective: { gte: 0.99 }
  critical: true
`;

let service: PrepService;
const running: RunningDaemon[] = [];
const folders: DaemonFiles[] = [];

async function start(files: DaemonFiles): Promise<RunningDaemon> {
  const daemon = await startDaemon(files);
  running.push(daemon);
  return daemon;
}

const fakes: FakePrometheus[] = [];

/** A watch config over its own fake Prometheus (tests run concurrently; each holds its own answers back). */
async function bakeConfig(): Promise<{ files: DaemonFiles; prometheus: FakePrometheus }> {
  const prometheus = await startFakePrometheus('0.001');
  fakes.push(prometheus);
  const files = writeDaemonConfig({
    targetUrl: service.url,
    probes: HEALTH_PROBE,
    slos: SLOS,
    root: [
      `sources: { prometheus: { url: "${prometheus.url}", timeout: 10s } }`,
      'watch:',
      `  duration: ${WATCH_SECONDS}s`,
      '  phases: [bake]',
      '  evaluationInterval: 1s',
      '  window: 1m',
      '  minWindow: 1s',
      '  inconclusiveLimit: 1m',
    ],
  });
  folders.push(files);
  return { files, prometheus };
}

/** A watch whose only check fails at once (the probe hits a 404), with one rollback target. */
function failingConfig(receiverUrl: string, options: { server?: string } = {}): DaemonFiles {
  const files = writeDaemonConfig({
    targetUrl: service.url,
    ...options,
    probes: HEALTH_PROBE.replace('/health', '/no-such-route'),
    slos: FAILING_SLOS,
    root: [
      'watch:',
      '  duration: 1h',
      '  phases: [bake]',
      '  evaluationInterval: 1s',
      '  window: 1m',
      '  minWindow: 1s',
      'actions:',
      '  rollback:',
      `    - { url: "${receiverUrl}/rollback", secret: "${SECRET}", timeout: 3s }`,
    ],
  });
  folders.push(files);
  return files;
}

async function createWatch(daemon: RunningDaemon, version: string): Promise<string> {
  const created = await daemon.api('POST', '/api/v1/watches', { service: 'prep-api', version });
  expect(created.status, created.text).toBe(201);
  return (created.body as { id: string }).id;
}

async function watchStatus(daemon: RunningDaemon, id: string): Promise<string> {
  const answer = await daemon.api('GET', `/api/v1/watches/${id}`);
  lastView = answer.text;
  return (answer.body as { status: string }).status;
}

/** The last watch object read, printed when a wait for an end state times out. */
let lastView = '';

async function waitForStatus(
  daemon: RunningDaemon,
  id: string,
  status: string,
  timeoutMs: number,
): Promise<void> {
  try {
    await eventually(timeoutMs, async () => ((await watchStatus(daemon, id)) === status ? true : undefined));
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; watch ${lastView.slice(0, 4000)}; log tail ${daemon.stdout().slice(-2000)}`,
    );
  }
}

function storedEvaluations(dbPath: string, id: string): number {
  return readStore(
    dbPath,
    (db) =>
      (
        db
          .prepare('SELECT count(DISTINCT evaluation) AS n FROM check_results WHERE watch_id = ?')
          .get(id) as { n: number }
      ).n,
  );
}

/** Every slot 0..WATCH_SECONDS-1 is either evaluated once or in a gap, never both. */
function expectLedgerComplete(dbPath: string, id: string): ReturnType<typeof evaluationLedger> {
  const ledger = evaluationLedger(dbPath, id);
  expect(ledger.duplicates).toBe(0);
  expect(ledger.ragged).toEqual([]);
  expect(ledger.evaluated.filter((e) => ledger.gaps.includes(e))).toEqual([]);
  const covered = [...ledger.evaluated, ...ledger.gaps].sort((a, b) => a - b);
  expect(covered).toEqual(Array.from({ length: WATCH_SECONDS }, (_, i) => i));
  return ledger;
}

beforeAll(async () => {
  service = await startPrepService();
});

afterAll(async () => {
  await Promise.all(running.map((d) => d.dispose()));
  await Promise.all(fakes.map((f) => f.close()));
  await service?.close();
  for (const files of folders) files.cleanup();
});

describe.concurrent('vigil serve killed with SIGKILL and started again on the same store', () => {
  it('resumes a watch killed mid-bake: the gap is recorded, no evaluation is lost, duplicated or invented', async () => {
    const { files } = await bakeConfig();
    const first = await start(files);
    const id = await createWatch(first, 'crash-bake');
    await eventually(8_000, () => (storedEvaluations(files.dbPath, id) >= 3 ? true : undefined));
    first.kill('SIGKILL');
    expect(await first.exited(5_000)).toBe('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 2_500));

    const second = await start(files);
    await waitForStatus(second, id, 'passed', 30_000);
    const ledger = expectLedgerComplete(files.dbPath, id);
    expect(ledger.resumedEvents).toBe(1);
    expect(ledger.gapMessages.some((m) => m.includes('while the daemon was down'))).toBe(true);
    expect(ledger.gaps.length).toBeGreaterThanOrEqual(1);
    const view = (await second.api('GET', `/api/v1/watches/${id}`)).body as {
      timeline: { type: string }[];
    };
    expect(view.timeline.map((e) => e.type)).toEqual(expect.arrayContaining(['resumed', 'gap']));
  }, 50_000);

  it('replays an evaluation killed while its query was in flight exactly once', async () => {
    const { files, prometheus } = await bakeConfig();
    const first = await start(files);
    const id = await createWatch(first, 'crash-eval');
    await eventually(8_000, () => (storedEvaluations(files.dbPath, id) >= 2 ? true : undefined));
    // From now on Prometheus holds every answer for 5 s: the next evaluation (due within 1 s) waits on it.
    prometheus.setDelay(5_000);
    const before = prometheus.queries;
    await eventually(3_000, () => (prometheus.queries > before ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const storedAtKill = storedEvaluations(files.dbPath, id);
    expect(prometheus.inFlight).toBeGreaterThan(0);
    first.kill('SIGKILL');
    await first.exited(5_000);
    prometheus.setDelay(0);
    // Nothing of the interrupted evaluation reached the store.
    expect(storedEvaluations(files.dbPath, id)).toBe(storedAtKill);

    const second = await start(files);
    await waitForStatus(second, id, 'passed', 30_000);
    const ledger = expectLedgerComplete(files.dbPath, id);
    expect(ledger.resumedEvents).toBe(1);
  }, 50_000);

  it('sends a rollback interrupted mid-delivery again under the same delivery id, once, and never after', async () => {
    const receiver = await startWebhookReceiver();
    try {
      // The first request is held unanswered; the daemon dies while waiting on it.
      receiver.script({ status: 200, delayMs: 20_000 });
      const files = failingConfig(receiver.url);
      const first = await start(files);
      const id = await createWatch(first, 'crash-delivery');
      await receiver.waitFor(1, 15_000);
      first.kill('SIGKILL');
      await first.exited(5_000);
      const pending = readStore(files.dbPath, (db) => db.prepare('SELECT status FROM outbox').all());
      expect(pending).toEqual([{ status: 'pending' }]);

      // After the restart the claim's lease (timeout 3 s + 5 s margin) runs out and it is sent again.
      const second = await start(files);
      await receiver.waitFor(2, 20_000);
      await eventually(5_000, () =>
        readStore(files.dbPath, (db) =>
          (db.prepare('SELECT status FROM outbox').get() as { status: string }).status === 'delivered'
            ? true
            : undefined,
        ),
      );
      // Killed and started once more: a delivered rollback is never sent again, the failed watch not resumed.
      second.kill('SIGKILL');
      await second.exited(5_000);
      const third = await start(files);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(await watchStatus(third, id)).toBe('failed');

      expect(receiver.requests).toHaveLength(2);
      const deliveryIds = new Set(receiver.requests.map((r) => r.headers['x-vigil-delivery']));
      const keys = new Set(receiver.requests.map((r) => r.headers['idempotency-key']));
      expect(deliveryIds.size).toBe(1);
      expect([...keys]).toEqual([`${id}:rollback`]);
      expect(receiver.requests.every((r) => r.headers['x-vigil-event'] === 'rollback')).toBe(true);
      const outbox = readStore(files.dbPath, (db) =>
        db.prepare("SELECT watch_id, event, status FROM outbox WHERE event = 'rollback'").all(),
      );
      expect(outbox).toEqual([{ watch_id: id, event: 'rollback', status: 'delivered' }]);
      // The attempt lost to the crash is not recorded; the delivered one is.
      const attempts = readStore(files.dbPath, (db) =>
        db.prepare('SELECT status_code FROM delivery_attempts').all(),
      );
      expect(attempts).toEqual([{ status_code: 200 }]);
    } finally {
      await receiver.close();
    }
  }, 60_000);
});

describe.concurrent('vigil serve stopped with SIGTERM while work is in flight', () => {
  it('exits 0 within the shutdown deadline and leaves the pending delivery in the outbox', async () => {
    const receiver = await startWebhookReceiver();
    // A target that accepts connections and never answers keeps a probe in flight too.
    const silent = createServer(() => {}).listen(0, '127.0.0.1');
    await new Promise((resolve) => silent.once('listening', resolve));
    const silentPort = (silent.address() as { port: number }).port;
    try {
      // The receiver never answers in time: the rollback stays pending, attempt after attempt.
      receiver.script(...Array.from({ length: 10 }, () => ({ status: 200, delayMs: 20_000 })));
      const files = failingConfig(receiver.url, { server: 'shutdownTimeout: 2s' });
      // Add a probe that hangs for its whole 5 s timeout on the silent target.
      appendFileSync(
        join(files.dir, 'probes', 'p.yaml'),
        `- name: hanging\n  kind: smoke\n  interval: 1s\n  timeout: 5s\n  request: { method: GET, url: "http://127.0.0.1:${silentPort}/" }\n`,
      );
      const live = await start(files);
      await createWatch(live, 'sigterm');
      await receiver.waitFor(1, 15_000);
      const sentAt = Date.now();
      live.kill('SIGTERM');
      expect(await live.exited(10_000)).toBe(0);
      // shutdownTimeout (2 s) plus process start-up and exit slack.
      expect(Date.now() - sentAt).toBeLessThan(3_500);
      expect(live.logs().some((l) => l.msg === 'stopped cleanly')).toBe(true);
      const outbox = readStore(files.dbPath, (db) => db.prepare('SELECT status, attempts FROM outbox').all());
      expect(outbox).toEqual([{ status: 'pending', attempts: expect.any(Number) }]);
      expect(receiver.requests.length).toBeGreaterThanOrEqual(1);
    } finally {
      silent.close();
      await receiver.close();
    }
  }, 40_000);
});
