import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { probeSchema } from '../../../src/config/schema.js';
import { runProbe } from '../../../src/prober/engine.js';
import { prepareProbe } from '../../../src/prober/prepare.js';
import { renderUrlPart, UnsafeVariableError } from '../../../src/prober/template.js';
import type { ProbeResult } from '../../../src/prober/types.js';
import { type Running, startHttp } from './servers.js';

/*
 * A value extracted from one answer goes into the next request. The service under watch is not trusted to
 * hand back well-formed ids, so a hostile or broken id must stay data inside its path segment: the server
 * below records the exact request line it received.
 */

let service: Running;
let received: { method: string; url: string; host: string; body: string }[] = [];
let hostileId: unknown = 'b-42';

beforeAll(async () => {
  service = await startHttp((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', body });
      res.setHeader('content-type', 'application/json');
      if (req.method === 'POST') {
        res.statusCode = 201;
        res.end(JSON.stringify({ id: hostileId }));
      } else {
        res.statusCode = 200;
        res.end('{}');
      }
    });
  });
});

afterAll(() => service.close());

beforeEach(() => {
  received = [];
});

function journey(read: Record<string, unknown>) {
  return probeSchema.parse({
    name: 'booking-journey',
    kind: 'synthetic',
    timeout: '2s',
    steps: [
      {
        name: 'create',
        request: { method: 'POST', path: '/api/bookings', json: {} },
        expect: [{ status: 201 }],
        extract: { bookingId: '$.id' },
      },
      { name: 'read', request: { method: 'GET', ...read }, expect: [{ status: 200 }] },
    ],
  });
}

async function run(id: unknown, read: Record<string, unknown>): Promise<ProbeResult> {
  hostileId = id;
  return runProbe(prepareProbe(journey(read), { baseUrl: service.url }), { now: () => Date.now() });
}

describe('extracted values in a request path or query', () => {
  it.each([
    { id: '../../users/1', path: '/api/bookings/..%2F..%2Fusers%2F1' },
    { id: '@evil.example', path: '/api/bookings/%40evil.example' },
    { id: '//evil.example', path: '/api/bookings/%2F%2Fevil.example' },
    { id: 'a?admin=1#x', path: '/api/bookings/a%3Fadmin%3D1%23x' },
    { id: 'b 7/ü', path: '/api/bookings/b%207%2F%C3%BC' },
    { id: 7, path: '/api/bookings/7' },
  ])('$id stays inside its segment: the target receives $path', async ({ id, path }) => {
    const r = await run(id, { path: '/api/bookings/{{bookingId}}' });
    expect(r.failure).toBeNull();
    expect(received.map((x) => x.url)).toEqual(['/api/bookings', path]);
    expect(received[1]?.host).toBe(`127.0.0.1:${service.port}`);
  });

  it('a value in the query string is encoded too, whether written in the path or in query:', async () => {
    const r = await run('../x&admin=1', {
      path: '/api/search?q={{bookingId}}',
      query: { ref: '{{bookingId}}' },
    });
    expect(r.failure).toBeNull();
    const url = new URL(received[1]?.url ?? '', service.url);
    expect(url.pathname).toBe('/api/search');
    expect(url.searchParams.getAll('q')).toEqual(['../x&admin=1']);
    expect(url.searchParams.getAll('ref')).toEqual(['../x&admin=1']);
    expect(url.searchParams.has('admin')).toBe(false);
  });

  it.each(['..', '.'])('a value that is exactly "%s" is refused before any request is sent', async (id) => {
    const r = await run(id, { path: '/api/bookings/{{bookingId}}/items' });
    expect(r.failure?.class).toBe('extract');
    expect(r.failure?.message).toContain('bookingId');
    expect(received.map((x) => x.url)).toEqual(['/api/bookings']);
  });

  it('a path template with no leading slash cannot let a value become the host or port', async () => {
    const r = await run('@evil.example', { path: '{{bookingId}}' });
    expect(r.failure?.class).toBe('extract');
    expect(received).toHaveLength(1);
  });

  it('a url template whose host is written out keeps that host', async () => {
    const r = await run('//evil.example/x', { url: `${service.url}/api/bookings/{{bookingId}}` });
    expect(r.failure).toBeNull();
    expect(received[1]?.url).toBe('/api/bookings/%2F%2Fevil.example%2Fx');
  });

  it('a JSON body takes the raw value, not an encoded one', async () => {
    hostileId = '../../users/1';
    const config = probeSchema.parse({
      name: 'copy',
      kind: 'synthetic',
      timeout: '2s',
      steps: [
        {
          name: 'create',
          request: { method: 'POST', path: '/api/bookings', json: {} },
          extract: { bookingId: '$.id' },
        },
        { name: 'copy', request: { method: 'POST', path: '/api/copies', json: { of: '{{bookingId}}' } } },
      ],
    });
    const r = await runProbe(prepareProbe(config, { baseUrl: service.url }), { now: () => Date.now() });
    expect(r.failure).toBeNull();
    expect(JSON.parse(received[1]?.body ?? 'null')).toEqual({ of: '../../users/1' });
  });
});

describe('renderUrlPart', () => {
  it('encodes every value and leaves literal text alone', () => {
    expect(renderUrlPart('/a/{{x}}/b?c={{y}}', { x: 'p/q', y: 'r&s' })).toBe('/a/p%2Fq/b?c=r%26s');
  });

  it('refuses a dot segment', () => {
    expect(() => renderUrlPart('/a/{{x}}', { x: '..' })).toThrow(UnsafeVariableError);
  });
});
