import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { sloFileSchema, sourceSchema } from '../../src/config/schema.js';
import { evaluateChecks } from '../../src/evaluator/evaluate.js';
import { createPrometheusSource } from '../../src/sources/prometheus.js';
import type { SliSource } from '../../src/sources/types.js';
import { openStore } from '../../src/store/open.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { WatchManager } from '../../src/watch/manager.js';
import type { WatchAlert, WatchDeps, WatchSettings, WatchView } from '../../src/watch/types.js';
import {
  OpenMetricsWriter,
  type RunningPrometheus,
  skipWithoutPrometheus,
  startPrometheus,
  type TrafficShape,
  writeServiceTraffic,
} from '../helpers/prometheus.js';
import { driveWatch } from '../helpers/watch-clock.js';

/*
 * Whole 24-hour watches run by a virtual clock against a real Prometheus holding 26 hours of backfilled
 * traffic: a good deploy passes, a deploy that regresses 6 hours in fails within failureLimit
 * evaluations of the regression with its numbers, and a blind period (Prometheus unreachable) turns the
 * verdict inconclusive, recovers when it is back, and still ends the watch inconclusive with its span.
 */

const T0 = Date.UTC(2026, 10, 20, 0, 0, 0); // the deploy, ms
const HOUR = 3_600_000;
const INTERVAL = 30 * 60_000;
const LATENCY = { '0.1': 0.6, '0.25': 0.92, '0.5': 0.99, '1': 1 };
const healthy: TrafficShape = { requestsPerSecond: 10, errorRatio: 0.002, latency: LATENCY };
const regressed: TrafficShape = { requestsPerSecond: 10, errorRatio: 0.05, latency: LATENCY };
const REGRESSION_AT = T0 + 6 * HOUR;

const SLOS = sloFileSchema.parse([
  {
    name: 'error-rate',
    source: 'prometheus',
    query:
      'sum(rate(http_requests_total{job="{{service}}",code=~"5.."}[{{window}}])) / sum(rate(http_requests_total{job="{{service}}"}[{{window}}]))',
    objective: { lt: 0.01 },
  },
  {
    name: 'p95-latency',
    source: 'prometheus',
    query:
      'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="{{service}}"}[{{window}}])))',
    objective: { lt: 0.5 },
    baseline: { from: 'pre-deploy', maxIncrease: '20%' },
  },
  {
    name: 'throughput',
    source: 'prometheus',
    query: 'sum(rate(http_requests_total{job="{{service}}"}[{{window}}]))',
    baseline: { from: 'pre-deploy', maxDecrease: '10%' },
  },
]);

const SETTINGS: WatchSettings = {
  durationMs: 24 * HOUR,
  phases: ['bake'],
  evaluationIntervalMs: INTERVAL,
  smokeTimeoutMs: 60_000,
  failureLimit: 3,
  inconclusiveLimitMs: HOUR,
};

/** A loopback TCP front for Prometheus that can be switched off: refused connections, as a stopped server. */
async function startSwitchableProxy(
  targetUrl: string,
): Promise<{ url: string; down(): Promise<void>; up(): Promise<void> }> {
  const upstream = new Agent({ connections: 8 });
  let server: Server;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          request(`${targetUrl}${req.url}`, {
            method: req.method as 'GET' | 'POST',
            headers: { 'content-type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded' },
            body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
            dispatcher: upstream,
          }).then(
            async (answer) => {
              res.writeHead(answer.statusCode, {
                'content-type': String(answer.headers['content-type'] ?? ''),
              });
              res.end(Buffer.from(await answer.body.arrayBuffer()));
            },
            () => res.destroy(),
          );
        });
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  await listen();
  return {
    url: `http://127.0.0.1:${port}`,
    down: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    up: listen,
  };
}

describe.skipIf(skipWithoutPrometheus)(
  'a 24-hour watch against a real Prometheus, on a virtual clock',
  () => {
    let prometheus: RunningPrometheus;
    let proxy: Awaited<ReturnType<typeof startSwitchableProxy>>;
    const dispatcher = new Agent({ connections: 8 });

    beforeAll(async () => {
      const om = new OpenMetricsWriter();
      const from = (T0 - 2 * HOUR) / 1000;
      const to = (T0 + 24 * HOUR + 10 * 60_000) / 1000;
      writeServiceTraffic(om, { job: 'prep-good', from, to, stepSeconds: 30, shape: healthy });
      writeServiceTraffic(om, {
        job: 'prep-bad',
        from,
        to,
        stepSeconds: 30,
        shape: (t) => (t * 1000 < REGRESSION_AT ? healthy : regressed),
      });
      prometheus = await startPrometheus(om.toString());
      proxy = await startSwitchableProxy(prometheus.url);
    }, 120_000);

    afterAll(async () => {
      await proxy?.down().catch(() => {});
      await prometheus?.stop();
      await dispatcher.close();
    });

    /** Runs one watch of `service` from T0 to its end, one evaluation interval at a time. */
    async function runWatch(
      service: string,
      source: SliSource,
      during?: (elapsedMs: number, manager: WatchManager, id: string) => Promise<void>,
    ): Promise<{ watch: WatchView; alerts: { action: string; alert: WatchAlert }[]; evaluations: number }> {
      const clock = new ManualClock(T0);
      const store = await openStore({ path: ':memory:' });
      const alerts: { action: string; alert: WatchAlert }[] = [];
      let evaluations = 0;
      const deps: WatchDeps = {
        store,
        clock,
        logger: silentLogger(),
        metrics: createMetrics({ version: 'test', defaultMetrics: false }),
        runSmokeProbes: async () => [],
        evaluate: async (context, signal) => {
          const checks = await evaluateChecks(SLOS, {
            sources: { prometheus: source },
            at: context.at,
            deployedAt: context.deployedAt,
            windowMs: 5 * 60_000,
            vars: context.vars,
            signal,
            postDeployOnly: true,
          });
          evaluations++;
          return checks;
        },
        alerts: {
          fire: (alert) => alerts.push({ action: 'fire', alert }),
          resolve: (alert) => alerts.push({ action: 'resolve', alert }),
        },
      };
      const manager = new WatchManager(deps, SETTINGS);
      const created = await manager.create({ service, version: '2.0.0', previousVersion: '1.9.0' });
      if (!created.ok) throw new Error(JSON.stringify(created.problems));
      const id = created.watch.id;
      await driveWatch({
        clock,
        manager,
        id,
        intervalMs: INTERVAL,
        untilMs: 24 * HOUR + INTERVAL,
        evaluations: () => evaluations,
        during: async (elapsed) => during?.(elapsed, manager, id),
      });
      const watch = (await manager.get(id)) as WatchView;
      await manager.stop();
      await store.close();
      return { watch, alerts, evaluations };
    }

    it('a good deploy passes after 24 hours of evaluations with every check explained', async () => {
      const source = createPrometheusSource(sourceSchema.parse({ url: prometheus.url }), { dispatcher });
      const { watch, evaluations } = await runWatch('prep-good', source);
      expect(watch.status).toBe('passed');
      expect(watch.verdict).toBe('pass');
      expect(evaluations).toBeGreaterThanOrEqual(48);
      const byName = Object.fromEntries(watch.checks.map((c) => [c.name, c]));
      expect(byName['error-rate']).toMatchObject({ result: 'pass' });
      expect(byName['error-rate']?.value).toBeCloseTo(0.002, 4);
      expect(byName.throughput?.baseline).toBeCloseTo(10, 3);
    }, 120_000);

    it('a deploy that regresses at 6 h fails within failureLimit evaluations, reasons carrying the numbers', async () => {
      const source = createPrometheusSource(sourceSchema.parse({ url: prometheus.url }), { dispatcher });
      const { watch } = await runWatch('prep-bad', source);
      expect(watch.status).toBe('failed');
      const endedAt = Date.parse(watch.endedAt as string);
      // The regression is visible from the first evaluation after 6 h; three consecutive failures end it.
      expect(endedAt).toBeGreaterThan(REGRESSION_AT);
      expect(endedAt).toBeLessThanOrEqual(REGRESSION_AT + 3 * INTERVAL);
      // Evaluations 30 minutes apart over 5m windows never overlap: each is independent evidence.
      expect(watch.reasons.join('\n')).toMatch(
        /error-rate 0\.05\d* ≥ objective 0\.01 over 3 independent 5m windows \(15m of data\)/,
      );
    }, 120_000);

    it('a blind period turns the verdict inconclusive (VigilBlind) and it recovers when Prometheus is back', async () => {
      const source = createPrometheusSource(sourceSchema.parse({ url: proxy.url }), {
        dispatcher,
        resilience: { retries: 0, halfOpenAfterMs: 10 },
      });
      const verdicts: string[] = [];
      const { watch, alerts } = await runWatch('prep-good', source, async (elapsed, manager, id) => {
        if (elapsed === 2 * HOUR) await proxy.down();
        if (elapsed === 5 * HOUR) await proxy.up();
        verdicts.push(`${elapsed / HOUR}h:${(await manager.get(id))?.verdict}`);
      });
      expect(verdicts).toContain('4.5h:inconclusive');
      // Data is back and checks pass again, but the hours it could not see are not forgotten.
      expect(verdicts).toContain('12h:warn');
      expect(alerts.some((a) => a.action === 'fire' && a.alert.alertname === 'VigilBlind')).toBe(true);
      expect(alerts.some((a) => a.action === 'resolve' && a.alert.alertname === 'VigilBlind')).toBe(true);
      // DESIGN §6: a watch that was blind at any time ends inconclusive, never a clean pass.
      expect(watch.status).toBe('inconclusive');
      expect(watch.blindSpans).toHaveLength(1);
      // From the first evaluation that got no answer to the first that got one again.
      const back = watch.timeline.find(
        (e) =>
          e.type === 'evaluation' &&
          e.check === 'error-rate' &&
          e.result === 'pass' &&
          e.at > watch.blindSpans[0]!.from,
      );
      expect(watch.blindSpans[0]).toMatchObject({
        from: new Date(T0 + 2 * HOUR).toISOString(),
        to: back?.at,
      });
      expect(Date.parse(back?.at as string)).toBeGreaterThanOrEqual(T0 + 5 * HOUR);
      expect(watch.blindSpans[0]?.checks).toEqual(['error-rate', 'p95-latency', 'throughput']);
      expect(watch.reasons[0]).toMatch(
        /^blind for \d+h(\d+m)? \(02:00–0\d:\d\dZ\): error-rate: prometheus unavailable/,
      );
    }, 120_000);
  },
);
