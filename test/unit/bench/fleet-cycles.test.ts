import { describe, expect, it } from 'vitest';
import { type Evaluation, fleetTicks, splitByTicks } from '../../../bench/lib/fleet-cycles.js';

const evaluation = (lane: number, startedAt: number, endedAt: number): Evaluation => ({
  lane,
  startedAt,
  endedAt,
});

describe('fleet bench ticks', () => {
  it('groups the services that start together into one tick spanning to the last end', () => {
    const ticks = fleetTicks(
      [evaluation(1, 30_020, 31_000), evaluation(0, 30_000, 34_500), evaluation(0, 60_000, 60_400)],
      15_000,
    );
    expect(ticks).toEqual([
      { startedAt: 30_000, lastStartedAt: 30_020, endedAt: 34_500, evaluations: 2 },
      { startedAt: 60_000, lastStartedAt: 60_000, endedAt: 60_400, evaluations: 1 },
    ]);
  });

  it('keeps a chain of starts each within the gap in one tick', () => {
    const ticks = fleetTicks(
      [0, 10, 20, 30].map((s) => evaluation(s, s, s + 5)),
      12,
    );
    expect(ticks).toHaveLength(1);
    expect(ticks[0]?.lastStartedAt).toBe(30);
  });

  it('is empty without evaluations', () => {
    expect(fleetTicks([], 15_000)).toEqual([]);
  });

  it('splits values by whether they fall between a tick first start and last end', () => {
    const ticks = fleetTicks([evaluation(0, 100, 200)], 50);
    expect(splitByTicks([1, 2, 3, 4], [99, 100, 200, 201], ticks)).toEqual({
      inside: [2, 3],
      outside: [1, 4],
    });
  });
});
