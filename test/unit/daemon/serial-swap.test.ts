import { describe, expect, it } from 'vitest';
import { createSerialSwap, type Restartable } from '../../../src/daemon/serial-swap.js';

/** Parts whose stop resolves only when the test says so; `live` counts started, not yet stopped ones. */
function parts() {
  const log: string[] = [];
  const gates: (() => void)[] = [];
  let live = 0;
  let mostLive = 0;
  const make = (name: string, stopFails = false): Restartable => {
    let running = false;
    return {
      start() {
        log.push(`start ${name}`);
        running = true;
        mostLive = Math.max(mostLive, ++live);
      },
      stop() {
        log.push(`stop ${name}`);
        return new Promise<void>((resolve, reject) => {
          gates.push(() => {
            if (running) live--;
            running = false;
            if (stopFails) reject(new Error(`${name} would not stop`));
            else resolve();
          });
        });
      },
    };
  };
  const openGates = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) {
      for (const open of gates.splice(0)) open();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { log, make, openGates, live: () => live, mostLive: () => mostLive };
}

describe('createSerialSwap', () => {
  it('swaps queued in a row never overlap, and only the last one starts', async () => {
    const p = parts();
    const swap = createSerialSwap(p.make('a'));
    swap.start();
    const first = swap.swap(p.make('b'));
    const second = swap.swap(p.make('c'));
    expect(swap.current()).not.toBeUndefined();
    await new Promise((resolve) => setImmediate(resolve));
    expect(p.log).toEqual(['start a', 'stop a']); // b and c wait for a to have stopped
    await p.openGates();
    await Promise.all([first, second]);
    expect(p.log).toEqual(['start a', 'stop a', 'stop b', 'start c']);
    expect(p.mostLive()).toBe(1);
    expect(p.live()).toBe(1);
  });

  it('before start a swap only replaces; stop stops the running one and the newest, and nothing starts after', async () => {
    const p = parts();
    const swap = createSerialSwap(p.make('a'));
    void swap.swap(p.make('b'));
    swap.start();
    const stopped = swap.stop();
    void swap.swap(p.make('c'));
    await p.openGates();
    await stopped;
    await p.openGates();
    expect(p.log).toEqual(['start b', 'stop a', 'stop b', 'stop c']);
    expect(p.live()).toBe(0);
  });

  it('a stop that fails is reported and the next part still starts', async () => {
    const p = parts();
    const errors: unknown[] = [];
    const swap = createSerialSwap(p.make('a', true), (e) => errors.push(e));
    swap.start();
    const done = swap.swap(p.make('b'));
    await p.openGates();
    await done;
    expect(p.log).toEqual(['start a', 'stop a', 'start b']);
    expect(errors.map(String)).toEqual(['Error: a would not stop']);
  });
});
