import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSharedConnection, type HttpOptions, timedRequest } from '../../../src/prober/http.js';
import { type Cert, makeSelfSignedCert, type Running, startHttp, startHttps } from './servers.js';

let cert: Cert;
let plain: Running;
let secure: Running;
let seen: IncomingMessage[] = [];

const options: HttpOptions = {
  timeoutMs: 2000,
  maxBodyBytes: 1 << 20,
  maxRedirects: 0,
  tls: { rejectUnauthorized: true },
  family: 0,
};

beforeAll(async () => {
  cert = makeSelfSignedCert();
  plain = await startHttp((req, res) => {
    seen.push(req);
    if (req.url === '/hold') return; // answered never: the caller's abort ends it
    if (req.url === '/bad-location') {
      res.statusCode = 302;
      res.setHeader('location', 'http://[not-an-address/');
      res.end();
      return;
    }
    res.setHeader('x-seen', ['a', 'b']);
    res.end('ok');
  });
  secure = await startHttps(cert, (_req, res) => res.end('ok'));
});

afterAll(async () => {
  await Promise.all([plain.close(), secure.close()]);
  cert.cleanup();
});

describe('timedRequest on node:http', () => {
  it('sends Host as the URL writes it and one connection: close, and joins repeated response headers', async () => {
    seen = [];
    const x = await timedRequest({ url: `${plain.url}/h`, method: 'GET', headers: { 'x-a': '1' } }, options);
    expect(x.failure).toBeNull();
    expect(seen[0]?.headers.host).toBe(`127.0.0.1:${plain.port}`);
    expect(seen[0]?.headers.connection).toBe('close');
    expect(seen[0]?.headers['x-a']).toBe('1');
    expect(x.headers['x-seen']).toBe('a, b');
    expect(x.body.toString()).toBe('ok');
  });

  it.each([
    ['a header value with a line break', { url: '/h', headers: { 'x-a': 'a\r\nb' } }, 0],
    ['a redirect to a Location that is no URL', { url: '/bad-location', headers: {} }, 5],
    ['a redirect to another scheme', { url: '/h', headers: {}, scheme: 'ftp' }, 0],
  ])('%s is a failed exchange of class http, not an exception', async (_name, spec, maxRedirects) => {
    const base = 'scheme' in spec ? plain.url.replace('http', spec.scheme as string) : plain.url;
    const x = await timedRequest(
      { url: `${base}${spec.url}`, method: 'GET', headers: spec.headers },
      { ...options, maxRedirects },
    );
    expect(x.failure?.class).toBe('http');
  });

  it("the caller's abort mid-exchange ends it at once as a cancelled timeout", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 50);
    const x = await timedRequest(
      { url: `${plain.url}/hold`, method: 'GET', headers: {} },
      { ...options, signal: controller.signal },
    );
    expect(x.failure?.class).toBe('timeout');
    expect(x.failure?.message).toContain('shutdown');
    expect(x.durationMs).toBeLessThan(1000);
  });

  it('a kept https connection reports the handshake once and its TLS facts on every run', async () => {
    const tlsOptions = {
      ...options,
      tls: { rejectUnauthorized: true, ca: cert.cert, serverName: 'localhost' },
    };
    const shared = createSharedConnection(tlsOptions);
    try {
      const request = { url: `${secure.url}/`, method: 'GET', headers: {} };
      const first = await timedRequest(request, { ...tlsOptions, connection: shared });
      const second = await timedRequest(request, { ...tlsOptions, connection: shared });
      expect(first.failure).toBeNull();
      expect(first.phases.tlsMs).toBeGreaterThan(0);
      expect(second.failure).toBeNull();
      expect(second.phases.tlsMs).toBe(0);
      expect(second.phases.connectMs).toBe(0);
      expect(second.tls?.protocol).toBe('TLSv1.3');
    } finally {
      await shared.close();
    }
  });
});
