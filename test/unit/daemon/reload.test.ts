import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { loadConfig } from '../../../src/config/load.js';
import { createDaemon, type Daemon } from '../../../src/daemon/index.js';
import { createProber, type Prober, type ProberDeps } from '../../../src/prober/service.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { type DaemonFiles, eventually, TEST_API_TOKEN, writeDaemonConfig } from '../../helpers/daemon.js';
import { listenLoopback } from '../../helpers/loopback-server.js';

/*
 * What a SIGHUP reload changes in a running daemon (createDaemon in-process, on a virtual clock): probers
 * swapped one at a time, SLOs that are gone leave no alert, state or metric behind, and the load runner
 * takes the new profiles and k6 path.
 */

const START = Date.parse('2026-11-27T10:00:00Z');
const FAKE_K6 = join(import.meta.dirname, '../../helpers/fake-k6.mjs');
const PROBES = '- name: health\n  kind: smoke\n  interval: 1h\n  request: { method: GET, path: /health }\n';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function daemonOn(
  files: DaemonFiles,
  extra: { clock?: ManualClock; createProber?: (deps: ProberDeps) => Prober } = {},
): Promise<Daemon> {
  const daemon = await createDaemon({
    config: await loadConfig(files.configFile, {}),
    logger: silentLogger(),
    searchPath: process.env.PATH ?? '',
    defaultMetrics: false,
    clock: extra.clock ?? new ManualClock(START),
    ...(extra.createProber ? { createProber: extra.createProber } : {}),
  });
  cleanups.push(() => daemon.stop(1_000));
  return daemon;
}

async function rewrite(files: DaemonFiles, file: string, content: string): Promise<void> {
  writeFileSync(join(files.dir, file), content);
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

/** A Prometheus that answers 1 to every instant query. */
async function constantPrometheus(): Promise<string> {
  return listenLoopback((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url?.startsWith('/api/v1/query')) {
        res.end(
          JSON.stringify({
            status: 'success',
            data: { resultType: 'vector', result: [{ metric: {}, value: [START / 1000, '1'] }] },
          }),
        );
      } else res.end('{"status":"success","data":{}}');
    });
  }, cleanups);
}

describe('reload', () => {
  it('two reloads in a row: the old prober has stopped before the newest starts, and the middle one never runs', async () => {
    const files = writeDaemonConfig({ targetUrl: 'http://127.0.0.1:9', probes: PROBES });
    cleanups.push(files.cleanup);
    const log: string[] = [];
    let live = 0;
    let mostLive = 0;
    let releaseStop: () => void = () => {};
    const stopGate = new Promise<void>((resolve) => {
      releaseStop = resolve;
    });
    let built = 0;
    // Each prober's stop waits for the test to open the gate: a prober whose runs in flight take their time.
    const counting = (deps: ProberDeps): Prober => {
      const real = createProber(deps);
      const name = `p${built++}`;
      let running = false;
      return {
        get scheduler() {
          return real.scheduler;
        },
        probes: real.probes,
        start() {
          if (!running) {
            running = true;
            live++;
            mostLive = Math.max(mostLive, live);
          }
          log.push(`start ${name}`);
          real.start();
        },
        async stop() {
          log.push(`stop ${name}`);
          await stopGate;
          await real.stop();
          if (running) live--;
          running = false;
          log.push(`stopped ${name}`);
        },
      };
    };
    const daemon = await daemonOn(files, { createProber: counting });
    await daemon.start();
    const next = await loadConfig(files.configFile, {});
    // Not awaited: the second reload comes while the first is still swapping probers.
    const reloads = [daemon.reload(next), daemon.reload(next)];
    await eventually(2_000, () => (log.includes('stop p0') ? true : undefined), 'the first prober to stop');
    expect(log).toEqual(['start p0', 'stop p0']); // nothing starts while p0 is still stopping
    releaseStop();
    await eventually(
      2_000,
      () => (log.includes('start p2') ? true : undefined),
      'the newest prober to start',
    );
    await Promise.all(reloads);
    expect(log).toEqual(['start p0', 'stop p0', 'stopped p0', 'stop p1', 'stopped p1', 'start p2']);
    expect(mostLive).toBe(1);
    expect(live).toBe(1);
    await daemon.stop(1_000);
    expect(live).toBe(0);
  });

  it("a removed or renamed SLO's VigilSLOViolation resolves, and its state and metrics go", async () => {
    const prometheus = await constantPrometheus();
    const slo = (name: string) =>
      `- name: ${name}\n  source: prometheus\n  query: up\n  objective: { lt: 0.5 }\n  alertAfter: 1\n`;
    const files = writeDaemonConfig({
      targetUrl: 'http://127.0.0.1:9',
      slos: slo('p95-latency') + slo('error-rate'),
      root: [
        `sources: { prometheus: { url: "${prometheus}" } }`,
        'alertmanager: { url: "http://127.0.0.1:9" }',
      ],
    });
    cleanups.push(files.cleanup);
    const daemon = await daemonOn(files);
    await daemon.start();
    const alerts = () => {
      const db = new Database(files.dbPath, { readonly: true });
      try {
        return db.prepare(`SELECT key, state FROM alerts ORDER BY key`).all() as {
          key: string;
          state: string;
        }[];
      } finally {
        db.close();
      }
    };
    await eventually(5_000, () => (alerts().length === 2 ? true : undefined), 'both SLOs to alert');
    expect(alerts()).toEqual([
      { key: 'slo:prep-api/error-rate', state: 'firing' },
      { key: 'slo:prep-api/p95-latency', state: 'firing' },
    ]);
    expect(await daemon.metrics.registry.metrics()).toContain(
      'vigil_slo_value{service="prep-api",slo="p95-latency"} 1',
    );

    // p95-latency is renamed p95; error-rate stays.
    await rewrite(files, 'slo/s.yaml', slo('p95') + slo('error-rate'));
    await daemon.reload(await loadConfig(files.configFile, {}));

    expect(alerts()).toEqual([
      { key: 'slo:prep-api/error-rate', state: 'firing' },
      { key: 'slo:prep-api/p95-latency', state: 'resolved' },
    ]);
    const slos = (await api(daemon, 'GET', '/api/v1/slos')).body;
    expect(JSON.stringify(slos)).not.toContain('p95-latency');
    const text = await daemon.metrics.registry.metrics();
    expect(text).not.toContain('slo="p95-latency"');
    expect(text).toContain('vigil_slo_value{service="prep-api",slo="error-rate"} 1');
  });

  it('watch settings reach running watches: a changed failureLimit is recorded in their timelines', async () => {
    const files = writeDaemonConfig({
      targetUrl: 'http://127.0.0.1:9',
      probes: PROBES,
      slos: '- name: avail\n  source: probes\n  sli: { probe: health, measure: successRatio }\n  objective: { gte: 0.9 }\n',
      root: ['watch: { duration: 2h, phases: [bake], evaluationInterval: 1h, failureLimit: 3 }'],
    });
    cleanups.push(files.cleanup);
    const daemon = await daemonOn(files);
    await daemon.start();
    const created = await api(daemon, 'POST', '/api/v1/watches', { service: 'prep-api', version: '2' });
    const id = created.body.id as string;
    const root = (await import('node:fs')).readFileSync(files.configFile, 'utf8');
    await rewrite(files, 'vigil.yaml', root.replace('failureLimit: 3', 'failureLimit: 5'));
    await daemon.reload(await loadConfig(files.configFile, {}));
    const timeline = (await api(daemon, 'GET', `/api/v1/watches/${id}`)).body.timeline as {
      message: string;
    }[];
    expect(timeline.map((e) => e.message).filter((m) => m.includes('failureLimit'))).toEqual([
      expect.stringContaining('failureLimit 3 → 5'),
    ]);
  });

  it('the load runner takes the new profiles and k6 path: the next watch runs the new profile', async () => {
    const files = writeDaemonConfig({
      targetUrl: 'http://127.0.0.1:9',
      root: ['loadtests: { k6: /nonexistent/k6 }', 'watch: { phases: [load] }'],
    });
    cleanups.push(files.cleanup);
    writeFileSync(join(files.dir, 'pass.js'), 'export default function () {}\n');
    const daemon = await daemonOn(files);
    await daemon.start();

    const root = (await import('node:fs')).readFileSync(files.configFile, 'utf8');
    await rewrite(
      files,
      'vigil.yaml',
      root
        .replace(
          'loadtests: { k6: /nonexistent/k6 }',
          `loadtests: { k6: "${FAKE_K6}", profiles: { pass: { script: pass.js, vus: 1, duration: 5s } } }`,
        )
        .replace('watch: { phases: [load] }', 'watch: { phases: [load], loadProfile: pass }'),
    );
    await daemon.reload(await loadConfig(files.configFile, {}));

    const created = await api(daemon, 'POST', '/api/v1/watches', { service: 'prep-api', version: '2' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const load = await eventually(
      10_000,
      async () => {
        const watch = (await api(daemon, 'GET', `/api/v1/watches/${id}`)).body as {
          checks: { name: string; kind: string; result: string; explanation: string }[];
        };
        return watch.checks.find((c) => c.kind === 'load');
      },
      'the load check',
    );
    expect(load).toMatchObject({ name: 'load:pass', result: 'pass' });
    expect(load.explanation).toMatch(/^k6 exited 0/);
  });
});
