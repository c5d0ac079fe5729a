import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import type { VerdictQuery } from '../../../src/cli/client.js';
import { describeCheck, displayUnit, formatInUnit, statusLine } from '../../../src/cli/live.js';
import { type FollowDeps, followWatch, HEARTBEAT_MS } from '../../../src/cli/wait.js';
import type { CheckResult } from '../../../src/evaluator/types.js';
import type { Verdict } from '../../../src/watch/types.js';
import { check } from '../watch/harness.js';

/*
 * `vigil wait`'s live output against a scripted daemon on a virtual clock: each long poll that runs out
 * advances the clock by its wait, so minutes of following take milliseconds and nothing sleeps.
 */

const T0 = Date.parse('2026-11-29T10:00:00.000Z');

function verdictAt(overrides: Partial<Verdict> = {}): Verdict {
  return {
    id: 'w_live',
    service: 'prep-api',
    version: '1.4.2',
    previousVersion: '1.4.1',
    status: 'running',
    phase: 'bake',
    verdict: 'warn',
    startedAt: new Date(T0).toISOString(),
    updatedAt: new Date(T0).toISOString(),
    endedAt: null,
    durationMs: 86_400_000,
    reasons: ['error-rate 0.0447 ≥ objective 0.01 (failing, 1 of 3 independent windows)'],
    checks: [
      check('error-rate', 'fail', 0.0447, { consecutiveFailures: 1 }),
      check('p95-latency', 'pass', 0.663, {
        objective: { lt: 0.8 },
        query: 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
      }),
      check('journey-availability', 'inconclusive', null, {
        objective: { gte: 0.99 },
        query: 'booking-journey:successRatio[5m]',
        explanation: 'no data: the query returned an empty result',
      }),
    ],
    blindSpans: [],
    ...overrides,
  };
}

interface Script {
  /** The verdict the daemon answers at virtual time `now`; undefined keeps the poll waiting (for Ctrl-C). */
  answer(now: number, call: number): Verdict | undefined;
}

function harness(script: Script, options: { isTTY?: boolean; columns?: number; timeoutMs?: number } = {}) {
  let now = T0;
  const stderr = new PassThrough();
  const stdout = new PassThrough();
  const writes: { at: number; text: string }[] = [];
  stderr.on('data', (c: Buffer) => writes.push({ at: now, text: c.toString() }));
  const controller = new AbortController();
  let calls = 0;
  const deps: FollowDeps = {
    client: {
      server: 'http://127.0.0.1:9469',
      async verdict(_id: string, query: VerdictQuery, signal: AbortSignal): Promise<Verdict> {
        calls++;
        // The long poll runs out with nothing new: the daemon answers after `wait`.
        now += query.waitMs ?? 0;
        const answer = script.answer(now, calls);
        if (answer) return answer;
        return new Promise((_, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      },
    },
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    deadline: () => new AbortController().signal,
    isTTY: options.isTTY ?? false,
    ...(options.columns === undefined ? {} : { columns: options.columns }),
  };
  const run = () =>
    followWatch(
      { stdout, stderr, signal: controller.signal },
      { id: 'w_live', until: 'complete', timeoutMs: options.timeoutMs, json: false },
      { failureLimit: 3 },
      deps,
    );
  return { run, writes, controller, text: () => writes.map((w) => w.text).join('') };
}

describe('vigil wait on a log (stderr not a terminal)', () => {
  test('prints a heartbeat at least every 30 s while nothing changes, with elapsed, phase and checks', async () => {
    const endAt = T0 + 5 * 60_000;
    const h = harness({
      answer: (now) =>
        now >= endAt
          ? verdictAt({
              status: 'passed',
              verdict: 'pass',
              reasons: [],
              endedAt: new Date(now).toISOString(),
            })
          : verdictAt(),
    });
    const code = await h.run();
    expect(code).toBe(0);
    const lines = h.writes.filter((w) => w.text.includes('w_live prep-api 1.4.2'));
    // Five quiet minutes: a line at least every 30 s (10 or more), not one per poll.
    expect(lines.length).toBeGreaterThanOrEqual(10);
    for (let i = 1; i < lines.length; i++) {
      expect((lines[i]?.at ?? 0) - (lines[i - 1]?.at ?? 0)).toBeLessThanOrEqual(30_000);
    }
    expect(HEARTBEAT_MS).toBeLessThanOrEqual(30_000);
    const beat = lines[3]?.text ?? '';
    expect(beat).toMatch(
      /^2026-11-29T10:0\d:\d\d\.\d{3}Z w_live prep-api 1\.4\.2 · bake · \d+m?\d*s? of 1d · verdict warn/,
    );
    expect(beat).toContain(
      '1 failing: error-rate fail 4.47 % (objective < 1 %; failing, 1 of 3 independent windows)',
    );
    expect(beat).toContain(
      '1 inconclusive: journey-availability inconclusive (no data: the query returned an empty result)',
    );
    expect(beat).toContain('1 passing: p95-latency pass 663 ms');
    expect(h.text()).not.toContain('\r');
  });

  test('a change is printed at once, not at the next heartbeat', async () => {
    const h = harness({
      answer: (now, call) => {
        if (call >= 3)
          return verdictAt({ status: 'failed', verdict: 'fail', endedAt: new Date(now).toISOString() });
        return call === 2
          ? verdictAt({ phase: 'bake', verdict: 'pass', reasons: [] })
          : verdictAt({ phase: 'smoke' });
      },
    });
    expect(await h.run()).toBe(1);
    const lines = h.writes.filter((w) => w.text.includes('w_live prep-api'));
    expect(lines.map((l) => / · (smoke|bake|failed) /.exec(l.text)?.[1])).toEqual([
      'smoke',
      'bake',
      'failed',
    ]);
  });

  test('a held watch says so with the commands to decide it, and exits 5', async () => {
    const held = verdictAt({
      status: 'held',
      verdict: 'fail',
      reasons: [
        'p95-latency 0.8 ≥ objective 0.5 over 3 independent 5m windows (15m of data) (enforce: hold)',
      ],
      held: { since: new Date(T0).toISOString(), until: '2026-11-29T10:30:00.000Z', reasons: [] },
    });
    const h = harness({ answer: () => held });
    expect(await h.run()).toBe(5);
    expect(h.text()).toContain(
      'HELD for a decision until 2026-11-29T10:30:00.000Z: vigil watch promote w_live --reason … or vigil watch rollback w_live --reason …',
    );
    expect(h.text()).toContain(
      'held for a decision: promote or roll back with `vigil watch promote|rollback w_live`',
    );
  });
});

describe('vigil wait on a terminal', () => {
  test('one status line rewritten in place, cut to the terminal width; a newline only at the end', async () => {
    const endAt = T0 + 60_000;
    const h = harness(
      {
        answer: (now) =>
          now >= endAt
            ? verdictAt({
                status: 'passed',
                verdict: 'pass',
                reasons: [],
                endedAt: new Date(now).toISOString(),
              })
            : verdictAt(),
      },
      { isTTY: true, columns: 80 },
    );
    expect(await h.run()).toBe(0);
    const live = h.writes.filter((w) => w.text.startsWith('\r\x1b[2K') && !w.text.endsWith('\n'));
    // Refreshed every 3 s over a minute.
    expect(live.length).toBeGreaterThanOrEqual(15);
    for (const write of live) {
      expect(write.text).not.toContain('\n');
      expect(write.text.replace('\r\x1b[2K', '').length).toBeLessThanOrEqual(79);
    }
    const end = h.text().slice(h.text().lastIndexOf('\r\x1b[2K'));
    const CLEAR = '\r\x1b[2K';
    expect(end.startsWith(`${CLEAR}w_live prep-api 1.4.2 · passed (phase bake)`)).toBe(true);
    expect(end.split('\n')[1]).toMatch(/^watch passed/);
  });
});

describe('Ctrl-C', () => {
  test.each([
    { signal: 'SIGINT', code: 130 },
    { signal: 'SIGTERM', code: 143 },
  ])(
    '$signal: says the watch keeps running in the daemon and how to follow it again; exit $code',
    async ({ signal, code }) => {
      const h = harness({ answer: (_now, call) => (call === 1 ? verdictAt() : undefined) });
      const running = h.run();
      await new Promise((resolve) => setImmediate(resolve));
      h.controller.abort(new Error(`received ${signal}`));
      expect(await running).toBe(code);
      expect(h.text()).toContain(
        'vigil wait: interrupted; watch w_live keeps running in the daemon (http://127.0.0.1:9469)',
      );
      expect(h.text()).toContain('follow it again: vigil wait w_live --server http://127.0.0.1:9469');
    },
  );
});

describe('values with units', () => {
  const base = check('x', 'pass', 0);
  test.each<{ name: string; check: Partial<CheckResult>; value: number; shown: string }>([
    {
      name: 'a latency quantile in seconds shows in ms',
      check: {
        name: 'p95',
        query: 'histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[5m]))',
        objective: { lt: 0.5 },
      },
      value: 0.663,
      shown: '663 ms',
    },
    {
      name: 'a probes-source latency shows in ms',
      check: { name: 'journey-p95', query: 'j:latencyP95[5m]', objective: { lt: 1 } },
      value: 0.0124,
      shown: '12.4 ms',
    },
    {
      name: 'an error ratio shows in %',
      check: { name: 'error-rate', objective: { lt: 0.01 } },
      value: 0.0447,
      shown: '4.47 %',
    },
    {
      name: 'an availability ratio shows in %',
      check: { name: 'availability', query: 'sum(up)', objective: { gte: 0.99 } },
      value: 0.964,
      shown: '96.4 %',
    },
    {
      name: 'a smoke run is already in ms',
      check: { name: 'smoke:health', kind: 'probe', objective: null, query: null },
      value: 245,
      shown: '245 ms',
    },
    {
      name: 'CPU seconds are not a latency',
      check: { name: 'cpu', query: 'rate(process_cpu_seconds_total[5m])', objective: { lt: 0.8 } },
      value: 0.42,
      shown: '0.42',
    },
    {
      name: 'throughput has no unit we can know',
      check: { name: 'throughput', query: 'sum(rate(http_requests_total[5m]))', objective: { gt: 10 } },
      value: 48.5,
      shown: '48.5',
    },
    {
      name: '+Inf is shown as such',
      check: { name: 'p95-latency', objective: { lt: 0.5 } },
      value: Number.POSITIVE_INFINITY,
      shown: '+Inf',
    },
  ])('$name', ({ check: overrides, value, shown }) => {
    const c = { ...base, ...overrides, value };
    expect(formatInUnit(value, displayUnit(c))).toBe(shown);
  });

  test('warn is explained where it is shown', () => {
    const warn = check('p95-latency', 'warn', 0.45, {
      objective: { lt: 0.5 },
      violation: '0.45 ≥ warn 0.4',
    });
    expect(describeCheck(warn, { reasons: [] }, {})).toBe('p95-latency warn 450 ms (warn: 0.45 ≥ warn 0.4)');
  });

  test('a failing check below its limit says how far it is, from the config when the reasons do not', () => {
    const failing = check('error-rate', 'fail', 0.052, { consecutiveFailures: 1 });
    expect(describeCheck(failing, { reasons: [] }, { failureLimit: 3 })).toBe(
      'error-rate fail 5.2 % (objective < 1 %; failing, 1 of 3)',
    );
    expect(describeCheck(failing, { reasons: [] }, {})).toBe(
      'error-rate fail 5.2 % (objective < 1 %; failing, 1 counted)',
    );
  });

  test('the status line of a watch with no results yet says so', () => {
    expect(statusLine(verdictAt({ checks: [], verdict: 'pending', reasons: [] }), T0 + 1_000, {})).toBe(
      'w_live prep-api 1.4.2 · bake · 1s of 1d · verdict pending · no check results yet',
    );
  });
});
