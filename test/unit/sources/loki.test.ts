import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { sourceSchema } from '../../../src/config/schema.js';
import { createLokiSource, toNanos } from '../../../src/sources/loki.js';
import { NoDataError, QueryError, SourceUnavailableError } from '../../../src/sources/types.js';
import { type FakeAnswer, type FakeServer, startFakeServer } from './fake-server.js';

/** Recorded Loki 2.8.11 answers (test/fixtures/loki/README.md). */
const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/loki/${name}`, import.meta.url), 'utf8');
const recorded = (name: string): FakeAnswer => ({ body: fixture(name) });

const T_MS = 1_795_763_520_000; // 2026-11-27T07:12:00Z, the recordings' end
const START_MS = 1_795_763_220_000;
const dispatcher = new Agent({ keepAliveTimeout: 10 });
afterAll(() => dispatcher.close());

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function lokiAnswering(reply: FakeAnswer, extra: Record<string, unknown> = {}) {
  server = await startFakeServer(() => reply);
  const source = createLokiSource(sourceSchema.parse({ url: server.url, ...extra }), {
    dispatcher,
    resilience: { retries: 0 },
  });
  return { source, server };
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected the query to fail'),
    (error: unknown) => error,
  );
}

describe('recorded Loki answers', () => {
  it('an instant metric query gives the vector value', async () => {
    const { source } = await lokiAnswering(recorded('query-vector.json'));
    await expect(source.query('sum(count_over_time({app="prep-api"} [5m]))', T_MS)).resolves.toEqual({
      value: 13,
      at: T_MS,
    });
  });

  it('a range metric query gives every point, with the empty minute absent', async () => {
    const { source } = await lokiAnswering(recorded('query-range-matrix.json'));
    const samples = await source.queryRange('q', START_MS, T_MS, 60_000);
    expect(samples.map((s) => s.value)).toEqual([2, 5, 1, 3, 4]);
    expect(samples.map((s) => (s.at - START_MS) / 60_000)).toEqual([0, 2, 3, 4, 5]);
  });

  it.each([
    { name: 'a multi-series instant answer names both apps', file: 'query-vector-multi.json', range: false },
    {
      name: 'a multi-series range answer names both apps',
      file: 'query-range-matrix-multi.json',
      range: true,
    },
  ])('$name', async ({ file, range }) => {
    const { source } = await lokiAnswering(recorded(file));
    const error = await errorOf(
      range ? source.queryRange('q', START_MS, T_MS, 60_000) : source.query('q', T_MS),
    );
    expect(error).toBeInstanceOf(QueryError);
    expect((error as Error).message).toContain('{app="prep-api"}');
    expect((error as Error).message).toContain('{app="prep-worker"}');
  });

  it('a streams answer to a metric check is a query error saying it is a log query', async () => {
    const { source } = await lokiAnswering(recorded('query-streams.json'));
    const error = await errorOf(source.queryRange('{app="prep-api"} | json', START_MS, T_MS, 60_000));
    expect(error).toBeInstanceOf(QueryError);
    expect((error as Error).message).toMatch(/log query, not a metric query/);
  });

  it('an empty matrix is no data', async () => {
    const { source } = await lokiAnswering(recorded('query-empty.json'));
    await expect(source.queryRange('q', START_MS, T_MS, 60_000)).rejects.toBeInstanceOf(NoDataError);
  });

  it('a parse error (plain text under a JSON content type) is a query error carrying the text', async () => {
    const status = Number(fixture('parse-error.status'));
    const { source } = await lokiAnswering({
      status,
      body: fixture('parse-error.txt'),
      contentType: 'application/json; charset=UTF-8',
    });
    const error = await errorOf(
      source.queryRange('sum(count_over_time({app="prep-api"} [1m])', START_MS, T_MS, 60_000),
    );
    expect(error).toBeInstanceOf(QueryError);
    expect((error as Error).message).toContain(
      'parse error at line 1, col 66: syntax error: unexpected $end',
    );
  });
});

describe('requests', () => {
  it('sends GET with nanosecond integer strings, the step in seconds and the tenant header', async () => {
    const { source, server } = await lokiAnswering(recorded('query-range-matrix.json'), { tenant: 'prep' });
    await source.queryRange('sum(count_over_time({app="prep-api"} [1m]))', START_MS, T_MS, 60_000);
    const seen = server.requests[0];
    expect(seen?.method).toBe('GET');
    expect(seen?.path).toBe('/loki/api/v1/query_range');
    expect(Object.fromEntries(seen?.query ?? [])).toEqual({
      query: 'sum(count_over_time({app="prep-api"} [1m]))',
      start: '1795763220000000000',
      end: '1795763520000000000',
      step: '60',
    });
    expect(seen?.headers['x-scope-orgid']).toBe('prep');
  });

  it('sends the instant time in nanoseconds', async () => {
    const { source, server } = await lokiAnswering(recorded('query-vector.json'));
    await source.query('q', T_MS);
    expect(server.requests[0]?.path).toBe('/loki/api/v1/query');
    expect(server.requests[0]?.query.get('time')).toBe('1795763520000000000');
  });

  it.each([
    { ms: 1_795_763_520_000, ns: '1795763520000000000' },
    { ms: 1_795_763_520_001, ns: '1795763520001000000' },
    { ms: 0, ns: '0' },
  ])('toNanos($ms) keeps every digit', ({ ms, ns }) => {
    expect(toNanos(ms)).toBe(ns);
  });
});

describe('source failures', () => {
  it.each([
    {
      name: 'a 500 with a plain-text body',
      answer: { status: 500, body: 'rpc error', contentType: 'text/plain' },
      reason: 'http_5xx',
    },
    {
      name: '429 too many outstanding requests',
      answer: { status: 429, body: 'too many outstanding requests', contentType: 'text/plain' },
      reason: 'rate_limited',
    },
    {
      name: 'a 503 from the query frontend',
      answer: { status: 503, body: 'unavailable' },
      reason: 'unavailable',
    },
    { name: 'a 200 that is not Loki JSON', answer: { status: 200, body: 'hello' }, reason: 'bad_response' },
  ])('$name → SourceUnavailableError $reason', async ({ answer, reason }) => {
    const { source } = await lokiAnswering(answer);
    const error = await errorOf(source.query('q', T_MS));
    expect(error).toBeInstanceOf(SourceUnavailableError);
    expect((error as SourceUnavailableError).reason).toBe(reason);
  });

  it('a Loki that never answers times out', async () => {
    const { source } = await lokiAnswering({ hang: true }, { timeout: '150ms' });
    await expect(source.query('q', T_MS)).rejects.toMatchObject({ reason: 'timeout' });
  });

  it('isOnline follows /ready', async () => {
    server = await startFakeServer((req) =>
      req.path === '/ready' ? { body: 'ready\n', contentType: 'text/plain' } : recorded('buildinfo.json'),
    );
    const source = createLokiSource(sourceSchema.parse({ url: server.url }), { dispatcher });
    await expect(source.isOnline()).resolves.toMatchObject({ online: true, version: '2.8.11' });
    expect(server.requests.map((r) => r.path)).toEqual(['/ready', '/loki/api/v1/status/buildinfo']);
    await server.close();
    const down = await source.isOnline();
    expect(down.online).toBe(false);
    server = undefined;
  });
});
