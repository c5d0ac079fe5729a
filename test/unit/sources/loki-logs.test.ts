import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { sourceSchema } from '../../../src/config/schema.js';
import { lintLogQuery } from '../../../src/patterns/query.js';
import { createLokiLogReader } from '../../../src/sources/loki-logs.js';
import { QueryError, SourceUnavailableError } from '../../../src/sources/types.js';
import {
  type LokiStandIn,
  recordedEntries,
  type StandInEntry,
  startLokiStandIn,
} from '../../helpers/loki-logs.js';
import { type FakeServer, startFakeServer } from './fake-server.js';

/*
 * Paged reads of log lines (issue 19): the recorded Loki 2.8 answers replayed as they are, and a stand-in
 * serving the recorded push's lines by time, direction and limit. Every query a test sends must be a
 * LogQL log query by the real parser.
 */

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/loki/${name}`, import.meta.url), 'utf8');
const dispatcher = new Agent({ keepAliveTimeout: 10 });
afterAll(() => dispatcher.close());

const QUERY = '{app="prep-api"} | json | level="error"';
const START_MS = 1_795_763_160_000; // the recorded push's first minute
const T_MS = 1_795_763_520_000;

let standIn: LokiStandIn | undefined;
let fake: FakeServer | undefined;
afterEach(async () => {
  for (const params of standIn?.requests ?? []) expect(lintLogQuery(params.get('query') ?? '')).toEqual([]);
  await standIn?.close();
  await fake?.close();
  standIn = undefined;
  fake = undefined;
});

function reader(url: string, pageSize?: number) {
  return createLokiLogReader(
    sourceSchema.parse({ url }),
    { dispatcher, resilience: { retries: 0 } },
    pageSize === undefined ? {} : { pageSize },
  );
}

/** `n` lines, `perInstant` at each nanosecond instant (Loki keeps lines that share a timestamp). */
function burst(n: number, perInstant: number): StandInEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    ns: BigInt(START_MS) * 1_000_000n + BigInt(Math.floor(i / perInstant)) * 1_000n,
    line: `{"level":"error","msg":"payment failed","n":${i}}`,
    labels: { app: 'prep-api' },
  }));
}

describe('recorded answers', () => {
  it('reads a recorded streams answer: ns timestamps as ms, stream labels kept, oldest first', async () => {
    fake = await startFakeServer(() => ({ body: fixture('query-streams.json') }));
    const read = await reader(fake.url).readLines(QUERY, START_MS, T_MS, { maxLines: 100 });
    expect(read.lines).toHaveLength(10);
    expect(read.sampled).toBe(false);
    const times = read.lines.map((l) => l.at);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(read.lines[0]?.labels).toMatchObject({ app: 'prep-api', level: 'error' });
    expect(read.lines.find((l) => l.at === 1_795_763_337_723)?.line).toContain('upstream timeout');
    const sent = fake.requests[0]?.query;
    expect(Object.fromEntries(sent ?? [])).toEqual({
      query: QUERY,
      start: '1795763160000000000',
      end: '1795763520000000000',
      limit: '100',
      direction: 'forward',
    });
  });

  it('an empty streams answer is no lines, not an error', async () => {
    fake = await startFakeServer(() => ({ body: fixture('query-empty-streams.json') }));
    await expect(
      reader(fake.url).readLines('{app="no-such-app"}', START_MS, T_MS, { maxLines: 10 }),
    ).resolves.toMatchObject({
      lines: [],
      sampled: false,
      pages: 1,
    });
  });

  it("a parse error (400, plain text under a JSON content type) is a query error with Loki's words", async () => {
    fake = await startFakeServer(() => ({
      status: 400,
      contentType: 'application/json; charset=UTF-8',
      body: fixture('parse-error.txt'),
    }));
    const error = await reader(fake.url)
      .readLines(QUERY, START_MS, T_MS, { maxLines: 10 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryError);
    expect((error as Error).message).toContain('parse error at line 1, col 66');
  });

  it('a metric answer is a query error: a patterns check reads lines', async () => {
    fake = await startFakeServer(() => ({ body: fixture('query-range-matrix.json') }));
    const error = await reader(fake.url)
      .readLines(QUERY, START_MS, T_MS, { maxLines: 10 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryError);
  });

  it('Loki down is the source unavailable', async () => {
    fake = await startFakeServer(() => ({}));
    const url = fake.url;
    await fake.close();
    fake = undefined;
    const error = await reader(url)
      .readLines(QUERY, START_MS, T_MS, { maxLines: 10 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceUnavailableError);
  });
});

describe('paging by timestamp', () => {
  it('reads the recorded push in pages, every line once, whatever the page size', async () => {
    const entries = recordedEntries().filter((e) => e.labels.app === 'prep-api');
    standIn = await startLokiStandIn(entries);
    const read = await reader(standIn.url, 7).readLines('{app="prep-api"} | json', START_MS, T_MS, {
      maxLines: 20_000,
    });
    expect(read.lines.map((l) => l.line)).toEqual(entries.map((e) => e.line));
    expect(read.sampled).toBe(false);
    expect(read.pages).toBeGreaterThanOrEqual(Math.ceil(entries.length / 7));
    // Each page starts where the last ended (start inclusive): never before the previous start.
    const starts = standIn.requests.map((p) => BigInt(p.get('start') ?? '0'));
    expect(starts).toEqual([...starts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  });

  it('lines sharing a timestamp across a page boundary are neither lost nor doubled', async () => {
    const entries = burst(23, 4);
    standIn = await startLokiStandIn(entries);
    const read = await reader(standIn.url, 5).readLines(QUERY, START_MS, START_MS + 60_000, {
      maxLines: 1_000,
    });
    expect(read.lines.map((l) => l.line)).toEqual(entries.map((e) => e.line));
  });

  it('never asks more than 5,000 lines per query, and caps the read at maxLines, saying it sampled', async () => {
    standIn = await startLokiStandIn(burst(12_000, 1));
    const read = await reader(standIn.url).readLines(QUERY, START_MS, START_MS + 60_000, { maxLines: 9_000 });
    expect(read.lines).toHaveLength(9_000);
    expect(read.sampled).toBe(true);
    expect(read.lines[8_999]?.line).toContain('"n":8999');
    // The second page starts at the first page's last instant and asks one more for the line it skips.
    expect(standIn.requests.map((p) => Number(p.get('limit')))).toEqual([5_000, 4_001]);
  });

  it('a Loki configured with a lower max_entries_limit_per_query is read at its limit', async () => {
    standIn = await startLokiStandIn(burst(2_500, 1), { maxEntriesPerQuery: 1_000 });
    const read = await reader(standIn.url).readLines(QUERY, START_MS, START_MS + 60_000, {
      maxLines: 20_000,
    });
    expect(read.lines).toHaveLength(2_500);
    expect(read.sampled).toBe(false);
    expect(standIn.requests.map((p) => Number(p.get('limit')))).toEqual([5_000, 1_000, 1_000, 1_000]);
  });
});
