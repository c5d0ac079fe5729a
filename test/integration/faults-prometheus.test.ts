import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrepService, startPrepService } from '../../src/demo/prep-service.js';
import { alertmanagerMode, type RunningAlertmanager, startAlertmanager } from '../helpers/alertmanager.js';
import {
  type DaemonFiles,
  eventually,
  type RunningDaemon,
  startDaemon,
  writeDaemonConfig,
} from '../helpers/daemon.js';
import { PROMETHEUS_BIN, skipWithoutPrometheus } from '../helpers/prometheus.js';
import { startWebhookReceiver, unusedPort, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { readStore } from './faults-helpers.js';

/*
 * A real Prometheus scraping a Prep-like service, a real Alertmanager, a real daemon watching a deploy.
 * Prometheus is SIGKILLed mid-watch: the check turns inconclusive, after inconclusiveLimit the watch is
 * blind and VigilBlind reaches Alertmanager (and through it a webhook receiver). Prometheus is started
 * again on the same port and data: evaluation resumes, the watch is no longer blind, the alert resolves.
 * Skips without the binaries, unless VIGIL_REQUIRE_INTEGRATION=1 (then it fails).
 */

const skip = skipWithoutPrometheus || alertmanagerMode() === 'skip';

interface LivePrometheus {
  child: ChildProcess;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Prometheus on a fixed port over a data dir that survives restarts, scraping the service every second. */
async function launchPrometheus(port: number, dir: string, target: string): Promise<LivePrometheus> {
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    `global: { scrape_interval: 1s, evaluation_interval: 1s }\nscrape_configs:\n  - job_name: prep-api\n    static_configs: [ { targets: ['${target}'] } ]\n`,
  );
  const child = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (c: Buffer) => {
    log = (log + c.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await eventually(
    20_000,
    async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
      const r = await fetch(`http://127.0.0.1:${port}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      await r.body?.cancel();
      return r.status === 200 ? true : undefined;
    },
    'Prometheus /-/ready',
  );
  return {
    child,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

let service: PrepService;
let receiver: WebhookReceiver;
let alertmanager: RunningAlertmanager;
let prometheus: LivePrometheus | undefined;
let promDir: string;
let promPort: number;
let files: DaemonFiles;
let daemon: RunningDaemon | undefined;

beforeAll(async () => {
  if (skip) return;
  service = await startPrepService();
  receiver = await startWebhookReceiver();
  alertmanager = await startAlertmanager({ webhookUrl: `${receiver.url}/alertmanager` });
  promDir = mkdtempSync(join(tmpdir(), 'vigil-fault-prom-'));
  promPort = await unusedPort();
  prometheus = await launchPrometheus(promPort, promDir, new URL(service.url).host);
  files = writeDaemonConfig({
    targetUrl: service.url,
    slos: `
- name: error-rate
  source: prometheus
  query: (sum(rate(http_requests_total{job="prep-api",code=~"5.."}[{{window}}])) or vector(0))
  objective: { lt: 0.01 }
  critical: true
`,
    root: [
      `sources: { prometheus: { url: "http://127.0.0.1:${promPort}", timeout: 1s } }`,
      `alertmanager: { url: "${alertmanager.url}", resendInterval: 1s }`,
      'watch: { duration: 5m, phases: [bake], evaluationInterval: 1s, window: 10s, minWindow: 2s, inconclusiveLimit: 3s }',
    ],
  });
  daemon = await startDaemon(files);
}, 60_000);

afterAll(async () => {
  await daemon?.dispose();
  await prometheus?.kill('SIGKILL');
  await alertmanager?.stop();
  await receiver?.close();
  await service?.close();
  if (promDir) rmSync(promDir, { recursive: true, force: true });
  files?.cleanup();
});

interface WatchView {
  status: string;
  verdict: string;
  reasons: string[];
  checks: { name: string; result: string; explanation: string }[];
  blindSpans: { from: string; to: string | null; checks: string[]; reason: string }[];
  timeline: { type: string; message: string }[];
}

async function view(live: RunningDaemon, id: string): Promise<WatchView> {
  return (await live.api('GET', `/api/v1/watches/${id}`)).body as WatchView;
}

/** Alertmanager's active alerts with this alertname (its own API, not Vigil's view). */
async function activeInAlertmanager(alertname: string): Promise<number> {
  const r = await fetch(`${alertmanager.url}/api/v2/alerts?active=true&silenced=false&inhibited=false`);
  const alerts = (await r.json()) as { labels: Record<string, string> }[];
  return alerts.filter((a) => a.labels.alertname === alertname).length;
}

describe.skipIf(skip)('Prometheus killed mid-watch', () => {
  it('turns the watch blind with VigilBlind, and recovers when Prometheus is back', async () => {
    const live = daemon as RunningDaemon;
    const created = await live.api('POST', '/api/v1/watches', { service: 'prep-api', version: 'blind' });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    await eventually(
      15_000,
      async () => ((await view(live, id)).verdict === 'pass' ? true : undefined),
      'pass',
    );

    await prometheus?.kill('SIGKILL');
    const blind = await eventually(
      15_000,
      async () => {
        const w = await view(live, id);
        return w.verdict === 'inconclusive' ? w : undefined;
      },
      'an inconclusive verdict',
    );
    expect(blind.status).toBe('running');
    expect(blind.checks.find((c) => c.name === 'error-rate')?.result).toBe('inconclusive');
    expect(blind.checks.find((c) => c.name === 'error-rate')?.explanation).toMatch(/prometheus|connect/i);
    expect(blind.timeline.some((e) => e.type === 'blind' && e.message.startsWith('blind'))).toBe(true);
    await eventually(
      15_000,
      async () => ((await activeInAlertmanager('VigilBlind')) > 0 ? true : undefined),
      'VigilBlind in Alertmanager',
    );
    // Alertmanager routed it on to its receiver too (group_wait 1s).
    await eventually(
      10_000,
      () => (receiver.requests.some((r) => r.body.includes('"VigilBlind"')) ? true : undefined),
      'VigilBlind at the Alertmanager webhook',
    );
    // /health says which dependency is gone, without failing the daemon itself (degraded, not down).
    const health = await eventually(
      10_000,
      async () => {
        const answer = await live.api('GET', '/health');
        const body = answer.body as { status: string; checks: { prometheus: { status: string } } };
        return body.checks.prometheus.status === 'down' ? { code: answer.status, body } : undefined;
      },
      '/health to report Prometheus down',
    );
    expect(health.code).toBe(200);
    expect(health.body.status).toBe('degraded');
    const metrics = (await live.api('GET', '/metrics')).text;
    expect(metrics).toMatch(/vigil_watch_verdict\{[^}]*verdict="inconclusive"[^}]*\} 1/);

    prometheus = await launchPrometheus(promPort, promDir, new URL(service.url).host);
    // The source's circuit breaker pauses queries for 30 s after 5 consecutive failures: recovery waits it out.
    const back = await eventually(
      45_000,
      async () => {
        const w = await view(live, id);
        // Checks pass again, but the span it could not see stays in the verdict (DESIGN §6): warn, not pass.
        return w.checks.every((c) => c.result === 'pass') && w.verdict === 'warn' ? w : undefined;
      },
      'checks passing again after Prometheus came back',
    ).catch(async (error: unknown) => {
      const w = await view(live, id);
      throw new Error(
        `${String(error)}: verdict ${w.verdict}, checks ${JSON.stringify(w.checks)}, timeline tail ${JSON.stringify(w.timeline.slice(-5))}`,
      );
    });
    expect(back.status).toBe('running');
    expect(back.reasons.join('\n')).toMatch(/^was blind for .*error-rate: prometheus unavailable/m);
    expect(back.blindSpans).toHaveLength(1);
    expect(back.blindSpans[0]?.to).not.toBeNull();
    expect(back.timeline.some((e) => e.type === 'blind' && e.message.startsWith('no longer blind'))).toBe(
      true,
    );
    // Vigil resolved the alert and Alertmanager accepted the resolution.
    await eventually(
      10_000,
      () =>
        readStore(files.dbPath, (db) =>
          db
            .prepare("SELECT state, last_sent_at FROM alerts WHERE labels_json LIKE '%VigilBlind%'")
            .all()
            .every((row) => {
              const r = row as { state: string; last_sent_at: number | null };
              return r.state === 'resolved' && r.last_sent_at !== null;
            })
            ? true
            : undefined,
        ),
      'VigilBlind resolved',
    );
    await eventually(
      10_000,
      async () => ((await activeInAlertmanager('VigilBlind')) === 0 ? true : undefined),
      'VigilBlind gone from Alertmanager',
    );
  }, 100_000);
});
