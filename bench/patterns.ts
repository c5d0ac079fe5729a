import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { sourceSchema } from '../src/config/schema.js';
import { type LogLine, readEvent } from '../src/patterns/event.js';
import { clusterLines } from '../src/patterns/signatures.js';
import { createLokiLogReader } from '../src/sources/loki-logs.js';
import { type Figure, fixed, median } from './lib/figure.js';

/*
 * Issue 19: clustering 100,000 log lines into signatures in under 1 s and 100 MB, beside the time the log
 * read took. Loki cannot be installed here, so the read is timed against a loopback stand-in answering
 * Loki 2.8's streams shape (`| json` labels on every line) in pages of 5,000 — the HTTP and JSON cost of a
 * real read, not Loki's own query time.
 */

const LINES = 100_000;
const ROUNDS = 3;
const T0 = Date.parse('2026-11-27T12:00:00Z');

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
const ROUTES = ['/api/bookings', '/api/payments', '/api/kitchens', '/api/slots'];
const SUBJECTS = [
  'refund',
  'booking',
  'invoice',
  'kitchen',
  'slot',
  'voucher',
  'payout',
  'menu',
  'review',
  'courier',
];
const ACTIONS = [
  'capture',
  'cancel',
  'export',
  'sync',
  'notify',
  'render',
  'lock',
  'price',
  'assign',
  'archive',
];

/** About 110 events in JSON and plain text, with ids, numbers, durations, IPs, quoted values and traces. */
function corpusLine(i: number): string {
  const n = (i * 7919) % 100_000;
  const user = USERS[i % USERS.length] as string;
  const route = ROUTES[i % ROUTES.length] as string;
  const uuid = `${(n * 2654435761).toString(16).padStart(8, '0').slice(0, 8)}-9a4d-4c1b-8e2f-${n.toString(16).padStart(12, '0')}`;
  switch (i % 12) {
    case 0:
      return JSON.stringify({
        level: 'error',
        msg: 'payment failed',
        route,
        status: 502,
        order: n,
        duration_ms: n % 2000,
      });
    case 1:
      return JSON.stringify({
        level: 'error',
        msg: `upstream timeout after ${n % 5000}ms`,
        route,
        trace_id: uuid,
      });
    case 2:
      return JSON.stringify({
        level: 'warn',
        logger: 'db',
        msg: `slow query took ${(n % 900) / 100}s`,
        rows: n % 300,
      });
    case 3:
      return `2026-11-27T12:${String(i % 60).padStart(2, '0')}:00.123Z ERROR dial tcp 10.0.${n % 255}.${i % 255}:5432: connect: connection refused`;
    case 4:
      return `ERROR pq: duplicate key value violates unique constraint "bookings_${['pkey', 'slot_key'][i % 2]}" (id=${uuid})`;
    case 5:
      return JSON.stringify({ level: 'error', msg: `user ${user} not found in tenant ${n % 40}`, route });
    case 6:
      return `Traceback (most recent call last):\n  File "/app/pay.py", line ${n % 300}, in charge\n    rate = rates[currency]\nKeyError: '${['currency', 'amount', 'region'][i % 3]}'`;
    case 7:
      return `java.lang.IllegalStateException: booking ${n} already confirmed\n\tat com.prep.Bookings.confirm(Bookings.java:${n % 500})`;
    case 8:
      return JSON.stringify({
        level: 'error',
        msg: 'job failed',
        job: 'sync-payments',
        error: `connection reset by peer (attempt ${n % 5})`,
      });
    case 9:
      return JSON.stringify({ level: 'error', msg: `mail to ${user}@example.com bounced`, smtp: 550 });
    case 10:
      return `WARN cache miss storm: ${n % 10_000} misses in 60s on shard ${i % 16}`;
    default: {
      // 100 more events: a subject and an action (`refund capture failed`), with the request's numbers.
      const subject = SUBJECTS[(i >> 4) % SUBJECTS.length] as string;
      const action = ACTIONS[(i >> 8) % ACTIONS.length] as string;
      return JSON.stringify({
        level: 'error',
        msg: `${subject} ${action} failed`,
        status: 500,
      });
    }
  }
}

function corpus(): LogLine[] {
  return Array.from({ length: LINES }, (_, i) => ({ at: T0 + i, line: corpusLine(i) }));
}

/** A loopback Loki stand-in serving the corpus as `| json` streams, forward, by start/limit. */
async function standIn(lines: readonly LogLine[]) {
  const ns = lines.map((l) => BigInt(l.at) * 1_000_000n);
  const labelsOf = (l: LogLine): Record<string, string> => {
    const base: Record<string, string> = { app: 'prep-api' };
    if (!l.line.startsWith('{')) return base;
    for (const [k, v] of Object.entries(JSON.parse(l.line) as Record<string, unknown>)) base[k] = String(v);
    return base;
  };
  const server = createServer((req, res) => {
    const params = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams;
    const start = BigInt(params.get('start') ?? '0');
    const end = BigInt(params.get('end') ?? '0');
    const limit = Number(params.get('limit') ?? '100');
    let from = 0;
    while (from < ns.length && (ns[from] as bigint) < start) from++;
    const result = [];
    for (let i = from; i < ns.length && result.length < limit && (ns[i] as bigint) < end; i++) {
      const line = lines[i] as LogLine;
      result.push({ stream: labelsOf(line), values: [[String(ns[i]), line.line]] });
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'streams', result, stats: {} } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

/**
 * Clustering 100,000 realistic lines (median of 3 after a warm-up; memory as the growth of the peak RSS
 * and of the heap while clustering), and the paged read of the same lines from a Loki-shaped stand-in.
 *
 * @example const rows = await run();
 */
export async function run(): Promise<Figure[]> {
  const lines = corpus();
  clusterLines(lines.slice(0, 10_000));
  const times: number[] = [];
  let signatures = 0;
  const peakBefore = process.resourceUsage().maxRSS * 1024;
  const heapBefore = process.memoryUsage().heapUsed;
  let heapGrowth = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    const set = clusterLines(lines);
    times.push(performance.now() - started);
    heapGrowth = Math.max(heapGrowth, process.memoryUsage().heapUsed - heapBefore);
    signatures = set.signatures.length;
  }
  const peakGrowth = process.resourceUsage().maxRSS * 1024 - peakBefore;
  const ms = median(times);
  const mb = Math.max(peakGrowth, heapGrowth) / 2 ** 20;
  const events = new Set(lines.map((l) => readEvent(l).level)).size;

  const loki = await standIn(lines);
  const dispatcher = new Agent({ keepAliveTimeout: 1_000 });
  let readMs = Number.NaN;
  let pages = 0;
  try {
    const reader = createLokiLogReader(sourceSchema.parse({ url: loki.url, timeout: '60s' }), {
      dispatcher,
      resilience: { retries: 0 },
    });
    const started = performance.now();
    const read = await reader.readLines('{app="prep-api"} | json', T0, T0 + LINES, { maxLines: LINES });
    readMs = performance.now() - started;
    pages = read.pages;
  } finally {
    loki.close();
    await dispatcher.close();
  }
  return [
    {
      figure: 'Log signatures: cluster 100k lines',
      value: `${fixed(ms)} ms, ${fixed(mb)} MB`,
      target: '< 1 s, < 100 MB',
      met: ms < 1000 && mb < 100,
      peer: `read ${fixed(readMs)} ms (${pages} pages)`,
      note:
        `median of ${ROUNDS}; ${signatures} signatures from JSON and plain lines (${events} levels), masking ` +
        'included; MB = growth of peak RSS or heap while clustering. Peer: the same lines paged from a loopback ' +
        'stand-in in Loki 2.8 streams shape (5,000 a page) — Loki itself cannot be installed here',
    },
  ];
}
