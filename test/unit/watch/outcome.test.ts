import { describe, expect, it } from 'vitest';
import { headline } from '../../../src/watch/display.js';
import { untilReached, type WaitUntil, waitOutcome } from '../../../src/watch/outcome.js';
import type { Verdict } from '../../../src/watch/types.js';
import { check, T0 } from './harness.js';

function verdict(overrides: Partial<Verdict>): Verdict {
  return {
    id: 'w_01TEST',
    service: 'prep-api',
    version: '1.4.2',
    previousVersion: '1.4.1',
    status: 'running',
    phase: 'bake',
    verdict: 'pass',
    startedAt: new Date(T0).toISOString(),
    updatedAt: new Date(T0).toISOString(),
    endedAt: null,
    durationMs: 86_400_000,
    reasons: [],
    checks: [check('error-rate', 'pass', 0.002)],
    blindSpans: [],
    ...overrides,
  };
}

describe('vigil wait: when to stop and which exit code', () => {
  it.each([
    {
      name: 'smoke is done once the watch moved to load',
      v: { phase: 'load' as const },
      until: 'smoke',
      reached: true,
    },
    {
      name: 'smoke is not done while in smoke',
      v: { phase: 'smoke' as const },
      until: 'smoke',
      reached: false,
    },
    { name: 'load is done once in bake', v: { phase: 'bake' as const }, until: 'load', reached: true },
    { name: 'complete waits for the end', v: { phase: 'bake' as const }, until: 'complete', reached: false },
    {
      name: 'an ended watch is always done',
      v: { phase: 'smoke' as const, status: 'failed' as const },
      until: 'load',
      reached: true,
    },
  ])('$name', ({ v, until, reached }) => {
    expect(untilReached(verdict(v), until as WaitUntil)).toBe(reached);
  });

  it.each([
    { name: 'passed', v: { status: 'passed' as const }, until: 'complete', code: 0 },
    {
      name: 'passed with a warning',
      v: { status: 'passed' as const, verdict: 'warn' as const },
      until: 'complete',
      code: 0,
    },
    {
      name: 'failed',
      v: { status: 'failed' as const, verdict: 'fail' as const, reasons: ['x'] },
      until: 'smoke',
      code: 1,
    },
    {
      name: 'inconclusive',
      v: { status: 'inconclusive' as const, verdict: 'inconclusive' as const },
      until: 'complete',
      code: 2,
    },
    { name: 'aborted (superseded)', v: { status: 'aborted' as const }, until: 'complete', code: 2 },
    { name: 'smoke finished, running', v: { phase: 'bake' as const }, until: 'smoke', code: 0 },
    {
      name: 'load could not run (k6 missing)',
      v: {
        checks: [check('load:smoke', 'inconclusive', null, { kind: 'load', explanation: 'k6 not found' })],
      },
      until: 'load',
      code: 2,
    },
  ])('$name → $code', ({ v, until, code }) => {
    expect(waitOutcome(verdict(v), until as WaitUntil).code).toBe(code);
  });
});

describe('the headline', () => {
  it('shows id, version, status, phase, elapsed of total and the verdict', () => {
    const v = verdict({ reasons: ['p95 warn: 0.45 close to 0.5'] });
    expect(headline(v, T0 + 2 * 3_600_000 + 5_500)).toBe(
      'w_01TEST prep-api 1.4.2: running, phase bake, 2h5s of 1d, verdict pass',
    );
  });
});
