import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A Loki 2.8 stand-in for log queries. It replays the recorded answer shapes (test/fixtures/loki:
 * the streams envelope with its stats, the plain-text 400 under a JSON content type) over lines the test
 * gives it; it never parses LogQL — the tests check every query it received with @grafana/lezer-logql.
 * Answers `query_range` by time (`start` inclusive, `end` exclusive, unix ns), `direction` and `limit`,
 * refusing a limit above its `max_entries_limit_per_query` as Loki does.
 */

export interface StandInEntry {
  /** unix ns */
  ns: bigint;
  line: string;
  labels: Record<string, string>;
}

export interface LokiStandIn {
  url: string;
  /** Every query_range request's parameters, in order. */
  requests: URLSearchParams[];
  /** Replaces the lines it holds (e.g. Loki's retention dropping the pre-deploy ones). */
  replace(entries: readonly StandInEntry[]): void;
  close(): Promise<void>;
}

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/loki/${name}`, import.meta.url), 'utf8');

const RECORDED_STATS = (JSON.parse(fixture('query-streams.json')) as { data: { stats: unknown } }).data.stats;

/**
 * The lines of the recorded push (`push-request.json`), labelled as `| json` labels them: stream labels
 * plus every field of the line as a string (the shape of the recorded `query-streams.json`).
 *
 * @example recordedEntries().filter((e) => e.labels.level === 'error')
 */
export function recordedEntries(): StandInEntry[] {
  const push = JSON.parse(fixture('push-request.json')) as {
    streams: { stream: Record<string, string>; values: [string, string][] }[];
  };
  return push.streams.flatMap((s) =>
    s.values.map(([ns, line]) => {
      const fields = JSON.parse(line) as Record<string, unknown>;
      const labels: Record<string, string> = { ...s.stream };
      for (const [key, value] of Object.entries(fields)) labels[key] = String(value);
      return { ns: BigInt(ns), line, labels };
    }),
  );
}

/**
 * `perMinute` lines a minute over [from, to) ms, cycling through `lines` (their labels kept).
 *
 * @example spreadLines(deployedAt, deployedAt + 600_000, 6, recordedEntries())
 */
export function spreadLines(
  from: number,
  to: number,
  perMinute: number,
  lines: readonly StandInEntry[],
): StandInEntry[] {
  const out: StandInEntry[] = [];
  const gapMs = 60_000 / perMinute;
  let i = 0;
  for (let at = from; at < to; at += gapMs) {
    const template = lines[i++ % lines.length] as StandInEntry;
    out.push({ ...template, ns: BigInt(Math.round(at)) * 1_000_000n + BigInt(i % 997) });
  }
  return out;
}

/**
 * A JSON error line of a new kind (`KeyError: '<field>'`), labelled as `| json` would.
 *
 * @example keyErrorLine('currency').line // '{"level":"error","msg":"KeyError: \'currency\'",…}'
 */
export function keyErrorLine(field: string): StandInEntry {
  const msg = `KeyError: '${field}'`;
  const line = JSON.stringify({ level: 'error', msg, route: '/api/payments', status: 500 });
  return {
    ns: 0n,
    line,
    labels: { app: 'prep-api', level: 'error', msg, route: '/api/payments', status: '500' },
  };
}

function streamsBody(entries: readonly StandInEntry[]): string {
  const streams = new Map<string, { stream: Record<string, string>; values: [string, string][] }>();
  for (const entry of entries) {
    const sorted = Object.fromEntries(Object.entries(entry.labels).sort(([a], [b]) => a.localeCompare(b)));
    const key = JSON.stringify(sorted);
    let stream = streams.get(key);
    if (stream === undefined) {
      stream = { stream: sorted, values: [] };
      streams.set(key, stream);
    }
    stream.values.push([entry.ns.toString(), entry.line]);
  }
  return JSON.stringify({
    status: 'success',
    data: { resultType: 'streams', result: [...streams.values()], stats: RECORDED_STATS },
  });
}

/**
 * Starts the stand-in on 127.0.0.1:0 with `entries` (any order) and Loki's default limit of 5,000.
 *
 * @example const loki = await startLokiStandIn(recordedEntries(), { maxEntriesPerQuery: 1000 });
 */
export async function startLokiStandIn(
  entries: readonly StandInEntry[],
  options: { maxEntriesPerQuery?: number; metric?: (params: URLSearchParams) => string } = {},
): Promise<LokiStandIn> {
  const order = (list: readonly StandInEntry[]) =>
    [...list].sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
  let sorted = order(entries);
  const maxEntries = options.maxEntriesPerQuery ?? 5_000;
  const requests: URLSearchParams[] = [];
  const server = createServer((req, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/ready') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ready\n');
      return;
    }
    if (url.pathname !== '/loki/api/v1/query_range' && url.pathname !== '/loki/api/v1/query') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    const params = url.searchParams;
    requests.push(params);
    if (url.pathname === '/loki/api/v1/query' || params.has('step')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(options.metric ? options.metric(params) : fixture('query-empty.json'));
      return;
    }
    const limit = Number(params.get('limit') ?? '100');
    if (limit > maxEntries) {
      // Loki 2.8: 400, a JSON content type, a plain-text body.
      res.writeHead(400, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(`max entries limit per query exceeded, limit > max_entries_limit (${limit} > ${maxEntries})`);
      return;
    }
    const start = BigInt(params.get('start') ?? '0');
    const end = BigInt(params.get('end') ?? '0');
    const inRange = sorted.filter((e) => e.ns >= start && e.ns < end);
    const forward = params.get('direction') === 'forward';
    const picked = forward ? inRange.slice(0, limit) : inRange.slice(-limit).reverse();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(streamsBody(picked));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    replace: (next) => {
      sorted = order(next);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
