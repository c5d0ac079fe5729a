import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRunGate, type GateLane } from '../../../src/prober/gate.js';

/** Runs entered at a gate by name; `started` lists them in the order they got a slot. */
function harness() {
  const started: string[] = [];
  const releases = new Map<string, () => void>();
  const hostOf = new Map<string, string>();
  const enter = (lane: GateLane, name: string, host = 'a:443'): void => {
    hostOf.set(name, host);
    lane.enter(host, (release) => {
      started.push(name);
      releases.set(name, release);
    });
  };
  const release = (name: string): void => {
    const fn = releases.get(name);
    if (!fn) throw new Error(`${name} has not started`);
    releases.delete(name);
    fn();
  };
  /** Releases the run that started first among those still holding a slot. */
  const releaseOldest = (): void => {
    const [name] = releases.keys();
    if (name === undefined) throw new Error('nothing in flight');
    release(name);
  };
  const inFlight = () => [...releases.keys()];
  return { started, enter, release, releaseOldest, inFlight, hostOf };
}

describe('run gate: caps', () => {
  it('holds the global cap across lanes, and hands each freed slot on at once', () => {
    const gate = createRunGate({ concurrency: 3, perHostConcurrency: 10 });
    const h = harness();
    const [a, b] = [gate.openLane(), gate.openLane()];
    for (let i = 0; i < 4; i++) h.enter(a, `a${i}`, `h${i}:80`);
    for (let i = 0; i < 4; i++) h.enter(b, `b${i}`, `h${i}:80`);
    expect(h.started).toEqual(['a0', 'a1', 'a2']);
    expect(gate.inFlight).toBe(3);
    expect(gate.waiting).toBe(5);
    h.release('a1');
    expect(gate.inFlight).toBe(3);
    expect(h.started).toHaveLength(4);
  });

  it('holds the per-host cap across lanes: two services probing one host share it', () => {
    const gate = createRunGate({ concurrency: 10, perHostConcurrency: 2 });
    const h = harness();
    const [a, b] = [gate.openLane(), gate.openLane()];
    h.enter(a, 'a0', 'shared:443');
    h.enter(a, 'a1', 'shared:443');
    h.enter(b, 'b0', 'shared:443');
    // b's run on another host is not held up behind its run on the full host.
    h.enter(b, 'b1', 'own:443');
    expect(h.started).toEqual(['a0', 'a1', 'b1']);
    h.release('a0');
    expect(h.started).toEqual(['a0', 'a1', 'b1', 'b0']);
  });

  it('never passes either cap, never idles a slot a waiting run could use, and keeps each lane FIFO per host', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('enter' as const), lane: fc.nat(2), host: fc.nat(2) }),
      fc.record({ kind: fc.constant('release' as const), pick: fc.nat(50) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(op),
        (cap, perHost, ops) => {
          const gate = createRunGate({ concurrency: cap, perHostConcurrency: perHost });
          const h = harness();
          const lanes = [gate.openLane(), gate.openLane(), gate.openLane()];
          const entered: { name: string; lane: number; host: string }[] = [];
          const check = (): void => {
            const live = h.inFlight();
            expect(live.length).toBeLessThanOrEqual(cap);
            expect(gate.inFlight).toBe(live.length);
            const perHostLive = new Map<string, number>();
            for (const name of live) {
              const host = h.hostOf.get(name) as string;
              perHostLive.set(host, (perHostLive.get(host) ?? 0) + 1);
            }
            for (const n of perHostLive.values()) expect(n).toBeLessThanOrEqual(perHost);
            const waiting = entered.filter((e) => !h.started.includes(e.name));
            expect(gate.waiting).toBe(waiting.length);
            if (live.length < cap)
              for (const w of waiting) expect(perHostLive.get(w.host) ?? 0).toBe(perHost);
          };
          for (const o of ops) {
            if (o.kind === 'enter') {
              const name = `r${entered.length}`;
              entered.push({ name, lane: o.lane, host: `h${o.host}:80` });
              h.enter(lanes[o.lane] as GateLane, name, `h${o.host}:80`);
            } else {
              const live = h.inFlight();
              if (live.length > 0) h.release(live[o.pick % live.length] as string);
            }
            check();
          }
          while (h.inFlight().length > 0) {
            h.releaseOldest();
            check();
          }
          expect([...h.started].sort()).toEqual(entered.map((e) => e.name).sort());
          for (let lane = 0; lane < 3; lane++)
            for (let host = 0; host < 3; host++) {
              const mine = entered
                .filter((e) => e.lane === lane && e.host === `h${host}:80`)
                .map((e) => e.name);
              expect(h.started.filter((n) => mine.includes(n))).toEqual(mine);
            }
        },
      ),
    );
  });

  it.each([
    [{ concurrency: 0 }, /concurrency must be a whole number of at least 1, got 0/],
    [{ perHostConcurrency: 1.5 }, /perHostConcurrency must be a whole number of at least 1, got 1.5/],
  ])('refuses caps that could never start a run (%j)', (options, message) => {
    expect(() => createRunGate(options)).toThrow(message);
  });
});

describe('run gate: fairness between lanes', () => {
  it('a lane with one run waiting gets the next freed slot, ahead of a lane with a thousand', () => {
    const gate = createRunGate({ concurrency: 2 });
    const h = harness();
    const [busy, quiet] = [gate.openLane(), gate.openLane()];
    for (let i = 0; i < 1000; i++) h.enter(busy, `busy${i}`, `h${i % 50}:80`);
    h.enter(quiet, 'quiet', 'q:80');
    expect(h.started).toEqual(['busy0', 'busy1']);
    h.releaseOldest();
    expect(h.started.at(-1)).toBe('quiet');
  });

  it('lanes that keep runs waiting take the freed slots in turn', () => {
    const gate = createRunGate({ concurrency: 1, perHostConcurrency: 1 });
    const h = harness();
    const [a, b, c] = [gate.openLane(), gate.openLane(), gate.openLane()];
    for (let i = 0; i < 3; i++) h.enter(a, `a${i}`, `a${i}:80`);
    for (let i = 0; i < 3; i++) h.enter(b, `b${i}`, `b${i}:80`);
    for (let i = 0; i < 2; i++) h.enter(c, `c${i}`, `c${i}:80`);
    while (h.inFlight().length > 0) h.releaseOldest();
    expect(h.started).toEqual(['a0', 'b0', 'c0', 'a1', 'b1', 'c1', 'a2', 'b2']);
  });

  it('a lane that waits again does not jump ahead of lanes served before it', () => {
    const gate = createRunGate({ concurrency: 1 });
    const h = harness();
    const [a, b] = [gate.openLane(), gate.openLane()];
    h.enter(a, 'a0');
    h.enter(a, 'a1');
    h.enter(b, 'b0');
    h.releaseOldest(); // a0 done: b, never served, goes first
    expect(h.started).toEqual(['a0', 'b0']);
    h.enter(b, 'b1'); // b was just served: a1 keeps its turn
    h.releaseOldest();
    h.releaseOldest();
    expect(h.started).toEqual(['a0', 'b0', 'a1', 'b1']);
  });

  it('a lane whose runs all wait on a full host keeps its turn while others use the free slots', () => {
    const gate = createRunGate({ concurrency: 3, perHostConcurrency: 1 });
    const h = harness();
    const [a, b] = [gate.openLane(), gate.openLane()];
    h.enter(a, 'a0', 'x:80');
    h.enter(a, 'a1', 'x:80');
    h.enter(b, 'b0', 'y:80');
    h.enter(b, 'b1', 'z:80');
    expect(h.started).toEqual(['a0', 'b0', 'b1']);
    h.release('a0');
    expect(h.started.at(-1)).toBe('a1');
  });
});

describe('run gate: a lane that clears', () => {
  it('gives its waiting places up; its runs in flight release their slots when they end', () => {
    const gate = createRunGate({ concurrency: 2 });
    const h = harness();
    const [stopping, other] = [gate.openLane(), gate.openLane()];
    for (let i = 0; i < 5; i++) h.enter(stopping, `s${i}`, `h${i}:80`);
    h.enter(other, 'o0');
    h.enter(other, 'o1');
    stopping.clear();
    expect(stopping.waiting).toBe(0);
    expect(gate.waiting).toBe(2);
    h.release('s0');
    h.release('s1');
    expect(h.started).toEqual(['s0', 's1', 'o0', 'o1']);
    expect(gate.inFlight).toBe(2);
  });

  it('a release called twice frees one slot, not two', () => {
    const gate = createRunGate({ concurrency: 1 });
    const lane = gate.openLane();
    const releases: (() => void)[] = [];
    for (let i = 0; i < 3; i++) lane.enter('a:80', (release) => releases.push(release));
    releases[0]?.();
    releases[0]?.();
    expect(releases).toHaveLength(2);
    expect(gate.inFlight).toBe(1);
  });
});
