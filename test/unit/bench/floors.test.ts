import { afterEach, describe, expect, it } from 'vitest';
import { scheduledClientLatencies } from '../../../bench/lib/floors.js';
import { listenLoopback } from '../../helpers/loopback-server.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('the scheduled bare client (the latency floor)', () => {
  it('sends each request at its offset on the wall-clock grid, every interval, and times each one', async () => {
    const arrivals: { path: string; atMs: number }[] = [];
    const base = await listenLoopback((req, res) => {
      arrivals.push({ path: req.url ?? '', atMs: Date.now() });
      res.end('{"status":"ok"}');
    }, cleanups);
    const interval = 200;
    const offsets: Record<string, number> = { '/a': 30, '/b': 90, '/c': 150 };
    // Given out of order: the schedule is the offsets', not the list's.
    const requests = ['/c', '/a', '/b'].map((path) => ({
      url: base + path,
      offsetMs: offsets[path] as number,
    }));

    const times = await scheduledClientLatencies(requests, interval, 2);

    expect(times).toHaveLength(6);
    for (const t of times) expect(t).toBeGreaterThan(0);
    expect(arrivals.map((a) => a.path)).toEqual(['/a', '/b', '/c', '/a', '/b', '/c']);
    for (const { path, atMs } of arrivals) {
      const phase = atMs % interval;
      // At its offset: early by at most the 1 ms not worth a timer; late by less than the 60 ms to the next
      // offset (a loaded CI machine fires timers late), which an unscheduled client would not be.
      expect(phase, path).toBeGreaterThanOrEqual((offsets[path] as number) - 1);
      expect(phase, path).toBeLessThan((offsets[path] as number) + 45);
    }
    // Two consecutive intervals of the grid.
    expect(Math.floor((arrivals[3]?.atMs as number) / interval)).toBe(
      Math.floor((arrivals[0]?.atMs as number) / interval) + 1,
    );
  });
});
