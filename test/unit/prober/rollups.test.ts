import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  bucketIndex,
  createProbeRollups,
  LATENCY_BUCKETS_MS,
  latencyQuantileMs,
  type ProbeRollups,
} from '../../../src/prober/rollups.js';
import { createProbeSource, formatProbeQuery, parseProbeQuery } from '../../../src/sources/probes.js';
import { NoDataError, QueryError } from '../../../src/sources/types.js';
import { openStore } from '../../../src/store/open.js';
import type { Store } from '../../../src/store/port.js';
import { storedMinutes } from './rollup-store.js';

const T0 = Date.parse('2026-11-27T10:00:00Z');
const MIN = 60_000;
const DAY = 86_400_000;

let store: Store;
let rollups: ProbeRollups;

beforeEach(async () => {
  store = await openStore({ path: ':memory:' });
  rollups = createProbeRollups(store);
});
afterEach(() => store.close());

describe('latency buckets', () => {
  it.each([0.01, 0.1, 0.5, 1, 12.3, 480, 499, 510, 30_000])(
    '%f ms lands in a bucket whose bounds enclose it',
    (ms) => {
      const i = bucketIndex(ms);
      expect(ms).toBeLessThanOrEqual(LATENCY_BUCKETS_MS[i] as number);
      if (i > 0) expect(ms).toBeGreaterThan(LATENCY_BUCKETS_MS[i - 1] as number);
    },
  );

  it('puts anything beyond the last bound in the overflow bucket', () => {
    expect(bucketIndex(10 * 60_000)).toBe(LATENCY_BUCKETS_MS.length);
  });

  it('estimates quantiles within one bucket width (±19 %)', () => {
    const values = Array.from({ length: 1000 }, (_, i) => 10 + i); // 10 … 1009 ms, uniform
    const histogram = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
    for (const v of values) histogram[bucketIndex(v)] = (histogram[bucketIndex(v)] ?? 0) + 1;
    for (const [q, exact] of [
      [0.5, 509.5],
      [0.95, 959.05],
      [0.99, 999.01],
    ] as const) {
      const estimate = latencyQuantileMs(histogram, q) as number;
      expect(Math.abs(estimate - exact) / exact).toBeLessThan(0.19);
    }
    expect(latencyQuantileMs(new Array(5).fill(0), 0.5)).toBeUndefined();
  });
});

describe('probe rollups', () => {
  it('sums runs per minute and answers any window', async () => {
    for (let m = 0; m < 10; m++) {
      for (let k = 0; k < 4; k++)
        await rollups.record('health', T0 + m * MIN + k * 15_000, !(m === 3 && k === 0), 100 + m);
    }
    await rollups.record('other', T0, false, 5);
    expect(await rollups.window('health', T0, T0 + 10 * MIN)).toMatchObject({ successes: 39, total: 40 });
    expect(await rollups.window('health', T0 + 5 * MIN, T0 + 10 * MIN)).toMatchObject({
      successes: 20,
      total: 20,
    });
    expect((await rollups.window('health', T0 + 5 * MIN, T0 + 10 * MIN)).latencySumMs).toBe(
      4 * (105 + 106 + 107 + 108 + 109),
    );
    expect((await rollups.window('health', T0 - 10 * MIN, T0)).total).toBe(0);
    expect(await storedMinutes(store, '', ['health', 'other'])).toHaveLength(11);
  });

  it('keeps 30 days queryable and prunes what is older', async () => {
    await rollups.record('health', T0 - 31 * DAY, true, 10);
    await rollups.record('health', T0 - 29 * DAY, true, 10);
    await rollups.record('health', T0, true, 10);
    expect((await rollups.window('health', T0 - 30 * DAY, T0 + MIN)).total).toBe(2);
    expect(await rollups.prune(T0 - 30 * DAY)).toBe(1);
    expect((await rollups.window('health', 0, T0 + MIN)).total).toBe(2);
  });

  it('records a ProbeResult at its start time with its duration', async () => {
    rollups.recordResult({
      probe: 'health',
      kind: 'smoke',
      success: true,
      startedAt: new Date(T0 + 30_000).toISOString(),
      durationMs: 42,
      phases: { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: 42, transferMs: 0 },
      failure: null,
      assertions: [],
      steps: [],
    });
    const w = await rollups.window('health', T0, T0 + MIN);
    expect(w).toMatchObject({ successes: 1, total: 1, latencySumMs: 42 });
    expect(w.histogram[bucketIndex(42)]).toBe(1);
  });
});

describe('the probes SLI source', () => {
  it('answers success ratio and latency quantiles (seconds) over a window', async () => {
    for (let i = 0; i < 100; i++)
      await rollups.record('health', T0 + i * 3000, i % 20 !== 0, i < 95 ? 50 : 900);
    const source = createProbeSource({ rollups, defaultWindowMs: 5 * MIN });
    const at = T0 + 5 * MIN;
    expect((await source.query('health:successRatio', at)).value).toBeCloseTo(0.95, 5);
    const p50 = (await source.query('health:latencyP50', at)).value;
    expect(p50).toBeGreaterThan(0.05 / 1.19);
    expect(p50).toBeLessThan(0.05 * 1.19);
    const p99 = (await source.query('health:latencyP99[5m]', at)).value;
    expect(p99).toBeGreaterThan(0.9 / 1.19);
    expect(p99).toBeLessThan(0.9 * 1.19);
    expect((await source.measure({ probe: 'health', measure: 'successRatio' }, MIN, T0 + MIN)).value).toBe(
      19 / 20,
    );
  });

  it('throws NoDataError when the window has no runs, and QueryError on a malformed query', async () => {
    const source = createProbeSource({ rollups, defaultWindowMs: 5 * MIN });
    await expect(source.query('health:successRatio', T0)).rejects.toBeInstanceOf(NoDataError);
    await expect(source.query('health:latencyP42', T0)).rejects.toBeInstanceOf(QueryError);
    await expect(source.query('health:successRatio[soon]', T0)).rejects.toBeInstanceOf(QueryError);
  });

  it('gives a range of samples where there are runs', async () => {
    for (let m = 0; m < 10; m++) await rollups.record('health', T0 + m * MIN, m !== 4, 10);
    const source = createProbeSource({ rollups, defaultWindowMs: 5 * MIN });
    const samples = await source.queryRange('health:successRatio[1m]', T0 + MIN, T0 + 10 * MIN, MIN);
    expect(samples.map((s) => s.value)).toEqual([1, 1, 1, 1, 0, 1, 1, 1, 1, 1]);
  });

  it('round-trips its query format', () => {
    const q = formatProbeQuery({ probe: 'booking-journey', measure: 'latencyP95' }, 3_600_000);
    expect(q).toBe('booking-journey:latencyP95[1h]');
    expect(parseProbeQuery(q)).toEqual({
      sli: { probe: 'booking-journey', measure: 'latencyP95' },
      windowMs: 3_600_000,
    });
  });
});
