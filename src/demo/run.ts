import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pino } from 'pino';
import { createDaemonClient } from '../cli/client.js';
import { loadConfig } from '../config/load.js';
import { createDaemon, type Daemon } from '../daemon/index.js';
import { errorMessage } from '../errors.js';
import { findExecutable } from '../executable.js';
import type { WatchView } from '../watch/types.js';
import { DEMO_WATCH, writeDemoFiles } from './files.js';
import { type PrepService, startPrepService } from './prep-service.js';
import { type DemoPrometheus, startDemoPrometheus, waitForSeries } from './prometheus.js';
import { baselineLines, failingChecks, progressLine } from './report.js';
import { startWebhookSink, type WebhookSink } from './sink.js';
import { startTraffic, type Traffic } from './traffic.js';

export interface DemoOptions {
  /** Where the readable timeline goes (stderr for the CLI). */
  out: Writable;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  /** Force the `probes` source even when prometheus is on PATH. */
  withoutPrometheus?: boolean;
}

export interface DemoOutcome {
  ok: boolean;
  usedPrometheus: boolean;
  /** Whether k6 was found and the good deploy ran a load phase. */
  ranLoad: boolean;
  good: WatchView | null;
  bad: WatchView | null;
  rollbackSignatureValid: boolean;
  problems: string[];
}

const WARMUP_MS = 6_000;
/** A bake is never silent longer than this: a progress line with elapsed time and checks. */
const PROGRESS_EVERY_MS = 3_000;
const BAD_DEADLINE_MS = 45_000;

/**
 * The whole story of DESIGN §10 on loopback: a Prep-like service, a signature-checking webhook sink,
 * the daemon on a temporary store (and a real Prometheus when one is on PATH); deploy "good" and watch
 * it pass; deploy "bad" and watch the verdict turn to fail with its reasons and the signed rollback arrive.
 *
 * @example const outcome = await runDemo({ out: process.stderr, env: process.env, signal });
 */
export async function runDemo(options: DemoOptions): Promise<DemoOutcome> {
  const started = Date.now();
  const say = (line: string): void => {
    const t = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
    options.out.write(`[${t}s] ${line}\n`);
  };
  const dir = mkdtempSync(join(tmpdir(), 'vigil-demo-'));
  const outcome: DemoOutcome = {
    ok: false,
    usedPrometheus: false,
    ranLoad: false,
    good: null,
    bad: null,
    rollbackSignatureValid: false,
    problems: [],
  };
  let service: PrepService | undefined;
  let sink: WebhookSink | undefined;
  let prometheus: DemoPrometheus | undefined;
  let daemon: Daemon | undefined;
  let traffic: Traffic | undefined;
  const logFile = join(dir, 'vigil.log');
  try {
    const secret = randomBytes(24).toString('hex');
    const apiToken = randomBytes(24).toString('hex');
    service = await startPrepService();
    say(`prep-api demo service listening on ${service.url} (version "good")`);
    sink = await startWebhookSink(secret);
    say(`rollback webhook sink listening on ${sink.url} (verifies X-Vigil-Signature)`);
    const binary = options.withoutPrometheus
      ? undefined
      : await findExecutable('prometheus', options.env.PATH ?? '', '.');
    if (binary) {
      prometheus = await startDemoPrometheus(binary, `127.0.0.1:${service.port}`, 'prep-api');
      outcome.usedPrometheus = true;
      say(`Prometheus (${binary}) scraping the service every 1s at ${prometheus.url}`);
    } else {
      const why = options.withoutPrometheus ? '--without-prometheus' : 'prometheus is not on PATH';
      say(`${why}: judging SLOs from Vigil's own probe results (source "probes")`);
    }
    const k6 = await findExecutable(options.env.VIGIL_K6_PATH || 'k6', options.env.PATH ?? '', process.cwd());
    outcome.ranLoad = k6 !== undefined;
    say(
      k6
        ? `k6 (${k6}) on PATH: the good deploy runs a ${DEMO_WATCH.load.durationS}s load phase with ${DEMO_WATCH.load.vus} users`
        : 'k6 not on PATH: load phase skipped',
    );
    const file = writeDemoFiles({
      ...(k6 ? { k6Path: k6 } : {}),
      dir,
      targetUrl: service.url,
      ...(prometheus ? { prometheusUrl: prometheus.url } : {}),
      sinkUrl: sink.url,
      secret,
      apiToken,
    });
    const config = await loadConfig(file, {});
    const logger = pino({ level: 'info' }, pino.destination({ dest: logFile, sync: true }));
    daemon = await createDaemon({
      config,
      logger,
      searchPath: options.env.PATH ?? '',
      defaultMetrics: false,
    });
    const { port } = await daemon.start();
    const server = `http://127.0.0.1:${port}`;
    say(`vigil daemon serving on ${server} (store ${join(dir, 'vigil.db')})`);
    traffic = startTraffic(service.url, { ratePerSecond: 20 });
    say(`sending user traffic (bookings and payments, 20 req/s); warming up ${WARMUP_MS / 1000}s`);
    await sleep(WARMUP_MS, options.signal);
    if (prometheus) {
      // The first deploy's baselines read the window before it: wait until Prometheus holds one.
      const window = `${DEMO_WATCH.windowS}s`;
      const p95 = `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="prep-api",route=~"/api/.*"}[${window}])))`;
      if (!(await waitForSeries(prometheus.url, p95, 30_000))) {
        say(`Prometheus holds no ${window} of traffic yet: the first baselines may be inconclusive`);
      }
    }

    const client = createDaemonClient({ server, token: apiToken, timeoutMs: 5_000 });
    try {
      say('── deploy 1: version "good" ──────────────────────────────────────');
      service.deploy('good');
      const goodDeploy = {
        version: 'good',
        previousVersion: 'v0',
        ...(outcome.ranLoad ? { phases: ['smoke', 'load', 'bake'] } : {}),
      };
      outcome.good = await follow(client, server, apiToken, goodDeploy, say, {
        timeoutMs: (DEMO_WATCH.goodDurationS + 30) * 1000,
        signal: options.signal,
      });
      if (outcome.good.status !== 'passed') {
        outcome.problems.push(`the good deploy ended ${outcome.good.status}, expected passed`);
      }

      say('── deploy 2: version "bad" (errors and slow answers) ─────────────');
      service.deploy('bad');
      outcome.bad = await follow(client, server, apiToken, { version: 'bad', previousVersion: 'good' }, say, {
        timeoutMs: BAD_DEADLINE_MS,
        signal: options.signal,
      });
      if (outcome.bad.status !== 'failed') {
        outcome.problems.push(`the bad deploy ended ${outcome.bad.status}, expected failed`);
      } else {
        reportFailure(outcome.bad, say);
        const badId = outcome.bad.id;
        const delivery = await sink.waitFor(
          (d) => d.event === 'rollback' && d.idempotencyKey.startsWith(badId),
          20_000,
        );
        outcome.rollbackSignatureValid = delivery.signatureValid;
        say(
          `rollback webhook arrived: delivery ${delivery.deliveryId}, Idempotency-Key ${delivery.idempotencyKey}, ` +
            `signature ${delivery.signatureValid ? 'valid ✔' : `INVALID (${delivery.signatureError})`}`,
        );
        if (!delivery.signatureValid) outcome.problems.push('the rollback webhook signature did not verify');
        const rollbacks = sink.deliveries.filter((d) => d.event === 'rollback').length;
        if (rollbacks !== 1) outcome.problems.push(`expected exactly one rollback webhook, got ${rollbacks}`);
      }
    } finally {
      await client.close();
    }
  } catch (error) {
    outcome.problems.push(errorMessage(error));
  } finally {
    await traffic?.stop().catch(() => {});
    await daemon?.stop(5_000).catch(() => {});
    await prometheus?.stop().catch(() => {});
    await sink?.close().catch(() => {});
    await service?.close().catch(() => {});
    if (outcome.problems.length === 0) rmSync(dir, { recursive: true, force: true });
  }
  outcome.ok = outcome.problems.length === 0;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (outcome.ok) {
    say(
      `demo finished in ${seconds}s: good deploy passed, bad deploy failed, signed rollback delivered once`,
    );
  } else {
    say(`demo FAILED after ${seconds}s:`);
    for (const problem of outcome.problems) say(`  ✘ ${problem}`);
    say(`daemon log kept at ${logFile}`);
  }
  return outcome;
}

type Say = (line: string) => void;

/** Starts a watch through the API (as CI would) and prints its timeline until it ends. */
async function follow(
  client: ReturnType<typeof createDaemonClient>,
  server: string,
  token: string,
  deploy: { version: string; previousVersion: string; phases?: string[] },
  say: Say,
  options: { timeoutMs: number; signal: AbortSignal },
): Promise<WatchView> {
  const created = await client.startWatch({ service: 'prep-api', ...deploy }, options.signal);
  say(`watch ${created.id} started for prep-api ${deploy.version} (duration ${created.duration})`);
  const deadline = Date.now() + options.timeoutMs;
  let shown = 0;
  let lastChecks = '';
  let saidAt = Date.now();
  for (;;) {
    await client.verdict(created.id, { waitMs: PROGRESS_EVERY_MS }, options.signal).catch(() => undefined);
    const watch = await getWatch(server, token, created.id, options.signal);
    for (const event of watch.timeline.slice(shown)) say(`  ${event.type.padEnd(10)} ${event.message}`);
    if (watch.timeline.length > shown) saidAt = Date.now();
    shown = watch.timeline.length;
    // A progress line when a result changes, and while nothing else is said, so a bake is never silent.
    const results = watch.checks.map((c) => `${c.name}=${c.result}`).join(' ');
    const quietMs = Date.now() - saidAt;
    if (watch.status === 'running' && (results !== lastChecks || quietMs >= PROGRESS_EVERY_MS)) {
      say(`  progress   ${progressLine(watch, Date.now())}`);
      saidAt = Date.now();
    }
    lastChecks = results;
    if (watch.status !== 'running') {
      say(`watch ${watch.id}: status ${watch.status}, verdict ${watch.verdict}`);
      return watch;
    }
    if (Date.now() > deadline)
      throw new Error(`watch ${created.id} for ${deploy.version} did not end in time`);
  }
}

async function getWatch(server: string, token: string, id: string, signal: AbortSignal): Promise<WatchView> {
  const res = await fetch(`${server}/api/v1/watches/${id}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)]),
  });
  if (!res.ok) throw new Error(`GET /api/v1/watches/${id} answered ${res.status}`);
  return (await res.json()) as WatchView;
}

/**
 * The bad deploy's failure: the verdict's reasons, then every other check failing when the watch ended
 * (a critical check trips the watch before the others reach their limit), then what each check was
 * judged against.
 */
function reportFailure(watch: WatchView, say: Say): void {
  say('reasons:');
  for (const reason of watch.reasons) say(`  • ${reason}`);
  const named = (check: string) => watch.reasons.some((r) => r.startsWith(`${check} `));
  const others = watch.checks.filter((c) => c.result === 'fail' && !named(c.name)).map((c) => c.name);
  const live = { failureLimit: DEMO_WATCH.failureLimit };
  for (const line of failingChecks(watch, live)) {
    if (others.some((name) => line.startsWith(`${name} `))) say(`  • ${line}`);
  }
  say('judged against:');
  for (const line of baselineLines(watch)) say(`  ${line}`);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
