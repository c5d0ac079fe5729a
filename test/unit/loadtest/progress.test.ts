import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { type LoadProgress, pollK6Progress, readK6Progress } from '../../../src/loadtest/progress.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/k6');
const compact = (name: string) => JSON.stringify(JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')));

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A loopback server answering like k6's REST API mid-run (recorded bodies and content types). */
async function fakeK6Api(options: { reverse?: boolean; failStatus?: boolean } = {}): Promise<string> {
  const api = createServer((req, res) => {
    if (req.url === '/v1/status' && !options.failStatus) {
      res
        .writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' })
        .end(compact('rest-status.json'));
    } else if (req.url === '/v1/metrics') {
      const body = JSON.parse(compact('rest-metrics.json')) as { data: unknown[] };
      if (options.reverse) body.data.reverse();
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end(JSON.stringify(body));
    } else {
      res.writeHead(503).end('not yet');
    }
  });
  server = api;
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
}

const EXPECTED = {
  profile: 'load',
  state: 'running',
  queuePosition: null,
  elapsedMs: 5_000,
  vus: 3,
  vusMax: 5,
  requests: 89,
  failedRate: 0,
  iterations: 43,
  thresholdsBreached: false,
};

describe('k6 live progress', () => {
  it.each([false, true])('reads the recorded answers (metrics order reversed: %s)', async (reverse) => {
    const api = await fakeK6Api({ reverse });
    const progress = await readK6Progress(api, 'load', 5_000, { signal: new AbortController().signal });
    expect(progress).toMatchObject(EXPECTED);
    expect(progress?.p95Ms).toBeCloseTo(301.2451778, 6);
    expect(progress?.requestsPerSecond).toBeCloseTo(19.206642421762265, 9);
  });

  it('still reports metrics when /v1/status does not answer', async () => {
    const api = await fakeK6Api({ failStatus: true });
    const progress = await readK6Progress(api, 'load', 5_000, { signal: new AbortController().signal });
    expect(progress).toMatchObject({ vus: 3, vusMax: 5, requests: 89, thresholdsBreached: null });
  });

  it('tolerates an API that is not up yet', async () => {
    const api = await fakeK6Api();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    server = undefined;
    expect(
      await readK6Progress(api, 'load', 0, { signal: new AbortController().signal, timeoutMs: 500 }),
    ).toBeNull();
  });

  it('polls once per interval of clock time until stopped', async () => {
    const api = await fakeK6Api();
    const clock = new ManualClock(10_000);
    const stop = new AbortController();
    const seen: LoadProgress[] = [];
    const loop = pollK6Progress({
      apiBaseUrl: api,
      profile: 'load',
      clock,
      startedAtMs: 10_000,
      intervalMs: 5_000,
      signal: stop.signal,
      onProgress: (p) => seen.push(p),
    });
    await clock.advance(4_999);
    expect(seen).toHaveLength(0);
    for (let i = 1; i <= 2; i++) {
      await clock.advance(i === 1 ? 1 : 5_000);
      for (let j = 0; j < 100 && seen.length < i; j++) await new Promise((r) => setTimeout(r, 10));
    }
    expect(seen.map((p) => p.elapsedMs)).toEqual([5_000, 10_000]);
    stop.abort();
    expect(await loop).toMatchObject({ elapsedMs: 10_000 });
  });
});
