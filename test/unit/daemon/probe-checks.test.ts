import { describe, expect, test } from 'vitest';
import { type ProbeConfig, probeSchema } from '../../../src/config/schema.js';
import {
  aimsAtTarget,
  type ProbeCheckInput,
  probeChecks,
  probesJudgedInBake,
} from '../../../src/daemon/probe-checks.js';
import { createProbeRollups } from '../../../src/prober/rollups.js';
import { INITIAL_PROBE_STATE, nextProbeState, type ProbeState } from '../../../src/prober/state.js';
import type { ProbeFailure, ProbeResult } from '../../../src/prober/types.js';
import { openStore } from '../../../src/store/open.js';

const TARGET = 'http://127.0.0.1:8080';
const DEPLOYED = Date.parse('2026-11-27T10:00:00.000Z');
const AT = DEPLOYED + 10 * 60_000;
const WINDOW = 5 * 60_000;

const orders = probeSchema.parse({
  name: 'orders',
  kind: 'smoke',
  interval: '30s',
  failureThreshold: 2,
  successThreshold: 2,
  request: { path: '/api/orders' },
  expect: [{ status: 200 }],
});
const journey = probeSchema.parse({
  name: 'booking-journey',
  kind: 'synthetic',
  interval: '1m',
  steps: [{ request: { method: 'GET', path: '/api/bookings' }, expect: [{ status: 200 }] }],
  teardown: [{ request: { method: 'DELETE', path: '/api/bookings/1' } }],
});
const edge = probeSchema.parse({
  name: 'edge-readiness',
  kind: 'synthetic',
  interval: '5m',
  enforce: 'alert',
  steps: [{ request: { path: '/health' }, expect: [{ certExpiresInDays: { gt: 14 } }] }],
});
const quiet = probeSchema.parse({
  name: 'quiet',
  kind: 'smoke',
  enforce: 'shadow',
  request: { path: '/live' },
});
const partner = probeSchema.parse({
  name: 'partner-api',
  kind: 'smoke',
  baseUrl: 'https://partner.example',
  request: { path: '/status' },
});
const cdn = probeSchema.parse({
  name: 'cdn-asset',
  kind: 'smoke',
  request: { url: 'https://cdn.example/app.js' },
});
const teardownElsewhere = probeSchema.parse({
  name: 'journey-with-foreign-teardown',
  kind: 'synthetic',
  steps: [{ request: { path: '/api/bookings' } }],
  teardown: [{ request: { method: 'DELETE', url: 'https://billing.example/void' } }],
});
const PROBES: ProbeConfig[] = [orders, journey, edge, quiet, partner, cdn, teardownElsewhere];

const FAILURE: ProbeFailure = { class: 'assertion', message: 'status (500) equals 200' };

function result(probe: ProbeConfig, startedAt: number, success: boolean, durationMs = 42): ProbeResult {
  return {
    probe: probe.name,
    kind: probe.kind,
    success,
    startedAt: new Date(startedAt).toISOString(),
    durationMs,
    phases: { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: 0, transferMs: 0 },
    failure: success ? null : FAILURE,
    assertions: [],
    steps: [],
  };
}

/** Folds a run history through the real state machine, as the scheduler does. */
function stateAfter(probe: ProbeConfig, history: boolean[]): ProbeState {
  return history.reduce(
    (state, success, i) => nextProbeState(state, success, probe, AT - (history.length - i) * 1_000),
    INITIAL_PROBE_STATE,
  );
}

function input(overrides: Partial<ProbeCheckInput>): ProbeCheckInput {
  return {
    probes: PROBES,
    judged: undefined,
    targetBaseUrl: TARGET,
    states: {},
    latest: [],
    at: AT,
    deployedAt: DEPLOYED,
    windowMs: WINDOW,
    ...overrides,
  };
}

/** The check of `orders` with the given history, its last result finished `ageMs` before `at`. */
async function ordersCheck(history: boolean[], ageMs = 10_000, extra: Partial<ProbeCheckInput> = {}) {
  const last = history.at(-1);
  const at = extra.at ?? AT;
  const checks = await probeChecks(
    input({
      judged: ['orders'],
      states: { orders: stateAfter(orders, history) },
      latest: last === undefined ? [] : [result(orders, at - ageMs - 42, last)],
      ...extra,
    }),
  );
  expect(checks).toHaveLength(1);
  return checks[0] as NonNullable<(typeof checks)[0]>;
}

describe('which probes a watch judges', () => {
  test('by default every probe, smoke or synthetic, whose requests all go to target.baseUrl', () => {
    expect(probesJudgedInBake(PROBES, undefined, TARGET).map((p) => p.name)).toEqual([
      'orders',
      'booking-journey',
      'edge-readiness',
      'quiet',
    ]);
  });

  test.each([
    { behaviour: 'a path joins the target', probe: orders, aimed: true },
    { behaviour: 'a probe baseUrl elsewhere is not the target', probe: partner, aimed: false },
    { behaviour: 'an absolute url on another origin is not the target', probe: cdn, aimed: false },
    { behaviour: 'one teardown request elsewhere is enough', probe: teardownElsewhere, aimed: false },
    {
      behaviour: 'an absolute url on the target origin is the target',
      probe: probeSchema.parse({ name: 'x', kind: 'smoke', request: { url: `${TARGET}/ready` } }),
      aimed: true,
    },
    {
      behaviour: 'a probe baseUrl equal to the target (trailing slash aside) is the target',
      probe: probeSchema.parse({ name: 'x', kind: 'smoke', baseUrl: `${TARGET}/`, request: { path: '/' } }),
      aimed: true,
    },
  ])('$behaviour', ({ probe, aimed }) => {
    expect(aimsAtTarget(probe, TARGET)).toBe(aimed);
  });

  test('watch.probes names exactly the probes judged, even ones aimed elsewhere', async () => {
    const checks = await probeChecks(input({ judged: ['partner-api', 'orders'] }));
    expect(checks.map((c) => c.name)).toEqual(['probe:orders', 'probe:partner-api']);
  });

  test('an empty watch.probes judges no probe', async () => {
    expect(await probeChecks(input({ judged: [] }))).toEqual([]);
  });

  test('smoke probes are judged in the bake too, as probe:<name> of kind probe', async () => {
    const check = await ordersCheck([false, false]);
    expect(check).toMatchObject({
      name: 'probe:orders',
      kind: 'probe',
      result: 'fail',
      objective: null,
      baseline: null,
      query: null,
      evaluatedAt: new Date(AT).toISOString(),
    });
  });
});

describe('a probe check judges the probe state since the deploy', () => {
  test.each([
    {
      behaviour: 'failureThreshold failures in a row fail it with the last failure message',
      history: [true, true, false, false],
      outcome: 'fail',
      value: 0,
      explanation: /orders down: failed 2 runs in a row \(assertion: status \(500\) equals 200\)/,
    },
    {
      behaviour: 'one blip while up passes, reported in the explanation but not counted',
      history: [true, true, false],
      outcome: 'pass',
      value: 0,
      explanation:
        /orders up: last run failed \(assertion: status \(500\) equals 200\), 1 of 2 failures before it counts as down/,
    },
    {
      behaviour: 'successThreshold successes pass it with the last duration',
      history: [true, true],
      outcome: 'pass',
      value: 1,
      explanation: /orders up: last run passed in 42 ms/,
    },
    {
      behaviour: 'one success while down keeps it failing until successThreshold',
      history: [false, false, true],
      outcome: 'fail',
      value: 1,
      explanation: /orders down: 1 of 2 successes needed to recover/,
    },
  ])('$behaviour', async ({ history, outcome, value, explanation }) => {
    const check = await ordersCheck(history);
    expect(check.result).toBe(outcome);
    expect(check.value).toBe(value);
    expect(check.explanation).toMatch(explanation);
    expect(check.warmingUp).toBeUndefined();
  });

  test('the range is the window, clamped to start no earlier than the deploy', async () => {
    expect((await ordersCheck([true, true])).range).toEqual({
      from: new Date(AT - WINDOW).toISOString(),
      to: new Date(AT).toISOString(),
    });
    const early = await ordersCheck([true, true], 10_000, { at: DEPLOYED + 90_000 });
    expect(early.range).toEqual({
      from: new Date(DEPLOYED).toISOString(),
      to: new Date(DEPLOYED + 90_000).toISOString(),
    });
  });

  test('a last result from before the deploy is warm-up, not evidence about the new version', async () => {
    // orders is down on the old version; 40 s after the deploy it has not run again yet (interval 30 s).
    const check = await ordersCheck([false, false, false], 50_000, { at: DEPLOYED + 40_000 });
    expect(check.result).toBe('inconclusive');
    expect(check.warmingUp).toBe(true);
    expect(check.value).toBeNull();
    expect(check.explanation).toMatch(/no run since the deploy yet/);
  });

  test('down since before the deploy and passing on the new version is not a failure of the new version', async () => {
    // successThreshold 2: the old version's failures keep orders down until two successes in a row.
    const thresholds = { failureThreshold: 2, successThreshold: 2 };
    let state = nextProbeState(INITIAL_PROBE_STATE, false, thresholds, DEPLOYED - 60_000);
    state = nextProbeState(state, false, thresholds, DEPLOYED - 30_000);
    const recovering = nextProbeState(state, true, thresholds, DEPLOYED + 10_000);
    const at = DEPLOYED + 20_000;
    const check = async (states: Record<string, ProbeState>, success: boolean) =>
      (
        await probeChecks(
          input({
            judged: ['orders'],
            at,
            states,
            latest: [result(orders, DEPLOYED + 9_958, success)],
          }),
        )
      )[0];
    expect(await check({ orders: recovering }, true)).toMatchObject({
      result: 'inconclusive',
      warmingUp: true,
      value: 1,
    });
    expect((await check({ orders: recovering }, true))?.explanation).toMatch(
      /orders down since before the deploy, passing now: 1 of 2 successes needed to recover/,
    );
    // A failure on the new version keeps it down: that is evidence, and it fails.
    const failedAgain = nextProbeState(state, false, thresholds, DEPLOYED + 10_000);
    expect((await check({ orders: failedAgain }, false))?.result).toBe('fail');
  });

  test('a probe that never ran, soon after the deploy, is warm-up', async () => {
    const check = await ordersCheck([], 0, { at: DEPLOYED + 20_000 });
    expect(check).toMatchObject({ result: 'inconclusive', warmingUp: true });
  });

  test('a first run that has not yet settled the state is warm-up while thresholds can fill', async () => {
    const check = await ordersCheck([false], 5_000, { at: DEPLOYED + 45_000 });
    expect(check).toMatchObject({ result: 'inconclusive', warmingUp: true });
    expect(check.explanation).toMatch(/orders not settled yet: 1 of 2 failures in a row to call it down/);
  });

  test('a state that never settles long after the deploy is inconclusive, and not warm-up', async () => {
    const check = await ordersCheck([true, false, true, false], 5_000);
    expect(check.result).toBe('inconclusive');
    expect(check.warmingUp).toBeUndefined();
  });
});

describe('a stale result is never its last state', () => {
  test.each([
    { behaviour: 'a failing probe gone quiet', history: [false, false] },
    { behaviour: 'a passing probe gone quiet', history: [true, true] },
  ])('$behaviour: inconclusive, not warm-up (a stopped prober is blindness)', async ({ history }) => {
    // interval 30 s: a result 95 s old is older than 2 × interval.
    const check = await ordersCheck(history, 95_000);
    expect(check.result).toBe('inconclusive');
    expect(check.warmingUp).toBeUndefined();
    expect(check.value).toBeNull();
    expect(check.explanation).toMatch(/^no result for 95 s: prober late or stopped/);
  });

  test('a result exactly 2 × interval old still counts', async () => {
    expect((await ordersCheck([false, false], 60_000)).result).toBe('fail');
    expect((await ordersCheck([false, false], 60_001)).result).toBe('inconclusive');
  });

  test('no run since a deploy longer ago than 2 × interval is blindness, not warm-up', async () => {
    const never = await ordersCheck([], 0, { at: DEPLOYED + 95_000 });
    expect(never).toMatchObject({ result: 'inconclusive' });
    expect(never.warmingUp).toBeUndefined();
    expect(never.explanation).toMatch(/no result since the deploy 95 s ago: prober late or stopped/);
    const oldRun = await ordersCheck([true, true], 120_000, { at: DEPLOYED + 95_000 });
    expect(oldRun.warmingUp).toBeUndefined();
    expect(oldRun.explanation).toMatch(/^no result for 120 s: prober late or stopped/);
  });
});

describe('enforcement', () => {
  test('a probe carries its own enforce; shadow also marks the check shadow', async () => {
    const at = AT;
    const checks = await probeChecks(
      input({
        states: {
          'edge-readiness': stateAfter(edge, [false, false]),
          quiet: stateAfter(quiet, [false, false]),
          orders: stateAfter(orders, [true, true]),
        },
        latest: [
          result(edge, at - 1_000, false),
          result(quiet, at - 1_000, false),
          result(orders, at - 1_000, true),
        ],
      }),
    );
    const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(byName['probe:edge-readiness']).toMatchObject({ result: 'fail', enforce: 'alert' });
    expect(byName['probe:edge-readiness']?.shadow).toBeUndefined();
    expect(byName['probe:quiet']).toMatchObject({ result: 'fail', enforce: 'shadow', shadow: true });
    // No enforce of its own: the watch's applies.
    expect(byName['probe:orders']).toMatchObject({ result: 'pass' });
    expect(byName['probe:orders']?.enforce).toBeUndefined();
  });
});

describe('run counts in the window', () => {
  test('the explanation states runs and failures since the deploy, never counting pre-deploy runs', async () => {
    const store = await openStore({ path: ':memory:' });
    const rollups = createProbeRollups(store);
    // The deploy is at 10:00:20; the old version failed twice just before it, in the same minute.
    const deployedAt = DEPLOYED + 20_000;
    await rollups.record('orders', DEPLOYED + 5_000, false, 10);
    await rollups.record('orders', DEPLOYED + 10_000, false, 10);
    for (let t = DEPLOYED + 60_000; t < DEPLOYED + 240_000; t += 30_000) {
      await rollups.record('orders', t, t !== DEPLOYED + 120_000, 10);
    }
    const check = await ordersCheck([true, true], 5_000, { at: DEPLOYED + 240_000, deployedAt, rollups });
    expect(check.result).toBe('pass');
    expect(check.samples).toBe(6);
    expect(check.explanation).toMatch(/1 of 6 runs failed since 10:01:00 UTC/);
    // Later, the window starts at 10:01:30: its whole first minute is after the deploy, so it counts.
    const later = await ordersCheck([true, true], 5_000, { at: DEPLOYED + 390_000, deployedAt, rollups });
    expect(later.explanation).toMatch(/1 of 6 runs failed since 10:01:00 UTC/);
    await store.close();
  });

  test('without a counter the samples are unknown, the result is the same', async () => {
    const check = await ordersCheck([true, true]);
    expect(check.samples).toBeNull();
    expect(check.result).toBe('pass');
  });
});
