import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import type { CheckResult } from '../../../src/evaluator/types.js';
import { watchRecords } from '../../../src/watch/records.js';
import {
  advance,
  check,
  createHarness,
  type Harness,
  type HarnessOptions,
  HOUR,
  MINUTE,
  probeResult,
  storedEvaluations,
  T0,
} from './harness.js';

let dir: string;
let open: Harness[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-watch-resume-'));
});
afterEach(async () => {
  for (const h of open) {
    await h.manager.stop();
    await h.close();
  }
  open = [];
  rmSync(dir, { recursive: true, force: true });
});

/** Runs a daemon on the store until `crashAt`, "kills" it, keeps it down for `downMs`, and starts another. */
async function crashAndRestart(options: HarnessOptions, crashAt: number, downMs: number) {
  const clock = new ManualClock(T0);
  const dbPath = join(dir, 'vigil.db');
  const first = await createHarness({ ...options, clock, dbPath });
  open.push(first);
  const outcome = await first.manager.create({ service: 'prep-api', version: '2.0.0' });
  if (!outcome.ok) throw new Error('not created');
  await advance(clock, crashAt, MINUTE);
  await first.manager.stop();
  await first.close();
  await clock.advance(downMs);
  const second = await createHarness({ ...options, clock, dbPath });
  open.push(second);
  expect(await second.manager.resume()).toBe(1);
  return { id: outcome.watch.id, first, second, clock };
}

const bakeOnly = { phases: ['bake' as const] };

describe('resume after a crash', () => {
  it('continues from the stored start: no evaluation duplicated, one gap event for the missed ones', async () => {
    const { id, second, clock } = await crashAndRestart(
      { settings: bakeOnly },
      30 * MINUTE + 30_000,
      10 * MINUTE,
    );
    await advance(clock, 24 * HOUR);
    const evaluations = storedEvaluations(id);
    expect(evaluations.slice(0, 32)).toEqual([...Array.from({ length: 31 }, (_, i) => i), 40]);
    expect(evaluations).toHaveLength(24 * 60 - 9);
    expect(await watchRecords(second.store.watches).resultCounts(id)).toEqual({
      evaluations: 24 * 60 - 9,
      rows: 24 * 60 - 9,
    });
    const watch = await second.manager.get(id);
    const gaps = watch?.timeline.filter((e) => e.type === 'gap') ?? [];
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({
      missed: 9,
      from: new Date(T0 + 31 * MINUTE).toISOString(),
      to: new Date(T0 + 39 * MINUTE).toISOString(),
    });
    expect(gaps[0]?.message).toContain('while the daemon was down');
    expect(watch?.timeline.some((e) => e.type === 'resumed')).toBe(true);
    expect(watch).toMatchObject({ status: 'passed', verdict: 'warn' });
    expect(watch?.reasons).toEqual(['9 evaluation(s) missed (see the gap events in the timeline)']);
  });

  it('carries failure accounting across the restart: two failures before and one after fail the watch', async () => {
    const evaluate = (minute: number): CheckResult[] => [
      minute >= 29 ? check('error-rate', 'fail', 0.05) : check('error-rate', 'pass', 0.001),
    ];
    const { id, first, second, clock } = await crashAndRestart(
      { settings: bakeOnly, evaluate },
      30 * MINUTE + 30_000,
      10 * MINUTE,
    );
    expect(first.failed).toHaveLength(0);
    await advance(clock, HOUR, MINUTE);
    const verdict = await second.manager.verdict(id);
    expect(verdict).toMatchObject({
      status: 'failed',
      endedAt: new Date(T0 + 40 * MINUTE + 30_000).toISOString(),
    });
    expect(verdict?.reasons[0]).toBe('error-rate 0.05 ≥ objective 0.01 for 3 consecutive evaluations');
    expect(second.failed).toHaveLength(1);
  });

  it('a watch whose duration ran out while the daemon was down ends inconclusive with the gap as a blind span, inventing nothing', async () => {
    const { id, second, clock } = await crashAndRestart(
      { settings: { ...bakeOnly, durationMs: HOUR } },
      30 * MINUTE + 30_000,
      2 * HOUR,
    );
    await clock.advance(MINUTE);
    const watch = await second.manager.get(id);
    // 29 minutes without an evaluation is longer than inconclusiveLimit (15m): blind, never a clean pass.
    expect(watch).toMatchObject({ status: 'inconclusive', verdict: 'inconclusive' });
    expect(watch?.blindSpans).toEqual([
      {
        from: new Date(T0 + 31 * MINUTE).toISOString(),
        to: new Date(T0 + HOUR).toISOString(),
        checks: ['error-rate'],
        reason: 'no evaluation ran: 29 evaluation(s) missed while the daemon was down',
      },
    ]);
    expect(storedEvaluations(id)).toHaveLength(31);
    expect(watch?.timeline.find((e) => e.type === 'gap')).toMatchObject({ missed: 29 });
    expect(second.evaluations).toHaveLength(0);
  });

  it('a watch interrupted in smoke runs its smoke phase again, with a fresh smoke timeout', async () => {
    const clock = new ManualClock(T0);
    const dbPath = join(dir, 'smoke.db');
    const settings = { phases: ['smoke' as const, 'bake' as const] };
    const first = await createHarness({
      clock,
      dbPath,
      settings,
      smoke: () => [probeResult('health', false)],
    });
    open.push(first);
    const outcome = await first.manager.create({ service: 'prep-api', version: '3' });
    if (!outcome.ok) throw new Error('not created');
    await advance(clock, 4 * MINUTE, 5_000);
    await first.manager.stop();
    await first.close();
    await clock.advance(MINUTE);
    const second = await createHarness({
      clock,
      dbPath,
      settings,
      smoke: (n) => [probeResult('health', n >= 3)],
    });
    open.push(second);
    await second.manager.resume();
    await advance(clock, 2 * MINUTE, 5_000);
    const watch = await second.manager.get(outcome.watch.id);
    expect(second.smokeRuns).toBe(3);
    expect(watch).toMatchObject({ status: 'running', phase: 'bake' });
    expect(watch?.timeline.find((e) => e.type === 'resumed')?.message).toContain(
      'restarting the smoke phase',
    );
  });

  it('stop() does not wait for a smoke probe stuck until its own timeout; the watch stays running to resume', async () => {
    const h = await createHarness({ dbPath: join(dir, 'stop.db') });
    open.push(h);
    h.deps.runSmokeProbes = () => new Promise(() => {});
    const outcome = await h.manager.create({ service: 'prep-api', version: '1' });
    if (!outcome.ok) throw new Error('not created');
    await h.clock.advance(1000);
    let stopped = false;
    const stopping = h.manager.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    await stopping;
    expect(stopped).toBe(true);
    expect((await h.manager.verdict(outcome.watch.id))?.status).toBe('running');
  });

  it('a replayed evaluation is a no-op in the store', async () => {
    const h = await createHarness({ dbPath: join(dir, 'replay.db') });
    open.push(h);
    const outcome = await h.manager.create({ service: 'prep-api', version: '1' });
    if (!outcome.ok) throw new Error('not created');
    const store = watchRecords(h.store.watches);
    const results = [check('error-rate', 'pass', 0.001), check('p95', 'pass', 0.2)];
    expect(await store.saveResults(outcome.watch.id, 7, results)).toBe(2);
    expect(await store.saveResults(outcome.watch.id, 7, results)).toBe(0);
  });
});
