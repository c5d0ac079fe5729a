import v8 from 'node:v8';
import vm from 'node:vm';
import { recordProbeMetrics } from '../src/prober/engine.js';
import type { FailureClass, ProbeResult } from '../src/prober/types.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import { type Figure, fixed, median } from './lib/figure.js';

const PROBES = 10_000;
const RENDERS = 5;
const MORE_RENDERS = 20;
/** Issue 17 / DESIGN §8 budget. */
const BYTES_PER_PROBE_TARGET = 1_500;
const MS_PER_1000_TARGET = 40;
/**
 * RSS moves by ±15 MB between collections on its own (V8 and malloc keep freed pages for a while); an
 * exposition is ~9 MB, so one retained per scrape would show as +180 MB over 20 scrapes, and in the heap.
 */
const RSS_SLACK_MB = 24;
const FAILURE_CLASSES: readonly FailureClass[] = ['timeout', 'assertion', 'http'];

/** The largest series set a probe exports: every phase, a certificate, and sometimes a failure class. */
function result(i: number, round: number): ProbeResult {
  const failed = (i + round) % 97 === 0;
  return {
    probe: `health-${i}`,
    kind: 'smoke',
    success: !failed,
    startedAt: new Date().toISOString(),
    durationMs: 41.2 + (i % 13),
    phases: { dnsMs: 1.1, connectMs: 3.2, tlsMs: 11.9, ttfbMs: 21.8 + (i % 13), transferMs: 3.2 },
    assertions: [],
    steps: [],
    attempts: 1,
    status: failed ? 503 : 200,
    tls: {
      protocol: 'TLSv1.3',
      leafExpiresAt: Date.UTC(2027, 0, 31),
      chainExpiresAt: Date.UTC(2027, 0, 31),
      issuer: 'CN=bench',
      subjectAltNames: ['edge.example.com'],
    },
    failure: failed
      ? { class: FAILURE_CLASSES[round % FAILURE_CLASSES.length] as FailureClass, message: 'bench' }
      : null,
  };
}

const mb = (bytes: number): string => `${fixed(bytes / 2 ** 20)} MB`;
/** `gc()` without restarting node with --expose-gc: the flag applies to contexts created after it. */
function exposeGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

const signed = (n: number): string => `${n >= 0 ? '+' : ''}${fixed(n, 1)}`;

/**
 * `/metrics` (registry.metrics(), what the route sends) once 10,000 probes have each run 3 times, with
 * TLS and every phase, default process metrics on: bytes per probe, render time per 1,000 probes
 * (median of 5 renders after one warm-up), RSS before and after those 5 renders, and RSS and JS heap
 * once the expositions they returned are garbage-collected, then after 20 renders more.
 *
 * @example const rows = await run();
 */
export async function run(): Promise<Figure[]> {
  const metrics = createMetrics({ version: 'bench', defaultMetrics: true });
  const empty = Buffer.byteLength(await metrics.registry.metrics());
  for (let round = 0; round < 3; round++)
    for (let i = 0; i < PROBES; i++) recordProbeMetrics(metrics, result(i, round), 'prep-api');
  let text = await metrics.registry.metrics();
  const collect = exposeGc();
  collect();
  const { rss: rssBefore, heapUsed: heapBefore } = process.memoryUsage();
  const times: number[] = [];
  for (let i = 0; i < RENDERS; i++) {
    const started = performance.now();
    text = await metrics.registry.metrics();
    times.push(performance.now() - started);
  }
  const rssAfter = process.memoryUsage().rss;
  // What the renders left behind once the expositions already sent are collected: growth per scrape,
  // as opposed to garbage V8 had not yet got to (a sawtooth of a few expositions' size).
  collect();
  const { rss: rssCollected, heapUsed: heapCollected } = process.memoryUsage();
  // Then a plateau, not a climb: RSS once the allocator holds its working set, after many more scrapes.
  for (let i = 0; i < MORE_RENDERS; i++) text = await metrics.registry.metrics();
  collect();
  const { rss: rssLater, heapUsed: heapLater } = process.memoryUsage();
  const ms = median(times);
  const msPer1000 = ms / (PROBES / 1000);
  const bytes = Buffer.byteLength(text);
  const bytesPerProbe = (bytes - empty) / PROBES;
  const lines = text.split('\n').length;
  const heapGrowthMb = (Math.max(heapCollected, heapLater) - heapBefore) / 2 ** 20;
  const plateauMb = (rssLater - rssCollected) / 2 ** 20;
  return [
    {
      figure: '/metrics with 10k probes: bytes per probe',
      value: `${fixed(bytesPerProbe)} B`,
      target: `≤ ${BYTES_PER_PROBE_TARGET.toLocaleString('en')} B (10k ≤ 15 MB)`,
      met: bytesPerProbe <= BYTES_PER_PROBE_TARGET,
      note: `${fixed(bytes / 2 ** 20, 1)} MB, ${lines} lines in all; each probe: 6 phase gauges, success, runs by class, cert expiry`,
    },
    {
      figure: '/metrics with 10k probes: render per 1,000 probes',
      value: `${fixed(msPer1000, 1)} ms`,
      target: `≤ ${MS_PER_1000_TARGET} ms (10k ≤ 400 ms)`,
      met: msPer1000 <= MS_PER_1000_TARGET,
      note: `10k probes: ${fixed(ms, 1)} ms, median of ${RENDERS} (${times.map((t) => fixed(t)).join(', ')} ms)`,
    },
    {
      figure: '/metrics with 10k probes: RSS before → after 5 renders',
      value: `${mb(rssBefore)} → ${mb(rssAfter)}`,
      target: `no growth across scrapes (≤ +${RSS_SLACK_MB} MB)`,
      met: heapGrowthMb <= 1 && plateauMb <= RSS_SLACK_MB,
      note:
        `${mb(rssCollected)} once the sent expositions are collected, ${mb(rssLater)} after ${MORE_RENDERS} ` +
        `more (${signed(plateauMb)} MB); JS heap in use ${mb(heapBefore)} → ${mb(heapCollected)} → ` +
        `${mb(heapLater)}`,
    },
  ];
}
