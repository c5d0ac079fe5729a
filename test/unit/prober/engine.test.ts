import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeSchema } from '../../../src/config/schema.js';
import { runProbe } from '../../../src/prober/engine.js';
import { prepareProbe } from '../../../src/prober/prepare.js';
import type { FailureClass, ProbeResult } from '../../../src/prober/types.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { type Cert, makeSelfSignedCert, type Running, startHttp, startHttps, startRaw } from './servers.js';

const now = () => Date.now();

async function probe(raw: Record<string, unknown>, baseUrl: string): Promise<ProbeResult> {
  const config = probeSchema.parse({ name: 'p', kind: 'smoke', timeout: '2s', ...raw });
  return runProbe(prepareProbe(config, { baseUrl }), { now, retryDelayMs: 10 });
}

function sumPhases(r: ProbeResult): number {
  const p = r.phases;
  return p.dnsMs + p.connectMs + p.tlsMs + p.ttfbMs + p.transferMs;
}

function echo(req: IncomingMessage, res: ServerResponse): void {
  let body = '';
  req.on('data', (c) => {
    body += c;
  });
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
  });
}

let cert: Cert;
const servers: Running[] = [];
let plain: Running;
let secure: Running;
let refusedUrl: string;

beforeAll(async () => {
  cert = makeSelfSignedCert();
  plain = await startHttp((req, res) => {
    if (req.url === '/slow') {
      setTimeout(() => res.end('{"status":"ok"}'), 30);
    } else if (req.url === '/down') {
      res.statusCode = 503;
      res.end('{"status":"down"}');
    } else if (req.url === '/big') {
      res.end('x'.repeat(2 * 1024 * 1024));
    } else if (req.url === '/cross') {
      res.statusCode = 307;
      res.setHeader('location', `http://localhost:${plain.port}/echo`);
      res.end();
    } else if (req.url?.startsWith('/hop/')) {
      const n = Number(req.url.slice(5));
      res.statusCode = 302;
      res.setHeader('location', n > 1 ? `/hop/${n - 1}` : '/echo');
      res.end();
    } else {
      echo(req, res);
    }
  });
  secure = await startHttps(cert, (_req, res) => {
    res.setHeader('strict-transport-security', 'max-age=63072000');
    res.end('{"status":"ok"}');
  });
  const gone = await startHttp(() => {});
  refusedUrl = gone.url;
  await gone.close();
  servers.push(plain, secure);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  cert.cleanup();
});

describe('timed phases', () => {
  it('a fresh connection to a name measures dns, connect and ttfb, and the phases add up to the total', async () => {
    const r = await probe(
      { ipVersion: 'ipv4', request: { path: '/slow' }, expect: [{ status: 200 }] },
      `http://localhost:${plain.port}`,
    );
    expect(r.failure).toBeNull();
    expect(r.phases.dnsMs).toBeGreaterThan(0);
    expect(r.phases.connectMs).toBeGreaterThan(0);
    expect(r.phases.tlsMs).toBe(0);
    expect(r.phases.ttfbMs).toBeGreaterThanOrEqual(25);
    expect(Math.abs(sumPhases(r) - r.durationMs)).toBeLessThan(0.5);
  });

  it('ipVersion ipv6 never falls back to the IPv4 address the server listens on', async () => {
    const r = await probe(
      { ipVersion: 'ipv6', request: { path: '/echo' } },
      `http://localhost:${plain.port}`,
    );
    expect(r.success).toBe(false);
    expect(['dns', 'connect']).toContain(r.failure?.class);
  });

  it('an IP literal skips dns but still pays connect', async () => {
    const r = await probe({ request: { path: '/echo' } }, plain.url);
    expect(r.phases.dnsMs).toBe(0);
    expect(r.phases.connectMs).toBeGreaterThan(0);
  });

  it('https measures the handshake and reports the certificate facts', async () => {
    const r = await probe(
      {
        tls: { caFile: cert.certFile, serverName: 'localhost' },
        request: { path: '/' },
        expect: [
          { certExpiresInDays: { gt: 29 } },
          { tlsVersion: { gte: 1.2 } },
          { header: 'strict-transport-security', exists: true },
        ],
      },
      secure.url,
    );
    expect(r.failure).toBeNull();
    expect(r.phases.tlsMs).toBeGreaterThan(0);
    expect(r.tls?.protocol).toBe('TLSv1.3');
    expect(r.tls?.subjectAltNames).toContain('DNS:localhost');
    expect(r.tls?.issuer).toContain('CN=localhost');
    const days = ((r.tls?.leafExpiresAt ?? 0) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThan(31);
    expect(r.tls?.chainExpiresAt).toBe(r.tls?.leafExpiresAt);
    expect(Math.abs(sumPhases(r) - r.durationMs)).toBeLessThan(0.5);
  });

  it('reuseConnection pays connect once, then reuses the socket', async () => {
    const config = probeSchema.parse({
      name: 'p',
      kind: 'smoke',
      reuseConnection: true,
      request: { path: '/echo' },
    });
    const prepared = prepareProbe(config, { baseUrl: plain.url });
    const first = await runProbe(prepared, { now });
    const second = await runProbe(prepared, { now });
    await prepared.connection?.close();
    expect(first.phases.connectMs).toBeGreaterThan(0);
    expect(second.phases.connectMs).toBe(0);
    expect(second.success).toBe(true);
  });
});

describe('failure classes, each produced for real', () => {
  const cases: { name: string; cls: FailureClass; url: () => string; raw?: Record<string, unknown> }[] = [
    { name: 'a .invalid host name is dns', cls: 'dns', url: () => 'http://vigil-probe-test.invalid' },
    { name: 'a refused port is connect', cls: 'connect', url: () => refusedUrl },
    { name: 'a self-signed certificate is tls', cls: 'tls', url: () => secure.url },
    {
      name: 'a 503 against status 200 is assertion',
      cls: 'assertion',
      url: () => plain.url,
      raw: { request: { path: '/down' } },
    },
  ];
  it.each(cases)('$name', async ({ cls, url, raw }) => {
    const r = await probe({ request: { path: '/' }, expect: [{ status: 200 }], ...raw }, url());
    expect(r.success).toBe(false);
    expect(r.failure?.class).toBe(cls);
  });

  it('a certificate for another name is tls, even with its CA trusted', async () => {
    const r = await probe(
      { tls: { caFile: cert.certFile, serverName: 'prep.example' }, request: { path: '/' } },
      secure.url,
    );
    expect(r.failure?.class).toBe('tls');
    expect(r.failure?.message).toContain('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('the assertion message puts the actual value beside the expected one', async () => {
    const r = await probe(
      { request: { path: '/down' }, expect: [{ status: 200 }, { jsonPath: '$.status', equals: 'ok' }] },
      plain.url,
    );
    expect(r.failure?.message).toBe('status (503) equals 200; jsonPath $.status ("down") equals "ok"');
    expect(r.assertions).toEqual([
      { description: 'status equals 200', passed: false, actual: 503 },
      { description: 'jsonPath $.status equals "ok"', passed: false, actual: 'down' },
    ]);
  });

  it('a server that accepts and never answers is timeout, within the probe deadline', async () => {
    const silent = await startRaw(() => {});
    servers.push(silent);
    const r = await probe({ timeout: '300ms', request: { path: '/' } }, silent.url);
    expect(r.failure?.class).toBe('timeout');
    expect(r.durationMs).toBeGreaterThanOrEqual(290);
    expect(r.durationMs).toBeLessThan(1500);
  });

  it('a server that resets mid-body is http', async () => {
    const resetting = await startRaw((s) => {
      s.once('data', () => {
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial');
        setTimeout(() => s.resetAndDestroy(), 10);
      });
    });
    servers.push(resetting);
    const r = await probe({ request: { path: '/' } }, resetting.url);
    expect(r.failure?.class).toBe('http');
    expect(r.failure?.message).toContain('mid-body');
    expect(r.phases.ttfbMs).toBeGreaterThan(0);
  });

  it('an answer that is not HTTP is http', async () => {
    const garbage = await startRaw((s) => s.once('data', () => s.end('SSH-2.0-OpenSSH\r\n\r\n')));
    servers.push(garbage);
    const r = await probe({ request: { path: '/' } }, garbage.url);
    expect(r.failure?.class).toBe('http');
    expect(r.failure?.message).toContain('invalid HTTP');
  });

  it('a TLS port that answers in plain text fails the handshake as tls', async () => {
    const plainOnTls = await startRaw((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    servers.push(plainOnTls);
    const r = await probe({ request: { path: '/' } }, plainOnTls.url.replace('http:', 'https:'));
    expect(r.failure?.class).toBe('tls');
  });
});

describe('requests', () => {
  it('sends method, headers, query, JSON body and bearer auth as configured', async () => {
    const r = await probe(
      {
        request: {
          method: 'POST',
          path: '/echo',
          headers: { 'X-Trace': 't-1' },
          query: { page: 2, q: 'a b' },
          json: { kitchenId: 'k-1' },
          auth: { bearer: 's3cret' },
        },
        expect: [
          { jsonPath: '$.method', equals: 'POST' },
          { jsonPath: '$.url', equals: '/echo?page=2&q=a+b' },
          { jsonPath: '$.headers.x-trace', equals: 't-1' },
          { jsonPath: "$.headers['content-type']", equals: 'application/json' },
          { jsonPath: '$.headers.authorization', equals: 'Bearer s3cret' },
          { jsonPath: '$.body', equals: '{"kitchenId":"k-1"}' },
        ],
      },
      plain.url,
    );
    expect(r.failure).toBeNull();
  });

  it('sends forms and basic auth', async () => {
    const r = await probe(
      {
        request: {
          method: 'PUT',
          path: '/echo',
          form: { a: '1', b: 'x y' },
          auth: { basic: { username: 'u', password: 'p' } },
        },
        expect: [
          { jsonPath: '$.body', equals: 'a=1&b=x+y' },
          { jsonPath: '$.headers.authorization', equals: `Basic ${Buffer.from('u:p').toString('base64')}` },
          { jsonPath: "$.headers['content-type']", equals: 'application/x-www-form-urlencoded' },
        ],
      },
      plain.url,
    );
    expect(r.failure).toBeNull();
  });

  it.each([
    { follow: false, status: 302 },
    { follow: true, status: 200 },
    { follow: 3, status: 200 },
    { follow: 2, status: 302 },
  ])('followRedirects $follow on a chain of 3 ends at $status', async ({ follow, status }) => {
    const r = await probe({ followRedirects: follow, request: { path: '/hop/3' } }, plain.url);
    expect(r.status).toBe(status);
  });

  it.each([
    ['keeps', '/hop/1', true],
    ['drops', '/cross', false],
  ])('a redirect %s credentials on the way to %s', async (_verb, path, kept) => {
    const r = await probe(
      {
        ipVersion: 'ipv4',
        followRedirects: true,
        request: { path, auth: { bearer: 's3cret' } },
        expect: [{ status: 200 }, { jsonPath: '$.headers.authorization', exists: kept }],
      },
      plain.url,
    );
    expect(r.failure).toBeNull();
  });

  it('reads a body only up to maxBodyBytes and says so', async () => {
    const r = await probe(
      {
        maxBodyBytes: 1000,
        request: { path: '/big' },
        expect: [{ status: 200 }, { body: { matches: '^x{1000}$' } }],
      },
      plain.url,
    );
    expect(r.failure).toBeNull();
    expect(r.bodyTruncated).toBe(true);
  });
});

describe('retries and metrics', () => {
  it('retries a network failure and records each failed attempt', async () => {
    let connections = 0;
    const flaky = await startRaw((s) => {
      connections++;
      if (connections === 1) s.once('data', () => s.resetAndDestroy());
      else s.once('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok'));
    });
    servers.push(flaky);
    const r = await probe({ retries: 2, request: { path: '/' }, expect: [{ status: 200 }] }, flaky.url);
    expect(r.success).toBe(true);
    expect(r.attempts).toBe(2);
    expect(r.retried?.[0]?.failure.class).toBe('http');
  });

  it('a run cancelled by shutdown ends at once as a timeout, not an exception', async () => {
    const config = probeSchema.parse({ name: 'p', kind: 'smoke', retries: 2, request: { path: '/slow' } });
    const controller = new AbortController();
    controller.abort(new Error('stopping'));
    const r = await runProbe(prepareProbe(config, { baseUrl: plain.url }), {
      now,
      signal: controller.signal,
    });
    expect(r.failure).toEqual({
      class: 'timeout',
      message: 'timeout: cancelled before a response (shutdown)',
    });
    expect(r.attempts).toBe(1);
  });

  it('never retries an assertion failure', async () => {
    const r = await probe({ retries: 2, request: { path: '/down' }, expect: [{ status: 200 }] }, plain.url);
    expect(r.attempts).toBe(1);
    expect(r.retried).toBeUndefined();
  });

  it('updates success, duration by phase, runs by class and certificate expiry', async () => {
    const metrics = createMetrics({ version: 't', defaultMetrics: false });
    const config = probeSchema.parse({
      name: 'edge',
      kind: 'smoke',
      tls: { insecureSkipVerify: true },
      request: { path: '/' },
    });
    await runProbe(prepareProbe(config, { baseUrl: secure.url }), { now, metrics, service: 'prep-api' });
    const down = probeSchema.parse({
      name: 'down',
      kind: 'smoke',
      request: { path: '/down' },
      expect: [{ status: 200 }],
    });
    await runProbe(prepareProbe(down, { baseUrl: plain.url }), { now, metrics, service: 'prep-api' });
    const text = await metrics.registry.metrics();
    expect(text).toContain('vigil_probe_success{service="prep-api",probe="edge",kind="smoke"} 1');
    expect(text).toContain('vigil_probe_success{service="prep-api",probe="down",kind="smoke"} 0');
    expect(text).toContain(
      'vigil_probe_runs_total{service="prep-api",probe="down",kind="smoke",result="failure",class="assertion"} 1',
    );
    expect(text).toContain(
      'vigil_probe_runs_total{service="prep-api",probe="edge",kind="smoke",result="success",class="none"} 1',
    );
    // The last run's TLS handshake, as a gauge; both runs in the aggregate histogram (no probe label).
    expect(text).toMatch(
      /vigil_probe_duration_seconds\{service="prep-api",probe="edge",kind="smoke",phase="tls"\} 0\.\d*[1-9]/,
    );
    expect(text).toContain(
      'vigil_probe_phase_duration_seconds_count{service="prep-api",kind="smoke",phase="tls"} 2',
    );
    expect(text).toMatch(/vigil_tls_cert_expiry_timestamp_seconds\{service="prep-api",probe="edge"\} \d{10}/);
  });
});
