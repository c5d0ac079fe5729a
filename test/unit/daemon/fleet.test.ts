import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { loadConfig } from '../../../src/config/load.js';
import { createDaemon, type Daemon } from '../../../src/daemon/index.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { TEST_API_TOKEN } from '../../helpers/daemon.js';
import { listenLoopback } from '../../helpers/loopback-server.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver.js';

/*
 * One daemon, several services (issue 16): each service's watches, verdicts, rollbacks, probes and
 * series are its own. A real daemon on a virtual clock; its probes hit real loopback servers.
 */

const SECRET_API = 'api-rollback-secret-0123456789';
const SECRET_WORKER = 'worker-rollback-secret-987654';
const MINUTE = 60_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A service whose /health answers what `status()` says now. */
async function target(status: () => number): Promise<string> {
  return listenLoopback((req, res) => {
    req.resume();
    res.writeHead(status(), { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
  }, cleanups);
}

interface Fleet {
  dir: string;
  configFile: string;
  write(
    services: Record<string, { url: string; rollback?: string; secret?: string; extra?: string }>,
    root?: string,
  ): void;
}

/** A fleet config: a shared probe file (`health` for every service), one rollback target per service. */
function fleetFiles(): Fleet {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fleet-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'probes'));
  writeFileSync(
    join(dir, 'probes', 'health.yaml'),
    '- name: health\n  kind: smoke\n  interval: 15s\n  timeout: 2s\n  request: { path: /health }\n  expect: [{ status: 200 }]\n',
  );
  const configFile = join(dir, 'vigil.yaml');
  return {
    dir,
    configFile,
    write(services, root = '') {
      const entries = Object.entries(services)
        .map(
          ([name, s]) =>
            `  ${name}:\n    target: { baseUrl: "${s.url}" }\n    probes: [probes/health.yaml]\n` +
            (s.rollback
              ? `    actions: { rollback: [{ url: "${s.rollback}", secret: "${s.secret}" }] }\n`
              : '') +
            (s.extra ?? ''),
        )
        .join('');
      writeFileSync(
        configFile,
        `server: { apiToken: ${TEST_API_TOKEN} }\nstorage: { path: ./vigil.db }\n` +
          'watch: { duration: 10m, phases: [bake], evaluationInterval: 1m, window: 2m, failureLimit: 2 }\n' +
          root +
          `services:\n${entries}`,
      );
    },
  };
}

async function api(daemon: Daemon, method: 'GET' | 'POST', url: string, payload?: unknown) {
  const answer = await daemon.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
    ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
  });
  return { status: answer.statusCode, body: answer.json() as Record<string, unknown> };
}

async function start(fleet: Fleet): Promise<{ daemon: Daemon; clock: ManualClock }> {
  const clock = new ManualClock(Date.parse('2026-11-30T10:00:00Z'));
  const daemon = await createDaemon({
    config: await loadConfig(fleet.configFile, {}),
    logger: silentLogger(),
    searchPath: '',
    clock,
    defaultMetrics: false,
  });
  await daemon.start();
  cleanups.push(async () => {
    const stopping = daemon.stop(1_000);
    for (let i = 0; i < 20; i++) await clock.advance(100);
    await stopping;
  });
  return { daemon, clock };
}

/** Moves the clock in 5 s steps; after each, waits (real time, bounded) for probe runs and deliveries. */
async function advance(clock: ManualClock, ms: number): Promise<void> {
  for (let moved = 0; moved < ms; moved += 5_000) {
    await clock.advance(5_000);
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 4));
  }
}

async function status(daemon: Daemon, id: string): Promise<{ status: string; verdict: string }> {
  const { body } = await api(daemon, 'GET', `/api/v1/watches/${id}`);
  return body as { status: string; verdict: string };
}

async function receivers(): Promise<{ apiHook: WebhookReceiver; workerHook: WebhookReceiver }> {
  const apiHook = await startWebhookReceiver();
  const workerHook = await startWebhookReceiver();
  cleanups.push(
    () => apiHook.close(),
    () => workerHook.close(),
  );
  return { apiHook, workerHook };
}

describe('a fleet in one daemon', () => {
  it('two services watched at once: the failing one rolls back to its own target, the other passes untouched', async () => {
    let apiStatus = 200;
    const apiUrl = await target(() => apiStatus);
    const workerUrl = await target(() => 200);
    const { apiHook, workerHook } = await receivers();
    const fleet = fleetFiles();
    fleet.write({
      'prep-api': { url: apiUrl, rollback: apiHook.url, secret: SECRET_API },
      'prep-worker': { url: workerUrl, rollback: workerHook.url, secret: SECRET_WORKER },
    });
    const { daemon, clock } = await start(fleet);

    const refused = await api(daemon, 'POST', '/api/v1/watches', { service: 'prep-admin', version: '1' });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('configured: prep-api, prep-worker');

    const apiWatch = await api(daemon, 'POST', '/api/v1/watches', { service: 'prep-api', version: '2.0.0' });
    const workerWatch = await api(daemon, 'POST', '/api/v1/watches', {
      service: 'prep-worker',
      version: '7.1.0',
    });
    expect([apiWatch.status, workerWatch.status]).toEqual([201, 201]);
    // The API's new version breaks its health; the worker's is fine (both probes are named `health`).
    apiStatus = 503;
    await advance(clock, 11 * MINUTE);

    const apiId = apiWatch.body.id as string;
    const workerId = workerWatch.body.id as string;
    expect(await status(daemon, apiId)).toMatchObject({ status: 'failed', verdict: 'fail' });
    expect(await status(daemon, workerId)).toMatchObject({ status: 'passed', verdict: 'pass' });
    const [rollback] = await apiHook.waitFor(1);
    expect(JSON.parse(rollback?.body ?? '{}')).toMatchObject({
      event: 'rollback',
      watch: { id: apiId, service: 'prep-api', version: '2.0.0' },
    });
    expect(workerHook.requests).toEqual([]);

    // Each service's probe and watch series carry its name; the lists filter by it.
    const text = (await daemon.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/vigil_probe_success\{service="prep-api",probe="health",kind="smoke"\} 0/);
    expect(text).toMatch(/vigil_probe_success\{service="prep-worker",probe="health",kind="smoke"\} 1/);
    expect(text).toMatch(/vigil_watches_total\{service="prep-api",result="failed"\} 1/);
    expect(text).toMatch(/vigil_watches_total\{service="prep-worker",result="passed"\} 1/);
    expect(text).toMatch(
      /vigil_webhook_deliveries_total\{service="prep-api",event="rollback",result="delivered"\} 1/,
    );
    const workerProbes = await api(daemon, 'GET', '/api/v1/probes?service=prep-worker');
    expect(workerProbes.body.probes).toEqual([
      expect.objectContaining({ service: 'prep-worker', probe: 'health', success: true }),
    ]);
    expect((await api(daemon, 'GET', '/api/v1/probes?service=nope')).status).toBe(400);
    const listed = await api(daemon, 'GET', '/api/v1/watches?service=prep-worker');
    expect((listed.body.watches as { id: string }[]).map((w) => w.id)).toEqual([workerId]);
  });

  it('a watch supersedes only its own service’s running watch', async () => {
    const fleet = fleetFiles();
    fleet.write({
      'prep-api': { url: await target(() => 200) },
      'prep-worker': { url: await target(() => 200) },
    });
    const { daemon } = await start(fleet);
    const worker = await api(daemon, 'POST', '/api/v1/watches', { service: 'prep-worker', version: '1' });
    const first = await api(daemon, 'POST', '/api/v1/watches', { service: 'prep-api', version: '1' });
    const second = await api(daemon, 'POST', '/api/v1/watches', { service: 'prep-api', version: '2' });
    expect(second.status).toBe(201);
    expect((await status(daemon, first.body.id as string)).status).toBe('aborted');
    expect((await status(daemon, worker.body.id as string)).status).toBe('running');
  });

  it('a reload adds a service and removes one: the removed one’s watch ends aborted with the reason, its series go', async () => {
    const apiUrl = await target(() => 200);
    const workerUrl = await target(() => 200);
    const fleet = fleetFiles();
    fleet.write({ 'prep-api': { url: apiUrl }, 'prep-worker': { url: workerUrl } });
    const { daemon, clock } = await start(fleet);
    const workerWatch = await api(daemon, 'POST', '/api/v1/watches', {
      service: 'prep-worker',
      version: '3',
    });
    await advance(clock, MINUTE);
    expect((await daemon.app.inject({ method: 'GET', url: '/metrics' })).body).toContain(
      'service="prep-worker",probe="health"',
    );

    fleet.write({ 'prep-api': { url: apiUrl }, 'prep-admin': { url: workerUrl } });
    await daemon.reload(await loadConfig(fleet.configFile, {}));
    await advance(clock, MINUTE);

    const ended = await api(daemon, 'GET', `/api/v1/watches/${workerWatch.body.id as string}`);
    expect(ended.body).toMatchObject({ status: 'aborted' });
    expect(JSON.stringify(ended.body.timeline)).toContain(
      'service prep-worker was removed from the configuration',
    );
    const text = (await daemon.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).not.toMatch(/vigil_probe_success\{service="prep-worker"/);
    expect(text).toMatch(/vigil_probe_success\{service="prep-admin",probe="health",kind="smoke"\} 1/);
    const added = await api(daemon, 'POST', '/api/v1/watches', { service: 'prep-admin', version: '1' });
    expect(added.status).toBe(201);
    const gone = await api(daemon, 'POST', '/api/v1/watches', { service: 'prep-worker', version: '4' });
    expect(gone.status).toBe(400);
  });

  it('/health checks the root sources, and a service that reads its own Prometheus under its name', async () => {
    const fleet = fleetFiles();
    const url = await target(() => 200);
    fleet.write(
      {
        'prep-api': { url },
        'prep-worker': { url, extra: '    sources: { prometheus: { url: "http://127.0.0.1:9" } }\n' },
      },
      `sources: { prometheus: { url: "${url}" } }\n`,
    );
    const { daemon } = await start(fleet);
    const health = await daemon.app.inject({ method: 'GET', url: '/health' });
    const checks = health.json<{ checks: Record<string, { status: string }> }>().checks;
    expect(checks.prometheus?.status).toBe('ok');
    expect(checks['prometheus:prep-worker']?.status).toBe('down');
    expect(Object.keys(checks)).not.toContain('prometheus:prep-api');
  });
});
