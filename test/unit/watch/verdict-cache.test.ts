import { afterEach, describe, expect, test } from 'vitest';
import { advance, createHarness, type Harness, MINUTE } from './harness.js';

let h: Harness;

afterEach(async () => {
  await h.manager.stop();
  await h.close();
});

async function createdId(): Promise<string> {
  const outcome = await h.manager.create({ service: 'prep-api', version: '1.4.2', previousVersion: '1.4.1' });
  if (!outcome.ok) throw new Error(JSON.stringify(outcome.problems));
  return outcome.watch.id;
}

describe('verdictJson, the cached verdict read', () => {
  test('is the JSON of the stored verdict, for an unknown id undefined', async () => {
    h = await createHarness();
    const id = await createdId();
    // The loop passes smoke and starts the bake without the clock moving: let it park first, so the
    // cached read and the plain one below see one stored state.
    await h.clock.advance(0);
    expect(await h.manager.verdictJson(id)).toBe(JSON.stringify(await h.manager.verdict(id)));
    // A second read comes from the cache and is the same bytes.
    expect(await h.manager.verdictJson(id)).toBe(JSON.stringify(await h.manager.verdict(id)));
    expect(await h.manager.verdictJson('w_unknown')).toBeUndefined();
  });

  test('an operator override replaces the cached verdict at once', async () => {
    h = await createHarness();
    const id = await createdId();
    const before = await h.manager.verdictJson(id);
    expect(JSON.parse(before ?? '')).toMatchObject({ status: 'running' });
    expect((await h.manager.override(id, 'abort', { who: 'ci', reason: 'cancelled' })).ok).toBe(true);
    const after = await h.manager.verdictJson(id);
    expect(after).not.toBe(before);
    expect(JSON.parse(after ?? '')).toMatchObject({ status: 'aborted' });
    expect(after).toBe(JSON.stringify(await h.manager.verdict(id)));
  });

  test('a watch superseded by a new one reads as aborted, not as the cached running verdict', async () => {
    h = await createHarness();
    const first = await createdId();
    expect(JSON.parse((await h.manager.verdictJson(first)) ?? '')).toMatchObject({ status: 'running' });
    const second = await createdId();
    expect(JSON.parse((await h.manager.verdictJson(first)) ?? '')).toMatchObject({
      status: 'aborted',
      reasons: [expect.stringContaining(`superseded by ${second}`)],
    });
  });

  test('the watch loop moving through its phases is seen by the next read', async () => {
    h = await createHarness();
    const id = await createdId();
    const phases = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const json = await h.manager.verdictJson(id);
      expect(json).toBe(JSON.stringify(await h.manager.verdict(id)));
      phases.add(JSON.parse(json ?? '').phase);
      await advance(h.clock, 5 * MINUTE, MINUTE);
    }
    expect(phases.size).toBeGreaterThan(1);
  });
});
