import { describe, expect, it } from 'vitest';
import { createRunQueue } from '../../../src/loadtest/queue.js';

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
});
