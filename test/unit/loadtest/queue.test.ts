import { describe, expect, it } from 'vitest';
import { createRunQueue } from '../../../src/loadtest/queue.js';

/** Lets every pending promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('run queue', () => {
  it('grants the turn first come, first served', async () => {
    const queue = createRunQueue();
    const order: string[] = [];
    const first = await queue.acquire();
    const positions: number[] = [];
    const second = queue.acquire({ onQueued: (p) => positions.push(p) }).then((release) => {
      order.push('second');
      return release;
    });
    const third = queue.acquire({ onQueued: (p) => positions.push(p) }).then((release) => {
      order.push('third');
      return release;
    });
    expect(positions).toEqual([1, 2]);
    expect(queue.waiting).toBe(2);
    first();
    first(); // releasing twice must not hand out a second turn
    (await second)();
    (await third)();
    expect(order).toEqual(['second', 'third']);
    expect(queue.busy).toBe(false);
  });

  it('lets a waiter leave the line without taking a turn', async () => {
    const queue = createRunQueue();
    const first = await queue.acquire();
    const controller = new AbortController();
    const leaving = queue.acquire({ signal: controller.signal });
    const staying = queue.acquire();
    controller.abort(new Error('watch aborted'));
    await expect(leaving).rejects.toThrow('watch aborted');
    expect(queue.waiting).toBe(1);
    first();
    const release = await staying;
    expect(queue.busy).toBe(true);
    release();
    expect(queue.busy).toBe(false);
  });

  it('with two turns grants two at once; a third waits and is served first come, first served', async () => {
    const queue = createRunQueue(2);
    const first = await queue.acquire();
    expect(queue.busy).toBe(false);
    const second = await queue.acquire();
    expect(queue.busy).toBe(true);
    const order: string[] = [];
    const positions: number[] = [];
    const waitFor = (name: string) =>
      queue.acquire({ onQueued: (p) => positions.push(p) }).then((release) => {
        order.push(name);
        return release;
      });
    const third = waitFor('third');
    const fourth = waitFor('fourth');
    await settle();
    expect(order).toEqual([]);
    expect(positions).toEqual([1, 2]);
    second();
    second();
    const releaseThird = await third;
    await settle();
    // The second's double release handed out one turn, not two.
    expect(order).toEqual(['third']);
    first();
    (await fourth)();
    releaseThird();
    expect(order).toEqual(['third', 'fourth']);
    expect(queue.busy).toBe(false);
    // Both turns are free again.
    await queue.acquire();
    await queue.acquire();
    expect(queue.busy).toBe(true);
  });

  it('with two turns, a waiter that aborts leaves the line and the turn goes to the next', async () => {
    const queue = createRunQueue(2);
    const held = [await queue.acquire(), await queue.acquire()];
    const controller = new AbortController();
    const leaving = queue.acquire({ signal: controller.signal });
    const staying = queue.acquire();
    controller.abort(new Error('watch aborted'));
    await expect(leaving).rejects.toThrow('watch aborted');
    expect(queue.waiting).toBe(1);
    held[0]?.();
    const release = await staying;
    expect(queue.waiting).toBe(0);
    release();
    held[1]?.();
    expect(queue.busy).toBe(false);
  });

  it('an already aborted signal never takes a turn, even a free one', async () => {
    const queue = createRunQueue(2);
    await expect(queue.acquire({ signal: AbortSignal.abort(new Error('gone')) })).rejects.toThrow('gone');
    await queue.acquire();
    expect(queue.busy).toBe(false);
  });

  it.each([0, -1, 1.5])('refuses a queue of %s turns', (capacity) => {
    expect(() => createRunQueue(capacity)).toThrow(/at least 1/);
  });
});
