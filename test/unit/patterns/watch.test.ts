import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { serviceNamed } from '../../../src/config/fleet.js';
import { loadConfig } from '../../../src/config/load.js';
import { type ServiceConfig, sourceSchema } from '../../../src/config/schema.js';
import { watchSettings } from '../../../src/daemon/settings.js';
import { evaluateChecks } from '../../../src/evaluator/evaluate.js';
import { createPatternStore } from '../../../src/patterns/store.js';
import { createLokiSource } from '../../../src/sources/loki.js';
import { createLokiLogReader } from '../../../src/sources/loki-logs.js';
import { openStore } from '../../../src/store/open.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { WatchManager } from '../../../src/watch/manager.js';
import type { WatchDeps, WatchView } from '../../../src/watch/types.js';
import {
  keyErrorLine,
  recordedEntries,
  type StandInEntry,
  spreadLines,
  startLokiStandIn,
} from '../../helpers/loki-logs.js';
import { driveWatch } from '../../helpers/watch-clock.js';

/*
 * Issue 19 end to end: the shipped new-error-signatures check (slo/prep.yaml) in a one-hour watch on a
 * virtual clock, against the Loki stand-in. The previous version logs its usual errors, six a minute; a
 * deploy that adds a KeyError at two lines a minute — a rate far below the 1 % error-rate objective of a
 * service serving hundreds of requests a minute — fails with the new signature in the reason; a deploy
 * logging only the known errors at the old rate passes.
 */

const MIN = 60_000;
const HOUR = 3_600_000;
const DEPLOYED = Date.parse('2026-11-28T09:00:00Z');
const KNOWN = recordedEntries().filter((e) => e.labels.app === 'prep-api' && e.labels.level === 'error');
const BEFORE = spreadLines(DEPLOYED - HOUR, DEPLOYED, 6, KNOWN);
const dispatcher = new Agent({ keepAliveTimeout: 10 });
let config: ServiceConfig;

beforeAll(async () => {
  const api = serviceNamed(await loadConfig('vigil.yaml', {}), 'prep-api');
  if (!api) throw new Error('the shipped config has no prep-api');
  config = api;
});
afterAll(() => dispatcher.close());

async function watchDeploy(after: StandInEntry[]) {
  const loki = await startLokiStandIn([...BEFORE, ...after]);
  const clock = new ManualClock(DEPLOYED);
  const store = await openStore({ path: ':memory:' });
  const slos = config.slos.filter((slo) => slo.name === 'new-error-signatures');
  const lokiConfig = sourceSchema.parse({ url: loki.url });
  const sourceDeps = { dispatcher, resilience: { retries: 0 } };
  const patterns = { logs: createLokiLogReader(lokiConfig, sourceDeps), store: createPatternStore(store) };
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
        sources: { loki: createLokiSource(lokiConfig, sourceDeps) },
        at: context.at,
        deployedAt: context.deployedAt,
        windowMs: config.root.watch.window,
        postDeployOnly: true,
        vars: context.vars,
        watchId: context.watchId,
        signal,
        patterns,
      });
      evaluations++;
      return checks;
    },
    onFailed: async (_tx, watch) => {
      rollbacks.push(watch.reasons.join('; '));
      return 1;
    },
  };
  const settings = { ...watchSettings(config), durationMs: HOUR, phases: ['bake' as const] };
  const manager = new WatchManager(deps, settings);
  const created = await manager.create({ service: 'prep-api', version: '1.4.2', previousVersion: '1.4.1' });
  if (!created.ok) throw new Error(JSON.stringify(created.problems));
  const id = created.watch.id;
  try {
    await driveWatch({
      clock,
      manager,
      id,
      intervalMs: settings.evaluationIntervalMs,
      untilMs: HOUR,
      evaluations: () => evaluations,
    });
    return {
      watch: (await manager.get(id)) as WatchView,
      rollbacks,
      observed: await patterns.store.observations(id),
      requests: loki.requests,
    };
  } finally {
    await manager.stop();
    await store.close();
    await loki.close();
  }
}

describe('a watch with the shipped new-error-signatures check', () => {
  it('a deploy adding a rare new error fails, with the new signature in the reason', async () => {
    const after = [
      ...spreadLines(DEPLOYED, DEPLOYED + HOUR, 6, KNOWN),
      ...spreadLines(DEPLOYED + 10 * MIN, DEPLOYED + HOUR, 2, [keyErrorLine('currency')]),
    ];
    const { watch, rollbacks, observed } = await watchDeploy(after);
    expect(watch.status).toBe('failed');
    expect(rollbacks).toHaveLength(1);
    expect(watch.reasons.join('; ')).toContain('"KeyError: <STR>"');
    // Three failing evaluations on independent 5-minute windows after the error appeared: 25 minutes in at most.
    expect(Date.parse(watch.endedAt as string) - DEPLOYED).toBeLessThanOrEqual(26 * MIN);
    expect(observed.filter((o) => o.status === 'new').map((o) => o.template)).toEqual(['KeyError: <STR>']);
  }, 60_000);

  it('a deploy logging only the known errors at the old rate passes, reading the baseline once', async () => {
    const { watch, rollbacks, requests } = await watchDeploy(
      spreadLines(DEPLOYED, DEPLOYED + HOUR, 6, KNOWN),
    );
    expect(rollbacks).toEqual([]);
    expect(watch.status).toBe('passed');
    const baselineReads = requests.filter(
      (p) => BigInt(p.get('end') ?? '0') <= BigInt(DEPLOYED) * 1_000_000n,
    );
    expect(baselineReads).toHaveLength(1);
  }, 60_000);
});
