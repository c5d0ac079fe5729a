import http from 'node:http';
import net from 'node:net';
import { percentile } from './figure.js';

/**
 * How late a 10 ms timer fires in this (otherwise idle) process until `until` resolves: the machine's own
 * scheduling noise, measured beside a figure that depends on timers.
 *
 * @example const lateness = timerLateness(work); const ms = await lateness; percentile(ms, 99)
 */
export async function timerLateness(until: Promise<unknown>): Promise<number[]> {
  const late: number[] = [];
  let done = false;
  void until.finally(() => {
    done = true;
  });
  while (!done) {
    const due = performance.now() + 10;
    await new Promise((resolve) => setTimeout(resolve, 10));
    late.push(Math.max(0, performance.now() - due));
  }
  return late;
}

/**
 * One GET the way Vigil's probe sends it, with nothing else: node:http on a socket of its own (no agent,
 * so `connection: close`), body read and dropped. The floor of the client the probe uses.
 *
 * @example await bareGet(new URL('http://127.0.0.1:8080/health'));
 */
export function bareGet(url: URL): Promise<void> {
  const port = Number(url.port);
  return new Promise<void>((resolve, reject) => {
    const req = http.request({
      host: url.hostname,
      port,
      path: url.pathname + url.search,
      createConnection: () => net.connect({ host: url.hostname, port, noDelay: true }),
    });
    req.once('error', reject);
    req.once('response', (res) => {
      res.on('data', () => {});
      res.once('end', resolve);
      res.once('error', reject);
    });
    req.end();
  });
}

/**
 * A bare client (bareGet: no assertions, no metrics, no scheduler) sending `count` GETs at `rate` per
 * second over `urls`, concurrently as they fall due; returns each request's wall time in ms.
 *
 * @example const ms = await bareClientLatencies(['http://127.0.0.1:8080/health'], 300, 3000);
 */
export async function bareClientLatencies(
  urls: readonly string[],
  rate: number,
  count: number,
): Promise<number[]> {
  const parsed = urls.map((u) => new URL(u));
  const times: number[] = [];
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const t0 = performance.now();
    pending.push(
      bareGet(parsed[i % parsed.length] as URL).then(() => {
        times.push(performance.now() - t0);
      }),
    );
  }
  await Promise.all(pending);
  return times;
}

/** One request of a schedule: where, and its offset inside the interval. */
export interface ScheduledGet {
  url: string;
  offsetMs: number;
}

/**
 * The bare client (bareGet) sending `requests` on a schedule: each at its offset inside every interval,
 * on the epoch grid as Vigil's scheduler places a probe, for `intervals` intervals; returns each
 * request's wall time in ms. Given Vigil's own offsets, it puts on the target exactly the load the
 * daemon's probes do, bunches included, so the two are compared on the same answers.
 *
 * @example const ms = await scheduledClientLatencies([{ url: 'http://127.0.0.1:8080/health', offsetMs: 120 }], 1000, 10);
 */
export async function scheduledClientLatencies(
  requests: readonly ScheduledGet[],
  intervalMs: number,
  intervals: number,
): Promise<number[]> {
  const plan = requests
    .map((r) => ({ url: new URL(r.url), offsetMs: r.offsetMs }))
    .sort((a, b) => a.offsetMs - b.offsetMs);
  const times: number[] = [];
  const pending: Promise<void>[] = [];
  // Wall-clock grid (what the scheduler uses), read through performance.now() for the waits.
  const toPerf = performance.now() - Date.now();
  const first = Math.ceil(Date.now() / intervalMs) * intervalMs;
  for (let k = 0; k < intervals; k++) {
    for (const { url, offsetMs } of plan) {
      const wait = first + k * intervalMs + offsetMs + toPerf - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      const t0 = performance.now();
      pending.push(
        bareGet(url).then(() => {
          times.push(performance.now() - t0);
        }),
      );
    }
  }
  await Promise.all(pending);
  return times;
}

/** "p50 a / p99 b ms" of `values`. */
export function p50p99(values: readonly number[], digits = 1): string {
  return `p50 ${percentile(values, 50).toFixed(digits)} / p99 ${percentile(values, 99).toFixed(digits)} ms`;
}
