import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { serviceNamed } from '../../src/config/fleet.js';
import { loadConfig } from '../../src/config/load.js';
import { type ServiceConfig, type SloConfig, sloSchema, type VigilConfig } from '../../src/config/schema.js';
import { watchSettings } from '../../src/daemon/settings.js';
import { evaluateChecks } from '../../src/evaluator/evaluate.js';
import { createProbeRollups } from '../../src/prober/rollups.js';
import { createProbeSource } from '../../src/sources/probes.js';
import { createPrometheusSource } from '../../src/sources/prometheus.js';
import { openStore } from '../../src/store/open.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { WatchManager } from '../../src/watch/manager.js';
import { type WatchRecords, watchRecords } from '../../src/watch/records.js';
import type { WatchDeps, WatchRecord, WatchView } from '../../src/watch/types.js';
import { emptyState } from '../../src/watch/verdict.js';
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
 * Issue 12's "done when", on the shipped definitions (vigil.yaml, slo/prep.yaml) against a real
 * Prometheus with backfilled prep-api traffic and a virtual clock. Four deploys, three hours apart:
 * a good deploy with one failed health probe among hundreds, a hotfix deployed during a 20 % error
 * incident, a sustained 5 % error rate, and a sustained P95 regression. The first two must finish
 * without a rollback; the last two must still fail, and fast.
 */

const MINUTE = 60_000;
const HOUR = 3_600_000;
const BASE = Date.UTC(2026, 10, 20, 0, 0, 0);
const DEPLOY = {
  blip: BASE,
  hotfix: BASE + 3 * HOUR,
  errors: BASE + 6 * HOUR,
  latency: BASE + 9 * HOUR,
  afterRollback: BASE + 12 * HOUR,
};
const REGRESSION_AFTER = 20 * MINUTE;
const WATCH_MS = HOUR;

const FAST = { '0.1': 0.6, '0.25': 0.92, '0.5': 0.99, '1': 1 };
const SLOW = { '0.1': 0.05, '0.25': 0.2, '0.5': 0.6, '1': 0.98 };
const healthy: TrafficShape = { requestsPerSecond: 10, errorRatio: 0.002, latency: FAST };

/** prep-api's traffic at `t` (seconds): healthy, but for each scenario's incident or regression. */
function shapeAt(tSeconds: number): TrafficShape {
  const t = tSeconds * 1000;
  if (t >= DEPLOY.hotfix - HOUR && t < DEPLOY.hotfix) return { ...healthy, errorRatio: 0.2 };
  if (t >= DEPLOY.hotfix && t < DEPLOY.hotfix + 2 * HOUR) return { ...healthy, errorRatio: 0 };
  if (t >= DEPLOY.errors + REGRESSION_AFTER && t < DEPLOY.errors + 2 * HOUR)
    return { ...healthy, errorRatio: 0.05 };
  if (t >= DEPLOY.latency + REGRESSION_AFTER && t < DEPLOY.latency + 2 * HOUR)
    return { ...healthy, latency: SLOW };
  return healthy;
}

const JUDGED = ['error-rate', 'p95-latency', 'throughput', 'health-availability'];

describe.skipIf(skipWithoutPrometheus)(
  'trustworthy verdicts on the shipped config, against a real Prometheus',
  () => {
    let prometheus: RunningPrometheus;
    let config: ServiceConfig;
    const dispatcher = new Agent({ connections: 8 });

    beforeAll(async () => {
      const om = new OpenMetricsWriter();
      writeServiceTraffic(om, {
        job: 'prep-api',
        from: (BASE - 2 * HOUR) / 1000,
        to: (DEPLOY.latency + 2 * HOUR) / 1000,
        stepSeconds: 15,
        shape: shapeAt,
      });
      // A service whose series carry the version: 1.4.1 served until the deploy of 1.4.3; 1.4.2 was
      // rolled back and served nothing in the window before it.
      const versioned = (version: string, from: number, to: number) =>
        om.counter(
          'http_requests_total',
          { job: 'prep-api-versioned', code: '200', version },
          { from: from / 1000, to: to / 1000, stepSeconds: 15, ratePerSecond: 10 },
        );
      versioned('1.4.1', DEPLOY.afterRollback - 2 * HOUR, DEPLOY.afterRollback);
      versioned('1.4.3', DEPLOY.afterRollback, DEPLOY.afterRollback + 2 * HOUR);
      prometheus = await startPrometheus(om.toString());
      config = prepApi(await loadConfig('vigil.yaml', { VIGIL_PROMETHEUS_URL: prometheus.url }));
    }, 180_000);

    afterAll(async () => {
      await prometheus?.stop();
      await dispatcher.close();
    });

    /** One watch of prep-api from `deployedAt`, every shipped setting but a 1-hour duration and no smoke/load. */
    async function watchDeploy(
      deployedAt: number,
      failedProbeAt?: number,
      options: {
        slos?: SloConfig[];
        version?: string;
        history?: (store: WatchRecords) => Promise<void>;
      } = {},
    ) {
      const clock = new ManualClock(deployedAt);
      const store = await openStore({ path: ':memory:' });
      await options.history?.(watchRecords(store.watches));
      const rollups = createProbeRollups(store);
      // The health probe every 15 s (its shipped interval), from an hour before the deploy.
      for (let at = deployedAt - HOUR; at < deployedAt + WATCH_MS + 2 * MINUTE; at += 15_000) {
        await rollups.record('health', at, at !== failedProbeAt, 12);
      }
      const slos = options.slos ?? config.slos.filter((slo) => JUDGED.includes(slo.name));
      const prometheusSource = createPrometheusSource(prometheusConfig(config), { dispatcher });
      const probes = createProbeSource({ rollups, defaultWindowMs: config.root.watch.window });
      const rollbacks: string[] = [];
      let evaluations = 0;
      const deps: WatchDeps = {
        store,
        clock,
        logger: silentLogger(),
        metrics: createMetrics({ version: 'test', defaultMetrics: false }),
        runSmokeProbes: async () => [],
        bakeChecks: () => slos.map((slo) => slo.name),
        evaluate: async (context, signal) => {
          const checks = await evaluateChecks(slos, {
            sources: { prometheus: prometheusSource, probes },
            at: context.at,
            deployedAt: context.deployedAt,
            windowMs: config.root.watch.window,
            vars: context.vars,
            signal,
            postDeployOnly: true,
          });
          evaluations++;
          return checks;
        },
        onFailed: async (_tx, watch) => {
          rollbacks.push(watch.reasons.join('; '));
          return 1;
        },
      };
      const settings = {
        ...watchSettings(config),
        durationMs: WATCH_MS,
        phases: ['bake' as const],
      };
      const manager = new WatchManager(deps, settings);
      const created = await manager.create({
        service: 'prep-api',
        version: options.version ?? '2.0.0',
        // With a history the default previous version is under test; without, a fixed one.
        ...(options.history ? {} : { previousVersion: '1.9.0' }),
      });
      if (!created.ok) throw new Error(JSON.stringify(created.problems));
      const id = created.watch.id;
      await driveWatch({
        clock,
        manager,
        id,
        intervalMs: settings.evaluationIntervalMs,
        untilMs: WATCH_MS,
        evaluations: () => evaluations,
      });
      const watch = (await manager.get(id)) as WatchView;
      await manager.stop();
      await store.close();
      return { watch, rollbacks };
    }

    const results = (watch: WatchView, check: string) =>
      watch.timeline.filter((e) => e.type === 'evaluation' && e.check === check).map((e) => e.result);

    it('a good deploy with one failed health probe among hundreds finishes without a rollback', async () => {
      const { watch, rollbacks } = await watchDeploy(DEPLOY.blip, DEPLOY.blip + 20 * MINUTE);
      // The blip was seen: the 5m availability window holding it failed, as one piece of evidence.
      expect(results(watch, 'health-availability')).toContain('fail');
      expect(rollbacks).toEqual([]);
      expect(watch.status).toBe('passed');
    }, 120_000);

    it('a hotfix deployed during a 20 % error incident is judged on its own traffic, not rolled back', async () => {
      const { watch, rollbacks } = await watchDeploy(DEPLOY.hotfix);
      expect(results(watch, 'error-rate')).not.toContain('fail');
      expect(rollbacks).toEqual([]);
      expect(watch.status).toBe('passed');
      const errorRate = watch.checks.find((c) => c.name === 'error-rate');
      expect(errorRate?.value).toBe(0);
    }, 120_000);

    it('a sustained 5 % error rate still fails within one window of its start (critical)', async () => {
      const { watch, rollbacks } = await watchDeploy(DEPLOY.errors);
      expect(watch.status).toBe('failed');
      expect(rollbacks).toHaveLength(1);
      const regressionAt = DEPLOY.errors + REGRESSION_AFTER;
      const endedAt = Date.parse(watch.endedAt as string);
      expect(endedAt).toBeGreaterThan(regressionAt);
      expect(endedAt - regressionAt).toBeLessThanOrEqual(
        config.root.watch.window + config.root.watch.evaluationInterval,
      );
      expect(watch.reasons[0]).toMatch(/^error-rate 0\.0\d+ ≥ objective 0\.01 over 1 5m window$/);
    }, 120_000);

    it('a sustained P95 regression fails within failureLimit independent windows', async () => {
      const { watch, rollbacks } = await watchDeploy(DEPLOY.latency);
      expect(watch.status).toBe('failed');
      expect(rollbacks).toHaveLength(1);
      const regressionAt = DEPLOY.latency + REGRESSION_AFTER;
      const endedAt = Date.parse(watch.endedAt as string);
      const { failureLimit, window, evaluationInterval } = config.root.watch;
      expect(endedAt - regressionAt).toBeLessThanOrEqual(failureLimit * window + evaluationInterval);
      expect(watch.reasons.join('\n')).toMatch(
        /p95-latency .* over 3 independent 5m windows \(15m of data\)/,
      );
    }, 120_000);

    it('after a failed, rolled-back 1.4.2 the next deploy is compared with 1.4.1, the last version that passed', async () => {
      const byVersion = sloSchema.parse({
        name: 'throughput-by-version',
        source: 'prometheus',
        query: 'sum(rate(http_requests_total{job="prep-api-versioned",version="{{version}}"}[{{window}}]))',
        baseline: { from: 'pre-deploy', maxDecrease: '10%' },
      });
      const past = (
        id: string,
        version: string,
        status: WatchRecord['status'],
        startedAt: number,
      ): WatchRecord => ({
        id,
        service: 'prep-api',
        version,
        previousVersion: null,
        status,
        verdict: status === 'passed' ? 'pass' : 'fail',
        phase: 'bake',
        startedAt,
        updatedAt: startedAt + HOUR,
        endedAt: startedAt + HOUR,
        durationMs: HOUR,
        phases: [],
        reasons: [],
        state: emptyState(),
        supersededBy: null,
      });
      const { watch, rollbacks } = await watchDeploy(DEPLOY.afterRollback, undefined, {
        slos: [byVersion],
        version: '1.4.3',
        history: async (store) => {
          await store.insert(past('w_0141', '1.4.1', 'passed', DEPLOY.afterRollback - 2 * 24 * HOUR));
          await store.insert(past('w_0142', '1.4.2', 'failed', DEPLOY.afterRollback - 3 * HOUR));
        },
      });
      // With 1.4.2 as the baseline the pre-deploy window holds none of its traffic: blind all watch long.
      expect(watch.previousVersion).toBe('1.4.1');
      expect(rollbacks).toEqual([]);
      expect(watch.status).toBe('passed');
      const check = watch.checks.find((c) => c.name === 'throughput-by-version');
      expect(check?.result).toBe('pass');
      expect(check?.baseline).toBeCloseTo(10, 1);
    }, 120_000);
  },
);

function prometheusConfig(config: VigilConfig): NonNullable<VigilConfig['root']['sources']['prometheus']> {
  const source = config.root.sources.prometheus;
  if (!source) throw new Error('the shipped vigil.yaml configures Prometheus');
  return source;
}

/** prep-api of the shipped fleet. */
function prepApi(config: VigilConfig): ServiceConfig {
  const api = serviceNamed(config, 'prep-api');
  if (!api) throw new Error('the shipped config has no prep-api');
  return api;
}
