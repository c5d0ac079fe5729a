import { describe, expect, test } from 'vitest';
import { type ProbeConfig, probeSchema } from '../../../src/config/schema.js';
import { syntheticProbeChecks } from '../../../src/daemon/probe-checks.js';
import { INITIAL_PROBE_STATE, nextProbeState, type ProbeState } from '../../../src/prober/state.js';
import type { ProbeFailure, ProbeResult } from '../../../src/prober/types.js';

const AT = Date.parse('2026-11-27T10:00:00.000Z');

const journey = probeSchema.parse({
  name: 'booking-journey',
  kind: 'synthetic',
  failureThreshold: 2,
  successThreshold: 2,
  steps: [{ request: { method: 'GET', path: '/api/bookings' }, expect: [{ status: 200 }] }],
});
const health = probeSchema.parse({
  name: 'health',
  kind: 'smoke',
  request: { path: '/health' },
});
const PROBES: ProbeConfig[] = [health, journey];

function result(success: boolean, failure: ProbeFailure | null = null, durationMs = 41.6): ProbeResult {
  return {
    probe: 'booking-journey',
    kind: 'synthetic',
    success,
    startedAt: new Date(AT - 1_000).toISOString(),
    durationMs,
    phases: { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: 0, transferMs: 0 },
    failure,
    assertions: [],
    steps: [],
  };
}

/** Folds a run history through the real state machine, as the scheduler does. */
function stateAfter(history: boolean[]): ProbeState {
  return history.reduce(
    (state, success, i) =>
      nextProbeState(
        state,
        success,
        { failureThreshold: journey.failureThreshold, successThreshold: journey.successThreshold },
        AT - (history.length - i) * 1_000,
      ),
    INITIAL_PROBE_STATE,
  );
}

const FAILURE: ProbeFailure = { class: 'assertion', message: 'status (500) equals 201' };

describe('syntheticProbeChecks', () => {
  test('only synthetic probes become checks, named probe:<name>, of kind probe', () => {
    const checks = syntheticProbeChecks(
      PROBES,
      { health: stateAfter([true, true]), 'booking-journey': stateAfter([true, true]) },
      [result(true)],
      AT,
    );
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({
      name: 'probe:booking-journey',
      kind: 'probe',
      objective: null,
      baseline: null,
      query: null,
      evaluatedAt: '2026-11-27T10:00:00.000Z',
    });
  });

  test.each([
    {
      behaviour: 'a journey that has never run is inconclusive',
      history: [] as boolean[],
      last: undefined as ProbeResult | undefined,
      outcome: 'inconclusive',
      value: null,
      explanation: /has not settled yet/,
    },
    {
      behaviour: 'one failure below failureThreshold is still inconclusive, not a pass',
      history: [false],
      last: result(false, FAILURE),
      outcome: 'inconclusive',
      value: 0,
      explanation: /has not settled yet/,
    },
    {
      behaviour: 'successThreshold successes make it pass, with the last duration',
      history: [true, true],
      last: result(true),
      outcome: 'pass',
      value: 1,
      explanation: /booking-journey passing \(last run 42 ms\)/,
    },
    {
      behaviour: 'failureThreshold failures in a row fail it, naming the class and message',
      history: [true, true, false, false],
      last: result(false, FAILURE),
      outcome: 'fail',
      value: 0,
      explanation: /failed 2 runs in a row \(assertion: status \(500\) equals 201\)/,
    },
    {
      behaviour: 'one blip while up keeps it passing (flap protection)',
      history: [true, true, false],
      last: result(false, FAILURE),
      outcome: 'pass',
      value: 0,
      explanation: /still up: last run failed \(assertion: .*\), 1 of 2 failures before it counts as down/,
    },
    {
      behaviour: 'one success while down keeps it failing until successThreshold',
      history: [false, false, true],
      last: result(true),
      outcome: 'fail',
      value: 1,
      explanation: /booking-journey is down: 1 of 2 successes needed to recover/,
    },
  ])('$behaviour', ({ history, last, outcome, value, explanation }) => {
    const states: Record<string, ProbeState> =
      history.length > 0 ? { 'booking-journey': stateAfter(history) } : {};
    const [check] = syntheticProbeChecks(PROBES, states, last ? [last] : [], AT);
    expect(check?.result).toBe(outcome);
    expect(check?.value).toBe(value);
    expect(check?.explanation).toMatch(explanation);
  });

  test('consecutiveFailures and samples follow the probe state', () => {
    const [check] = syntheticProbeChecks(
      PROBES,
      { 'booking-journey': stateAfter([true, true, false, false, false]) },
      [result(false, FAILURE)],
      AT,
    );
    expect(check?.consecutiveFailures).toBe(3);
    expect(check?.samples).toBe(3);
  });

  test('a state without a latest result is inconclusive (results are matched by probe name)', () => {
    const other = { ...result(true), probe: 'another-journey' };
    const [check] = syntheticProbeChecks(
      PROBES,
      { 'booking-journey': stateAfter([true, true]) },
      [other],
      AT,
    );
    expect(check?.result).toBe('inconclusive');
  });

  test('no synthetic probes, no checks', () => {
    expect(syntheticProbeChecks([health], { health: stateAfter([true]) }, [], AT)).toEqual([]);
  });
});
