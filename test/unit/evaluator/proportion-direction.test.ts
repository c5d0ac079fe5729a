import { describe, expect, it } from 'vitest';
import { sloSchema } from '../../../src/config/schema.js';
import { evaluateSlo } from '../../../src/evaluator/evaluate.js';
import type { SliSource } from '../../../src/sources/types.js';

/*
 * `test: proportion` judges the ratio of good (or bad) events over total. Which way is a regression follows
 * from which events are counted: fewer good ones, or more bad ones. Before, the default was `increase`
 * whatever was counted, so a success ratio that dropped never failed.
 */

const AT = Date.parse('2026-11-27T12:00:00Z');
const DEPLOYED = Date.parse('2026-11-27T11:30:00Z');

const GOOD = {
  name: 'success',
  source: 'prometheus',
  good: 'sum(increase(req{code="200"}[{{window}}]))',
  total: 'sum(increase(req[{{window}}]))',
};
const BAD = {
  name: 'errors',
  source: 'prometheus',
  bad: 'sum(increase(req{code="500"}[{{window}}]))',
  total: 'sum(increase(req[{{window}}]))',
};

/** Counts now (at AT) and before the deploy: `events` of 10,000 requests. */
function counts(eventsNow: number, eventsBefore: number): SliSource {
  return {
    kind: 'prometheus',
    async query(query, at) {
      const events = at === DEPLOYED ? eventsBefore : eventsNow;
      return { value: /code=/.test(query) ? events : 10_000, at };
    },
    queryRange: async () => [],
    isOnline: async () => ({ online: true, latencyMs: 0 }),
  };
}

async function judge(raw: Record<string, unknown>, source: SliSource) {
  const [check] = await evaluateSlo(sloSchema.parse(raw), {
    sources: { prometheus: source },
    at: AT,
    deployedAt: DEPLOYED,
    windowMs: 300_000,
    vars: { service: 'prep-api' },
  });
  return check;
}

describe('proportion direction follows good or bad', () => {
  it.each([
    ['good/total: the success ratio dropping fails by default', GOOD, counts(9_800, 9_990), 'fail'],
    ['good/total: the success ratio rising passes by default', GOOD, counts(9_999, 9_900), 'pass'],
    ['bad/total: the error ratio rising fails by default', BAD, counts(200, 10), 'fail'],
    ['bad/total: the error ratio falling passes by default', BAD, counts(1, 100), 'pass'],
  ])('%s', async (_, raw, source, result) => {
    const check = await judge({ ...raw, baseline: { from: 'pre-deploy', test: 'proportion' } }, source);
    expect(check?.result).toBe(result);
    expect(check?.explanation).toContain(result === 'fail' ? 'significant' : 'no significant');
  });

  it('direction: both on a good/total ratio catches either move', async () => {
    const check = await judge(
      { ...GOOD, baseline: { from: 'pre-deploy', test: 'proportion', direction: 'both' } },
      counts(9_800, 9_990),
    );
    expect(check?.result).toBe('fail');
  });

  it.each([
    [
      GOOD,
      'increase',
      'good counts successes: a drop of good/total is the regression; use direction: decrease (or both), or count bad events',
    ],
    [
      BAD,
      'decrease',
      'bad counts failures: a rise of bad/total is the regression; use direction: increase (or both), or count good events',
    ],
  ])(
    'an explicit direction against the meaning of %#: a config error at baseline.direction',
    (raw, direction, message) => {
      const parsed = sloSchema.safeParse({
        ...raw,
        baseline: { from: 'pre-deploy', test: 'proportion', direction },
      });
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues).toEqual([
        expect.objectContaining({ path: ['baseline', 'direction'], message }),
      ]);
    },
  );

  it('an unset direction stays unset in the parsed config, so explicit and default can be told apart', () => {
    const slo = sloSchema.parse({
      name: 'latency',
      source: 'prometheus',
      query: 'x',
      baseline: { from: 'pre-deploy', test: 'mann-whitney' },
    });
    expect(slo.baseline?.direction).toBeUndefined();
  });
});
