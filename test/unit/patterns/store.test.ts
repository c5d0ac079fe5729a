import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createPatternStore,
  type ObservedSignature,
  type PatternStore,
} from '../../../src/patterns/store.js';
import { openStore } from '../../../src/store/open.js';
import type { Store } from '../../../src/store/port.js';

const T0 = Date.parse('2026-11-27T12:00:00Z');

const seen = (count: number, firstSeen: number, at: number): ObservedSignature => ({
  check: 'new-error-signatures',
  id: 'p0123456789ab',
  status: 'new',
  level: 'error',
  logger: '',
  template: 'KeyError: <STR>',
  count,
  baselineCount: null,
  firstSeen,
  lastSeen: at,
  examples: ["KeyError: 'currency'"],
  updatedAt: at,
});

let opened: Store;
let store: PatternStore;
beforeEach(async () => {
  opened = await openStore({ path: ':memory:' });
  store = createPatternStore(opened);
});
afterEach(() => opened.close());

describe('pattern store', () => {
  it('a watch keeps the latest count of a signature and its earliest first seen', async () => {
    await store.saveObservations('w_1', 'new-error-signatures', 'prep-api', T0 + 300_000, [
      seen(6, T0 + 120_000, T0 + 300_000),
    ]);
    await store.saveObservations('w_1', 'new-error-signatures', 'prep-api', T0 + 600_000, [
      seen(9, T0 + 310_000, T0 + 600_000),
    ]);
    expect(await store.observations('w_1')).toMatchObject([
      { count: 9, firstSeen: T0 + 120_000, lastSeen: T0 + 600_000 },
    ]);
    // An evaluation where it is gone replaces the check's view.
    await store.saveObservations('w_1', 'new-error-signatures', 'prep-api', T0 + 900_000, []);
    expect(await store.observations('w_1')).toEqual([]);
  });

  it('a baseline is kept once per watch and check: a second save does not replace it', async () => {
    const baseline = {
      from: T0 - 3_600_000,
      to: T0,
      lines: 360,
      sampled: false,
      volume: null,
      computedAt: T0,
      signatures: [],
    };
    await store.saveBaseline('w_1', 'c', 'prep-api', baseline);
    await store.saveBaseline('w_1', 'c', 'prep-api', { ...baseline, lines: 1 });
    expect(await store.baseline('w_1', 'c')).toEqual(baseline);
    expect(await store.baseline('w_2', 'c')).toBeUndefined();
  });

  it('the latest decision on a signature is in force; every decision stays in the audit', async () => {
    const decision = {
      service: 'prep-api',
      signature: 'p0123456789ab',
      level: 'error',
      logger: '',
      template: 'KeyError: <STR>',
    };
    await store.addFeedback({ ...decision, verdict: 'ignore', reason: 'backfill', who: 'alice', at: T0 });
    await store.addFeedback({
      ...decision,
      verdict: 'always-fail',
      reason: 'it is back',
      who: 'bob',
      at: T0 + 1,
    });
    expect((await store.feedback('prep-api')).map((f) => [f.verdict, f.who])).toEqual([
      ['always-fail', 'bob'],
    ]);
    expect(await store.feedback('other-service')).toEqual([]);
    expect((await store.feedbackHistory('p0123456789ab')).map((f) => f.verdict)).toEqual([
      'ignore',
      'always-fail',
    ]);
  });

  it('retention prunes old baselines and observations, never the feedback audit', async () => {
    await store.saveObservations('w_1', 'c', 'prep-api', T0, [seen(6, T0, T0)]);
    await store.saveBaseline('w_1', 'c', 'prep-api', {
      from: 0,
      to: T0,
      lines: 1,
      sampled: false,
      volume: 3,
      computedAt: T0,
      signatures: [],
    });
    await store.addFeedback({
      service: 'prep-api',
      signature: 'p0123456789ab',
      verdict: 'ignore',
      level: 'error',
      logger: '',
      template: 't',
      reason: 'r',
      who: 'w',
      at: T0,
    });
    expect(await store.prune(T0 + 1)).toBe(2);
    expect(await store.observations('w_1')).toEqual([]);
    expect(await store.baseline('w_1', 'c')).toBeUndefined();
    expect(await store.feedback('prep-api')).toHaveLength(1);
  });
});
