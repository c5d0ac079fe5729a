import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { probeSchema } from '../../../src/config/schema.js';
import { runProbe } from '../../../src/prober/engine.js';
import { prepareProbe } from '../../../src/prober/prepare.js';
import { renderValue, templateVariables } from '../../../src/prober/template.js';
import type { ProbeResult } from '../../../src/prober/types.js';
import { type Running, startHttp } from './servers.js';

let service: Running;
let deleted: string[] = [];
let created: unknown[] = [];
let readStatus = 200;
let omitId = false;

beforeAll(async () => {
  service = await startHttp((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      const match = /^\/api\/bookings\/([^/?]+)$/.exec(req.url ?? '');
      if (req.method === 'POST' && req.url === '/api/bookings') {
        created.push(JSON.parse(body));
        res.statusCode = 201;
        res.setHeader('location', '/api/bookings/b-42');
        res.end(JSON.stringify(omitId ? { ok: true } : { id: 'b-42', seq: 7, ref: 'REF-991' }));
      } else if (req.method === 'GET' && match) {
        if (req.url?.includes('hang')) return;
        res.statusCode = readStatus;
        res.end(JSON.stringify({ id: match[1], auth: req.headers.authorization ?? null }));
      } else if (req.method === 'DELETE' && match) {
        deleted.push(match[1] as string);
        res.statusCode = 204;
        res.end();
      } else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
  });
});

afterAll(() => service.close());

beforeEach(() => {
  deleted = [];
  created = [];
  readStatus = 200;
  omitId = false;
});

function journey(overrides: Record<string, unknown> = {}) {
  return probeSchema.parse({
    name: 'booking-journey',
    kind: 'synthetic',
    timeout: '2s',
    steps: [
      {
        name: 'create',
        request: { method: 'POST', path: '/api/bookings', json: { kitchenId: 'k-1' } },
        expect: [{ status: 201 }],
        extract: {
          bookingId: '$.id',
          seq: { jsonPath: '$.seq' },
          where: { header: 'Location' },
          ref: { regex: 'REF-(\\d+)' },
        },
      },
      {
        name: 'read',
        request: {
          method: 'GET',
          path: '/api/bookings/{{bookingId}}',
          headers: { authorization: 'Ref {{ref}}' },
        },
        expect: [
          { status: 200 },
          { jsonPath: '$.id', equals: '{{bookingId}}' },
          { jsonPath: '$.auth', equals: 'Ref 991' },
        ],
      },
      {
        name: 'again',
        request: { method: 'POST', path: '/api/bookings', json: { previous: '{{seq}}', at: '{{where}}' } },
        expect: [{ status: 201 }],
      },
    ],
    teardown: [
      {
        name: 'cancel',
        request: { method: 'DELETE', path: '/api/bookings/{{bookingId}}' },
        expect: [{ status: 204 }],
      },
    ],
    ...overrides,
  });
}

async function run(config = journey()): Promise<ProbeResult> {
  return runProbe(prepareProbe(config, { baseUrl: service.url }), { now: () => Date.now() });
}

describe('journeys', () => {
  it('carries extracted values (JSONPath, header, regex) into later paths, headers, bodies and expectations', async () => {
    const r = await run();
    expect(r.failure).toBeNull();
    expect(r.steps.map((s) => [s.probe, s.success])).toEqual([
      ['create', true],
      ['read', true],
      ['again', true],
      ['cancel', true],
    ]);
    // A whole-string template keeps the extracted value's type: 7 stays a number.
    expect(created[1]).toEqual({ previous: 7, at: '/api/bookings/b-42' });
    expect(deleted).toEqual(['b-42']);
    const stepTotal = r.steps.reduce((sum, s) => sum + s.durationMs, 0);
    expect(r.durationMs).toBeGreaterThanOrEqual(stepTotal);
    expect(r.steps[0]?.phases.connectMs).toBeGreaterThan(0);
  });

  it('stops at a failing step and still runs the teardown', async () => {
    readStatus = 500;
    const r = await run();
    expect(r.failure?.class).toBe('assertion');
    expect(r.failure?.message).toMatch(/^step read: status \(500\) equals 200/);
    expect(r.steps.map((s) => s.probe)).toEqual(['create', 'read', 'cancel']);
    expect(deleted).toEqual(['b-42']);
  });

  it('a step failing its assertions still hands its extracted values to the teardown', async () => {
    const config = journey({
      steps: [
        {
          name: 'create',
          request: { method: 'POST', path: '/api/bookings', json: {} },
          expect: [{ status: 200 }],
          extract: { bookingId: '$.id' },
        },
      ],
    });
    const r = await run(config);
    expect(r.failure?.message).toBe('step create: status (201) equals 200');
    expect(deleted).toEqual(['b-42']);
  });

  it('a missing extracted value fails with class extract, and a teardown needing it is skipped', async () => {
    omitId = true;
    const r = await run();
    expect(r.failure).toEqual({
      class: 'extract',
      message: 'step create: extract bookingId: JSONPath $.id found nothing in the response',
    });
    const cancel = r.steps.at(-1);
    expect(cancel?.probe).toBe('cancel');
    expect(cancel?.skipped).toBe('not run: bookingId never extracted');
    expect(deleted).toEqual([]);
  });

  it('a step timing out still leaves the teardown its own deadline', async () => {
    const config = journey({
      timeout: '300ms',
      steps: [
        {
          name: 'create',
          request: { method: 'POST', path: '/api/bookings', json: {} },
          extract: { bookingId: '$.id' },
        },
        { name: 'hang', request: { path: '/api/bookings/hang' } },
      ],
    });
    const r = await run(config);
    expect(r.failure?.class).toBe('timeout');
    expect(r.failure?.message).toMatch(/^step hang: timeout/);
    expect(deleted).toEqual(['b-42']);
  });

  it('a failing teardown fails a journey that otherwise passed', async () => {
    const config = journey({
      teardown: [
        {
          name: 'cancel',
          request: { method: 'DELETE', path: '/api/bookings/{{bookingId}}' },
          expect: [{ status: 200 }],
        },
      ],
    });
    const r = await run(config);
    expect(r.failure?.class).toBe('assertion');
    expect(r.failure?.message).toBe('teardown cancel: status (204) equals 200');
  });

  it('{{env.NAME}} is refused at run time with class extract', async () => {
    const config = journey({
      steps: [
        { name: 'secret', request: { path: '/api/bookings/x', headers: { authorization: '{{env.TOKEN}}' } } },
      ],
    });
    const r = await run(config);
    expect(r.failure?.class).toBe('extract');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the message shows the config syntax
    expect(r.failure?.message).toContain('write ${TOKEN}');
  });
});

describe('templates', () => {
  it('renders nested values and lists the variables used', () => {
    expect(renderValue({ a: ['{{x}}', 'id-{{x}}'], b: 1 }, { x: 5 })).toEqual({ a: [5, 'id-5'], b: 1 });
    expect(templateVariables({ path: '/a/{{x}}/{{ y }}', h: '{{x}}' })).toEqual(['x', 'y']);
  });
});
