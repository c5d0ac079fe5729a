import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The compiled twin (test/global-setup.ts builds dist/ before the suite): the workload runs in a fresh
// process, so the suite's own heap and flags play no part.
const HEAP_MODULE = fileURLToPath(new URL('../../../dist/src/daemon/heap.js', import.meta.url));

/**
 * A daemon-shaped heap: a long-lived set, then a stream of objects that each outlive a few young
 * collections (promoted) and die later, as a probe's results do at its next run. Prints the largest
 * old space V8 kept and what was live at the end.
 */
const WORKLOAD = `
const v8 = require('node:v8');
const tune = process.argv[1] === 'tuned';
import(${JSON.stringify(HEAP_MODULE)}).then(({ tuneDaemonHeap }) => {
  if (tune) tuneDaemonHeap();
  const oldSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
  const kept = [];
  for (let i = 0; i < 200000; i++) kept.push({ i, name: 'probe-' + i, phases: [i, i + 1, i + 2] });
  const ring = new Array(300000);
  let max = 0;
  for (let i = 0; i < 4000000; i++) {
    ring[i % ring.length] = { i, text: 'run-' + i, values: [i, i, i] };
    if ((i & 16383) === 0) max = Math.max(max, oldSpace().space_size);
  }
  globalThis.gc();
  process.stdout.write(JSON.stringify({ max, live: oldSpace().space_used_size, kept: kept.length + ring.length }));
});
`;

function run(mode: 'default' | 'tuned'): { max: number; live: number } {
  return JSON.parse(
    execFileSync(process.execPath, ['--expose-gc', '-e', WORKLOAD, mode], {
      encoding: 'utf8',
      timeout: 60_000,
    }),
  ) as { max: number; live: number };
}

describe('tuneDaemonHeap', () => {
  it('keeps the old space near the live heap where V8 alone lets it grow to several times that', () => {
    const untuned = run('default');
    const tuned = run('tuned');
    // Same workload, same live data at the end (after a full collection): only the growth limit differs.
    expect(Math.abs(tuned.live - untuned.live)).toBeLessThan(0.1 * untuned.live);
    expect(untuned.max).toBeGreaterThan(2.5 * untuned.live);
    expect(tuned.max).toBeLessThan(0.6 * untuned.max);
    // 50 % over the live heap, plus the pages V8 rounds up to and the garbage of the last interval.
    expect(tuned.max).toBeLessThan(2.2 * tuned.live);
  }, 90_000);
});
