import { afterEach, describe, expect, test } from 'vitest';
import { advance, createHarness, type Harness, MINUTE } from './harness.js';

let h: Harness;

afterEach(async () => {
  await h.manager.stop();
  h.db.close();
});

function createdId(): string {
  const outcome = h.manager.create({ service: 'prep-api', version: '1.4.2', previousVersion: '1.4.1' });
  if (!outcome.ok) throw new Error(JSON.stringify(outcome.problems));
  return outcome.watch.id;
}

describe('verdictJson, the cached verdict read', () => {
  test('is the JSON of the stored verdict, for an unknown id undefined', () => {
    h = createHarness();
    const id = createdId();
    expect(h.manager.verdictJson(id)).toBe(JSON.stringify(h.manager.verdict(id)));
    // A second read comes from the cache and is the same bytes.
    expect(h.manager.verdictJson(id)).toBe(JSON.stringify(h.manager.verdict(id)));
    expect(h.manager.verdictJson('w_unknown')).toBeUndefined();
  });

  test('an operator override replaces the cached verdict at once', () => {
    h = createHarness();
    const id = createdId();
    const before = h.manager.verdictJson(id);
    expect(JSON.parse(before ?? '')).toMatchObject({ status: 'running' });
    expect(h.manager.override(id, 'abort', { who: 'ci', reason: 'cancelled' }).ok).toBe(true);
    const after = h.manager.verdictJson(id);
    expect(after).not.toBe(before);
    expect(JSON.parse(after ?? '')).toMatchObject({ status: 'aborted' });
    expect(after).toBe(JSON.stringify(h.manager.verdict(id)));
  });

  test('a watch superseded by a new one reads as aborted, not as the cached running verdict', () => {
    h = createHarness();
    const first = createdId();
    expect(JSON.parse(h.manager.verdictJson(first) ?? '')).toMatchObject({ status: 'running' });
    const second = createdId();
    expect(JSON.parse(h.manager.verdictJson(first) ?? '')).toMatchObject({
      status: 'aborted',
      reasons: [expect.stringContaining(`superseded by ${second}`)],
    });
  });

  test('the watch loop moving through its phases is seen by the next read', async () => {
    h = createHarness();
    const id = createdId();
    const phases = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const json = h.manager.verdictJson(id);
      expect(json).toBe(JSON.stringify(h.manager.verdict(id)));
      phases.add(JSON.parse(json ?? '').phase);
      await advance(h.clock, 5 * MINUTE, MINUTE);
    }
    expect(phases.size).toBeGreaterThan(1);
  });
});
