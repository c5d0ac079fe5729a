import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../../src/store/open.js';
import type { Store } from '../../../src/store/port.js';
import { waitOutcome } from '../../../src/watch/outcome.js';
import {
  advance,
  check,
  createHarness,
  type Harness,
  HOUR,
  MINUTE,
  probeResult,
  storedEvaluations,
  T0,
} from './harness.js';

let current: Harness | undefined;
afterEach(async () => {
  await current?.manager.stop();
  await current?.close();
  current = undefined;
});

async function start(options: Parameters<typeof createHarness>[0] = {}): Promise<Harness> {
  current = await createHarness(options);
  return current;
}

describe('a whole 24-hour watch under a virtual clock', () => {
  it('a good deploy passes after the full duration with every evaluation stored', async () => {
    const h = await start();
    const created = await h.manager.create({
      service: 'prep-api',
      version: '1.4.2',
      previousVersion: '1.4.1',
    });
    expect(created.ok).toBe(true);
    if (!created.ok) return;
    const id = created.watch.id;
    expect(id).toMatch(/^w_[0-9A-HJKMNP-TV-Z]{26}$/);
    await advance(h.clock, 23 * HOUR);
    expect(await h.manager.verdict(id)).toMatchObject({ status: 'running', phase: 'bake', verdict: 'pass' });
    await advance(h.clock, HOUR);
    const watch = await h.manager.get(id);
    expect(watch).toMatchObject({ status: 'passed', verdict: 'pass', duration: '1d', reasons: [] });
    expect(watch?.endedAt).toBe(new Date(T0 + 24 * HOUR).toISOString());
    expect(storedEvaluations(id)).toHaveLength(24 * 60);
    expect(watch?.phases.map((p) => [p.name, p.state])).toEqual([
      ['smoke', 'passed'],
      ['load', 'skipped'],
      ['bake', 'passed'],
    ]);
    expect(watch?.phases[1]?.reason).toBe('no loadProfile configured');
    expect(watch?.checks.map((c) => [c.name, c.result])).toEqual([
      ['smoke:health', 'pass'],
      ['error-rate', 'pass'],
    ]);
    expect(h.failed).toHaveLength(0);
    expect(h.events).toEqual(['watch.started', 'watch.phase', 'watch.phase', 'watch.passed']);
    const text = await h.metrics.registry.metrics();
    expect(text).toContain('vigil_watches_total{service="prep-api",result="passed"} 1');
    expect(text).toContain('vigil_watch_verdict{service="prep-api",version="1.4.2",verdict="pass"} 1');
    expect(text).toContain('vigil_watch_verdict{service="prep-api",version="1.4.2",verdict="pending"} 0');
  });

  it('a bad deploy fails within failureLimit evaluations of the regression, naming the check and its numbers', async () => {
    const h = await start({
      evaluate: (minute) => [
        minute >= 100 ? check('error-rate', 'fail', 0.034) : check('error-rate', 'pass', 0.002),
        check('p95-latency', 'pass', 0.21, { objective: { lt: 0.5 } }),
      ],
    });
    const created = await h.manager.create({ service: 'prep-api', version: '1.4.2' });
    if (!created.ok) throw new Error('not created');
    await advance(h.clock, 24 * HOUR);
    const verdict = await h.manager.verdict(created.watch.id);
    expect(verdict).toMatchObject({ status: 'failed', verdict: 'fail' });
    expect(verdict?.endedAt).toBe(new Date(T0 + 102 * MINUTE).toISOString());
    expect(verdict?.reasons[0]).toBe('error-rate 0.034 ≥ objective 0.01 for 3 consecutive evaluations');
    expect(verdict?.checks.find((c) => c.name === 'error-rate')).toMatchObject({
      consecutiveFailures: 3,
      value: 0.034,
    });
    expect(storedEvaluations(created.watch.id).at(-1)).toBe(102);
    expect(h.failed).toHaveLength(1);
    expect(h.failed[0]).toMatchObject({ inTransaction: true, watch: { status: 'failed', verdict: 'fail' } });
    expect(h.alerts.map((a) => `${a.action} ${a.alert.alertname}`)).toEqual(['fire VigilWatchFailed']);
    expect(h.events.at(-1)).toBe('watch.failed');
    const timeline = (await h.manager.get(created.watch.id))?.timeline ?? [];
    expect(timeline.filter((e) => e.type === 'action').map((e) => e.message)).toEqual([
      'rollback webhook enqueued for 1 target',
    ]);
  });

  it('a critical check fails the watch on its first failing evaluation', async () => {
    const h = await start({
      evaluate: (minute) => [
        check('error-rate', minute >= 30 ? 'fail' : 'pass', minute >= 30 ? 0.2 : 0.001, { critical: true }),
      ],
    });
    const created = await h.manager.create({ service: 'prep-api', version: '2' });
    if (!created.ok) throw new Error('not created');
    await advance(h.clock, 2 * HOUR);
    expect((await h.manager.verdict(created.watch.id))?.endedAt).toBe(
      new Date(T0 + 30 * MINUTE).toISOString(),
    );
  });

  it('evaluations inside initialDelay are recorded but not counted', async () => {
    const h = await start({
      settings: { phases: ['bake'], initialDelayMs: 10 * MINUTE },
      evaluate: () => [check('error-rate', 'fail', 0.3, { critical: true })],
    });
    const created = await h.manager.create({ service: 'prep-api', version: '2' });
    if (!created.ok) throw new Error('not created');
    await advance(h.clock, 5 * MINUTE, MINUTE);
    expect(await h.manager.verdict(created.watch.id)).toMatchObject({
      status: 'running',
      verdict: 'pending',
    });
    expect(storedEvaluations(created.watch.id)).toEqual([0, 1, 2, 3, 4, 5]);
    await advance(h.clock, HOUR, MINUTE);
    expect((await h.manager.verdict(created.watch.id))?.endedAt).toBe(
      new Date(T0 + 10 * MINUTE).toISOString(),
    );
  });

  it('a phase that throws is retried and said in the timeline, not left running unattended', async () => {
    const h = await start({ settings: { phases: ['smoke', 'bake'] } });
    let calls = 0;
    h.deps.runSmokeProbes = async () => {
      calls++;
      if (calls === 1) throw new Error('probe engine not ready');
      return [probeResult('health', true)];
    };
    const created = await h.manager.create({ service: 'prep-api', version: '2' });
    if (!created.ok) throw new Error('not created');
    await advance(h.clock, 2 * MINUTE, 10_000);
    const watch = await h.manager.get(created.watch.id);
    expect(watch).toMatchObject({ status: 'running', phase: 'bake' });
    expect(watch?.timeline.map((e) => e.message)).toContain(
      'internal error in the smoke phase: probe engine not ready; retrying',
    );
  });

  it('a store read that fails does not stop the loop: it retries and the watch goes on', async () => {
    const store = await openStore({ path: ':memory:' });
    let failing = 0;
    const watches = new Proxy(store.watches, {
      get: (target, property) =>
        property === 'get'
          ? async (id: string) => {
              if (failing > 0) {
                failing--;
                throw new Error('SQLITE_BUSY: database is locked');
              }
              return target.get(id);
            }
          : Reflect.get(target, property).bind(target),
    });
    const flaky = new Proxy(store, {
      get: (target, property) =>
        property === 'watches'
          ? watches
          : (Reflect.get(target, property).bind?.(target) ?? Reflect.get(target, property)),
    }) as Store;
    const h = await start({ store: flaky, settings: { phases: ['bake'], durationMs: HOUR } });
    try {
      const created = await h.manager.create({ service: 'prep-api', version: '2' });
      if (!created.ok) throw new Error('not created');
      await advance(h.clock, 10 * MINUTE, MINUTE);
      failing = 2;
      await advance(h.clock, HOUR, MINUTE);
      expect(failing).toBe(0);
      expect(await h.manager.verdict(created.watch.id)).toMatchObject({ status: 'passed' });
    } finally {
      await h.manager.stop();
      await store.close();
    }
  });

  it('without actions a failure is recorded with "no actions configured"', async () => {
    const h = await start({
      withActions: false,
      evaluate: () => [check('error-rate', 'fail', 0.5, { critical: true })],
    });
    const created = await h.manager.create({ service: 'prep-api', version: '2' });
    if (!created.ok) throw new Error('not created');
    await advance(h.clock, HOUR);
    const timeline = (await h.manager.get(created.watch.id))?.timeline ?? [];
    expect(timeline.map((e) => e.message)).toContain('watch failed; no actions configured');
  });

  it('with actions but no rollback target, the timeline says nothing rolls back on its own', async () => {
    const h = await start({ evaluate: () => [check('error-rate', 'fail', 0.5, { critical: true })] });
    h.deps.onFailed = async () => 0;
    const created = await h.manager.create({ service: 'prep-api', version: '2' });
    if (!created.ok) throw new Error('not created');
    await advance(h.clock, HOUR);
    const timeline = (await h.manager.get(created.watch.id))?.timeline ?? [];
    expect(timeline.map((e) => e.message)).toContain(
      'watch failed; no rollback target configured (actions.rollback), nothing rolls back on its own',
    );
  });

  it('a blind period turns the verdict inconclusive, alerts, recovers when data returns, and is never forgotten', async () => {
    const blindFrom = 60;
    const blindTo = 90;
    const h = await start({
      evaluate: (minute) => [
        minute >= blindFrom && minute < blindTo
          ? check('error-rate', 'inconclusive', null)
          : check('error-rate', 'pass', 0.002),
      ],
    });
    const created = await h.manager.create({ service: 'prep-api', version: '3' });
    if (!created.ok) throw new Error('not created');
    const id = created.watch.id;
    await advance(h.clock, 74 * MINUTE, MINUTE);
    expect((await h.manager.verdict(id))?.verdict).toBe('warn');
    expect(h.alerts).toEqual([]);
    await advance(h.clock, MINUTE, MINUTE);
    const blind = await h.manager.verdict(id);
    expect(blind).toMatchObject({ status: 'running', verdict: 'inconclusive' });
    expect(blind?.reasons[0]).toMatch(/^error-rate inconclusive for 15m \(limit 15m\): no data/);
    expect(h.alerts.map((a) => `${a.action} ${a.alert.alertname}`)).toEqual(['fire VigilBlind']);
    await advance(h.clock, 2 * HOUR, MINUTE);
    // Data is back: the watch goes on, warning about the span it could not see.
    expect(await h.manager.verdict(id)).toMatchObject({ status: 'running', verdict: 'warn' });
    expect((await h.manager.verdict(id))?.reasons).toEqual([
      'was blind for 30m (11:00–11:30Z): error-rate: no data: the query returned an empty result',
    ]);
    await advance(h.clock, 24 * HOUR);
    // DESIGN §6: a watch that was blind at any time never ends in a clean pass.
    expect(await h.manager.verdict(id)).toMatchObject({ status: 'inconclusive', verdict: 'inconclusive' });
    expect(h.alerts.map((a) => `${a.action} ${a.alert.alertname}`)).toEqual([
      'fire VigilBlind',
      'resolve VigilBlind',
    ]);
    const types = (await h.manager.get(id))?.timeline.filter((e) => e.type === 'blind').map((e) => e.message);
    expect(types).toHaveLength(2);
    expect(types?.[1]).toBe(
      'no longer blind: checks have data again after blind for 30m (11:00–11:30Z): error-rate: no data: the query returned an empty result',
    );
  });

  it('a watch still blind when its duration ends is inconclusive', async () => {
    const h = await start({
      settings: { durationMs: 2 * HOUR },
      evaluate: (minute) => [
        minute < 60 ? check('error-rate', 'pass', 0.002) : check('error-rate', 'inconclusive', null),
      ],
    });
    const created = await h.manager.create({ service: 'prep-api', version: '4' });
    if (!created.ok) throw new Error('not created');
    await advance(h.clock, 3 * HOUR);
    const verdict = await h.manager.verdict(created.watch.id);
    expect(verdict).toMatchObject({ status: 'inconclusive', verdict: 'inconclusive' });
    if (verdict) expect(waitOutcome(verdict, 'complete').code).toBe(2);
    expect(h.events.at(-1)).toBe('watch.inconclusive');
  });
});

describe('smoke and load phases', () => {
  it('a smoke probe still failing at smokeTimeout fails the watch at once, after retries at its interval', async () => {
    const h = await start({ smoke: () => [probeResult('health', false), probeResult('ready', true)] });
    const created = await h.manager.create({ service: 'prep-api', version: '5' });
    if (!created.ok) throw new Error('not created');
    await advance(h.clock, HOUR, MINUTE);
    const verdict = await h.manager.verdict(created.watch.id);
    expect(verdict).toMatchObject({ status: 'failed', verdict: 'fail', phase: 'smoke' });
    expect(verdict?.reasons[0]).toContain('smoke:health');
    expect(verdict?.reasons[0]).toContain('503');
    expect(h.smokeRuns).toBeGreaterThanOrEqual(19);
    expect(h.smokeRuns).toBeLessThanOrEqual(21);
    expect(h.evaluations).toHaveLength(0);
    expect(h.failed).toHaveLength(1);
    if (verdict) expect(waitOutcome(verdict, 'smoke').code).toBe(1);
  });

  it('a smoke probe that passes on a retry lets the watch go on; only the failing probe is retried', async () => {
    const asked: (readonly string[] | undefined)[] = [];
    const h = await start({ settings: { phases: ['smoke', 'bake'] } });
    h.deps.runSmokeProbes = async (_signal, only) => {
      asked.push(only);
      return asked.length < 3
        ? [probeResult('health', false), probeResult('ready', true)].filter(
            (r) => !only || only.includes(r.probe),
          )
        : [probeResult('health', true)];
    };
    const created = await h.manager.create({ service: 'prep-api', version: '6' });
    if (!created.ok) throw new Error('not created');
    await advance(h.clock, 2 * MINUTE, 5_000);
    expect(asked).toEqual([undefined, ['health'], ['health']]);
    const verdict = await h.manager.verdict(created.watch.id);
    expect(verdict).toMatchObject({ status: 'running', phase: 'bake' });
    if (verdict) expect(waitOutcome(verdict, 'smoke').code).toBe(0);
  });

  it('a load phase with k6 missing is inconclusive, never passed', async () => {
    const h = await start({
      settings: { loadProfile: 'smoke' },
      runLoad: async () =>
        check('load:smoke', 'inconclusive', null, { kind: 'load', explanation: 'k6 not found on PATH' }),
    });
    const created = await h.manager.create({ service: 'prep-api', version: '7' });
    if (!created.ok) throw new Error('not created');
    await advance(h.clock, MINUTE, 5_000);
    const watch = await h.manager.get(created.watch.id);
    expect(watch?.phases.find((p) => p.name === 'load')).toMatchObject({
      state: 'inconclusive',
      reason: 'k6 not found on PATH',
    });
    if (watch) expect(waitOutcome(watch, 'load').code).toBe(2);
  });

  it('live load progress reaches the timeline and the verdict while the load phase runs', async () => {
    let seen: string | undefined;
    const h = await start({
      settings: { loadProfile: 'smoke' },
      runLoad: async (id, signal, onProgress) => {
        onProgress('k6 smoke: 5s, 2 VUs, 40 requests, failed 0.00 %, p95 31 ms');
        // The progress is stored in its own transaction, not awaited by k6: read it a moment later.
        await h.clock.sleep(5_000, signal);
        seen = (await h.manager.verdict(id))?.progress;
        await h.clock.sleep(25_000, signal);
        return check('load:smoke', 'pass', 0.031, { kind: 'load' });
      },
    });
    const created = await h.manager.create({ service: 'prep-api', version: '9' });
    if (!created.ok) throw new Error('not created');
    await advance(h.clock, MINUTE, 5_000);
    expect(seen).toBe('k6 smoke: 5s, 2 VUs, 40 requests, failed 0.00 %, p95 31 ms');
    const watch = await h.manager.get(created.watch.id);
    expect(watch?.progress).toBeUndefined();
    expect(watch?.timeline.filter((e) => e.type === 'progress')).toHaveLength(1);
    expect(watch?.phases.find((p) => p.name === 'load')?.state).toBe('passed');
  });

  it('a failing load run fails the watch at once', async () => {
    const h = await start({
      settings: { loadProfile: 'smoke' },
      runLoad: async () =>
        check('load:smoke', 'fail', 0.91, { kind: 'load', violation: 'p95 0.91 s > threshold 0.5 s' }),
    });
    const created = await h.manager.create({ service: 'prep-api', version: '8' });
    if (!created.ok) throw new Error('not created');
    await advance(h.clock, MINUTE, 5_000);
    expect(await h.manager.verdict(created.watch.id)).toMatchObject({
      status: 'failed',
      reasons: ['load:smoke p95 0.91 s > threshold 0.5 s'],
    });
  });
});
