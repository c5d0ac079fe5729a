import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DaemonFiles,
  eventually,
  type RunningDaemon,
  startDaemon,
  writeDaemonConfig,
} from '../helpers/daemon.js';
import { queryOnce, type RunningPostgres, skipWithoutPostgres, startPostgres } from '../helpers/postgres.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/*
 * Replicas on PostgreSQL (DESIGN §13, issue 18), as real `vigil serve` processes (the compiled dist) on a
 * real PostgreSQL 15 started by the suite on loopback: exactly one leads; SIGKILL of the leader mid-watch
 * hands the watch to the other within 15 s with the same verdict; a watch that fails while leadership
 * moves sends one rollback; PostgreSQL stopped for 30 s makes the leader stand down (no probes, no
 * actions, /ready says why) and everything resumes once it is back, nothing written twice.
 */

const SECRET = 'replica-suite-webhook-secret-0123';
/** DESIGN §13: a follower takes over within 15 s of the leader's death. */
const TAKEOVER_BUDGET_MS = 15_000;

/** A loopback target whose /health answers `status` (mutable), counting every hit. */
interface Target {
  url: string;
  status: number;
  hits: number;
  close(): Promise<void>;
}

async function startTarget(): Promise<Target> {
  const target = { url: '', status: 200, hits: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    target.hits++;
    res.writeHead(req.url === '/health' ? target.status : 404, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  target.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return target;
}

const HEALTH_PROBE = `
- name: health
  kind: smoke
  interval: 1s
  timeout: 2s
  request: { method: GET, path: /health }
  expect: [ { status: 200 } ]
`;

let postgres: RunningPostgres;
let receiver: WebhookReceiver;
const targets: Target[] = [];
const folders: DaemonFiles[] = [];
const running: RunningDaemon[] = [];
/** Clusters of single scenarios (the outage), beside the shared one. */
const clusters: RunningPostgres[] = [];

function replicaConfig(target: Target, databaseUrl: string, watch: string[]): DaemonFiles {
  const files = writeDaemonConfig({
    targetUrl: target.url,
    storageUrl: databaseUrl,
    probes: HEALTH_PROBE,
    server: 'shutdownTimeout: 3s',
    root: [
      'watch:',
      ...watch.map((line) => `  ${line}`),
      'actions:',
      '  rollback:',
      `    - { url: "${receiver.url}/rollback", secret: "${SECRET}", timeout: 3s }`,
    ],
  });
  folders.push(files);
  return files;
}

async function replica(files: DaemonFiles, instance: string): Promise<RunningDaemon> {
  const daemon = await startDaemon(files, { env: { VIGIL_INSTANCE: instance }, readyTimeoutMs: 30_000 });
  running.push(daemon);
  return daemon;
}

/** 1 when the replica says (in /metrics) that it leads, 0 when it follows. */
async function leads(daemon: RunningDaemon): Promise<number> {
  const metrics = await daemon.api('GET', '/metrics');
  const line = metrics.text.split('\n').find((l) => l.startsWith('vigil_leader{'));
  if (line === undefined)
    throw new Error(`no vigil_leader series in /metrics:\n${metrics.text.slice(0, 2000)}`);
  return Number(line.split(' ').at(-1));
}

/** Waits until exactly one of the replicas leads and returns it with the others. */
async function oneLeader(
  replicas: RunningDaemon[],
  timeoutMs: number,
): Promise<{ leader: RunningDaemon; followers: RunningDaemon[] }> {
  return eventually(
    timeoutMs,
    async () => {
      const flags = await Promise.all(replicas.map(leads));
      const leading = replicas.filter((_, i) => flags[i] === 1);
      return leading.length === 1
        ? { leader: leading[0] as RunningDaemon, followers: replicas.filter((r) => r !== leading[0]) }
        : undefined;
    },
    'exactly one leader',
  );
}

interface WatchView {
  id: string;
  status: string;
  verdict: string;
  phase: string;
  reasons: string[];
  checks: { name: string; result: string }[];
  timeline: { type: string; message: string }[];
}

async function createWatch(daemon: RunningDaemon, version: string): Promise<string> {
  const created = await daemon.api('POST', '/api/v1/watches', { service: 'prep-api', version });
  expect(created.status, created.text).toBe(201);
  return (created.body as { id: string }).id;
}

async function view(daemon: RunningDaemon, id: string): Promise<WatchView> {
  const answer = await daemon.api('GET', `/api/v1/watches/${id}`);
  expect(answer.status, answer.text).toBe(200);
  return answer.body as WatchView;
}

async function waitForEnd(daemon: RunningDaemon, id: string, timeoutMs: number): Promise<WatchView> {
  let last: WatchView | undefined;
  try {
    return await eventually(timeoutMs, async () => {
      last = await view(daemon, id);
      return last.status === 'running' || last.status === 'held' ? undefined : last;
    });
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; watch ${JSON.stringify(last).slice(0, 3000)}; log tail ${daemon.stdout().slice(-3000)}`,
    );
  }
}

/** Bake evaluations the leader stored for a watch. */
async function evaluations(databaseUrl: string, id: string): Promise<number> {
  const [row] = await queryOnce<{ n: string }>(
    databaseUrl,
    'SELECT count(DISTINCT evaluation) AS n FROM check_results WHERE watch_id = $1',
    [id],
  );
  return Number(row?.n ?? 0);
}

beforeAll(async () => {
  if (skipWithoutPostgres) return;
  postgres = await startPostgres();
  receiver = await startWebhookReceiver();
}, 90_000);

afterAll(async () => {
  await Promise.all(running.map((d) => d.dispose()));
  await Promise.all(targets.map((t) => t.close()));
  await receiver?.close();
  await postgres?.destroy();
  await Promise.all(clusters.map((cluster) => cluster.destroy()));
  for (const files of folders) files.cleanup();
}, 60_000);

// The scenarios mostly wait on real time (watches, takeovers, a 30 s outage): they run side by side, each
// on its own database; the outage stops a PostgreSQL of its own.
describe.skipIf(skipWithoutPostgres).concurrent('replicas on one PostgreSQL', () => {
  it('one leads; the leader SIGKILLed mid-watch, the other leads within 15 s and the watch passes as it would have', async () => {
    const target = await startTarget();
    targets.push(target);
    const databaseUrl = await postgres.createDatabase();
    const files = replicaConfig(target, databaseUrl, [
      'duration: 20s',
      'phases: [smoke, bake]',
      'evaluationInterval: 1s',
      'window: 1m',
      'minWindow: 1s',
      'inconclusiveLimit: 1m',
    ]);
    const a = await replica(files, 'replica-a');
    const b = await replica(files, 'replica-b');
    const { leader, followers } = await oneLeader([a, b], 10_000);
    const follower = followers[0] as RunningDaemon;
    // Both say who leads.
    for (const daemon of [a, b]) {
      const health = await daemon.api('GET', '/health');
      expect(health.text).toContain(leader === a ? 'replica-a' : 'replica-b');
    }

    // Created through the follower: the row is in the database, the leader's loop runs it.
    const id = await createWatch(follower, 'ha-1.0.0');
    await eventually(20_000, async () => ((await view(follower, id)).phase === 'bake' ? true : undefined));
    await eventually(20_000, async () => ((await evaluations(databaseUrl, id)) >= 3 ? true : undefined));
    const before = await view(follower, id);
    expect(before.status).toBe('running');

    leader.kill('SIGKILL');
    const killedAt = Date.now();
    expect(await leader.exited(5_000)).toBe('SIGKILL');
    await eventually(
      TAKEOVER_BUDGET_MS,
      async () => ((await leads(follower)) === 1 ? true : undefined),
      'takeover',
    );
    const takeoverMs = Date.now() - killedAt;
    console.info(`replica takeover after SIGKILL of the leader: ${takeoverMs} ms`);
    expect(takeoverMs).toBeLessThan(TAKEOVER_BUDGET_MS);

    const ended = await waitForEnd(follower, id, 60_000);
    // The same verdict as a healthy deploy without a failover: passed, every check passing.
    expect(ended.status).toBe('passed');
    expect(ended.verdict).toBe('pass');
    expect(ended.checks.length).toBeGreaterThan(0);
    expect(ended.checks.filter((c) => c.result !== 'pass')).toEqual([]);
    // Resumed once on the new leader, and nothing sent: a good deploy is not rolled back.
    expect(ended.timeline.filter((e) => e.type === 'resumed')).toHaveLength(1);
    expect(ended.timeline.filter((e) => e.type === 'created')).toHaveLength(1);
    expect(receiver.requests.filter((r) => r.body.includes(id))).toEqual([]);
  }, 150_000);

  it('a watch that fails while leadership moves sends exactly one rollback', async () => {
    const target = await startTarget();
    target.status = 500;
    targets.push(target);
    const files = replicaConfig(target, await postgres.createDatabase(), [
      'duration: 10m',
      'phases: [smoke, bake]',
      'smokeTimeout: 8s',
      'evaluationInterval: 1s',
    ]);
    const a = await replica(files, 'replica-c');
    const b = await replica(files, 'replica-d');
    const { leader, followers } = await oneLeader([a, b], 10_000);
    const follower = followers[0] as RunningDaemon;
    const id = await createWatch(leader, 'ha-2.0.0');
    // Mid-smoke (the smoke probe keeps failing; the phase fails at its 8 s timeout), the leader dies.
    await eventually(8_000, async () => ((await view(follower, id)).phase === 'smoke' ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await view(follower, id)).status).toBe('running');
    leader.kill('SIGKILL');
    expect(await leader.exited(5_000)).toBe('SIGKILL');

    const ended = await waitForEnd(follower, id, 60_000);
    expect(ended.status).toBe('failed');
    const mine = () => receiver.requests.filter((r) => r.url === '/rollback' && r.body.includes(id));
    await eventually(20_000, () => (mine().length > 0 ? true : undefined), 'the rollback webhook');
    // Nothing more comes: every replica has had time to send (a retry would come within the 3 s timeout).
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const sent = mine();
    expect(sent).toHaveLength(1);
    expect(sent[0]?.headers['idempotency-key']).toBe(`${id}:rollback`);
  }, 150_000);

  it('PostgreSQL stopped for 30 s: the leader stands down, /ready says why, all resumes when it is back', async () => {
    const target = await startTarget();
    targets.push(target);
    const own = await startPostgres();
    clusters.push(own);
    const databaseUrl = await own.createDatabase();
    const files = replicaConfig(target, databaseUrl, [
      'duration: 40s',
      'phases: [bake]',
      'evaluationInterval: 1s',
      'window: 1m',
      'minWindow: 1s',
      'inconclusiveLimit: 2m',
    ]);
    const daemon = await replica(files, 'replica-e');
    await oneLeader([daemon], 10_000);
    const id = await createWatch(daemon, 'ha-3.0.0');
    await eventually(20_000, async () => ((await evaluations(databaseUrl, id)) >= 3 ? true : undefined));

    await own.stop();
    const stoppedAt = Date.now();
    try {
      // The lock's connection is gone: the leader stands down at once (and stays up).
      await eventually(
        10_000,
        async () => ((await leads(daemon)) === 0 ? true : undefined),
        'stand-down',
      ).catch((error: unknown) => {
        throw new Error(
          `${(error as Error).message}; exit ${daemon.child.exitCode ?? daemon.child.signalCode}; ` +
            `stderr ${daemon.stderr().slice(-2000)}; log tail ${daemon.stdout().slice(-3000)}`,
        );
      });
      const ready = await eventually(15_000, async () => {
        const answer = await daemon.api('GET', '/ready', undefined, { token: null });
        return answer.status === 503 ? answer : undefined;
      });
      expect(ready.text).toMatch(/database/);
      // No probes while it does not lead (a probe in flight at the stand-down may still land).
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const hits = target.hits;
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      expect(target.hits).toBe(hits);
      const left = 30_000 - (Date.now() - stoppedAt);
      if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    } finally {
      await own.start();
    }

    await eventually(30_000, async () => ((await leads(daemon)) === 1 ? true : undefined), 'the lead again');
    await eventually(15_000, async () => {
      const answer = await daemon.api('GET', '/ready', undefined, { token: null });
      return answer.status === 200 ? true : undefined;
    });
    const ended = await waitForEnd(daemon, id, 90_000);
    expect(['passed', 'inconclusive']).toContain(ended.status);
    expect(target.hits).toBeGreaterThan(0);

    // Nothing written twice: one row per (evaluation, check), one created event, one resume.
    const counts = await queryOnce<{ rows: string; distinct: string }>(
      databaseUrl,
      'SELECT count(*) AS rows, count(DISTINCT (evaluation, check_name)) AS distinct FROM check_results WHERE watch_id = $1',
      [id],
    );
    expect(Number(counts[0]?.rows)).toBeGreaterThan(0);
    expect(Number(counts[0]?.rows)).toBe(Number(counts[0]?.distinct));
    const events = await queryOnce<{ type: string; n: string }>(
      databaseUrl,
      'SELECT type, count(*) AS n FROM timeline_events WHERE watch_id = $1 GROUP BY type',
      [id],
    );
    const byType = Object.fromEntries(events.map((e) => [e.type, Number(e.n)]));
    expect(byType.created).toBe(1);
    expect(byType.resumed).toBe(1);
    expect(byType.completed ?? 1).toBe(1);
  }, 240_000);
});
