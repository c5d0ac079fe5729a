import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';

/** How a demo version behaves: `good` answers fast and right; `bad` fails and crawls on business routes. */
export type DemoVersion = 'good' | 'bad';

export interface PrepService {
  readonly url: string;
  readonly port: number;
  /** Switches behaviour, as a deploy of that version would. */
  deploy(version: DemoVersion): void;
  readonly version: DemoVersion;
  close(): Promise<void>;
}

interface Booking {
  id: string;
  kitchenId: string;
  slot: string;
  status: 'confirmed' | 'cancelled';
}

const BAD_ERROR_EVERY = 3; // the bad version fails one business request in three
const BAD_DELAY_MS = 650; // and answers slower than the 500 ms P95 objective

/**
 * A small Prep-like service for the demo and tests: health with dependency status, ready, live,
 * bookings and payments, and its own Prometheus `/metrics` (http_requests_total, a latency histogram).
 *
 * @example const svc = await startPrepService(); svc.deploy('bad'); await svc.close();
 */
export async function startPrepService(options: { host?: string; port?: number } = {}): Promise<PrepService> {
  const registry = new Registry();
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by route, method and status code.',
    labelNames: ['route', 'method', 'code'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration.',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5],
    registers: [registry],
  });
  const bookings = new Map<string, Booking>();
  let version: DemoVersion = 'good';
  let businessCount = 0;

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const reply = (res: ServerResponse, status: number, body: unknown, route: string): string => {
    send(res, status, body);
    return route;
  };

  const readJson = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 65_536) throw new Error('body too large');
      chunks.push(chunk as Buffer);
    }
    if (chunks.length === 0) return {};
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  };

  /** The bad version's misbehaviour on business routes: slow always, failing one in three. */
  const misbehave = async (): Promise<boolean> => {
    if (version === 'good') return false;
    businessCount++;
    await new Promise((resolve) => setTimeout(resolve, BAD_DELAY_MS));
    return businessCount % BAD_ERROR_EVERY === 0;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<string> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/live') return reply(res, 200, { status: 'ok' }, '/live');
    if (path === '/ready') return reply(res, 200, { status: 'ready', version }, '/ready');
    if (path === '/health') {
      send(res, 200, {
        status: 'ok',
        version,
        dependencies: { database: 'ok', payments: 'ok', queue: 'ok' },
      });
      return '/health';
    }
    if (path === '/metrics') {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
      return '/metrics';
    }
    if (path === '/api/bookings' && method === 'POST') {
      const body = await readJson(req);
      if (await misbehave()) return reply(res, 500, { error: 'booking store timeout' }, '/api/bookings');
      const booking: Booking = {
        id: `bk_${randomUUID().slice(0, 8)}`,
        kitchenId: String(body.kitchenId ?? 'k-1'),
        slot: String(body.slot ?? new Date().toISOString()),
        status: 'confirmed',
      };
      bookings.set(booking.id, booking);
      send(res, 201, booking);
      return '/api/bookings';
    }
    const bookingMatch = /^\/api\/bookings\/([\w-]+)$/.exec(path);
    if (bookingMatch) {
      const booking = bookings.get(bookingMatch[1] as string);
      if (await misbehave()) return reply(res, 500, { error: 'booking store timeout' }, '/api/bookings/:id');
      if (!booking) return reply(res, 404, { error: 'no such booking' }, '/api/bookings/:id');
      if (method === 'DELETE') {
        bookings.delete(booking.id);
        res.writeHead(204).end();
        return '/api/bookings/:id';
      }
      send(res, 200, booking);
      return '/api/bookings/:id';
    }
    if (path === '/api/payments' && method === 'POST') {
      const body = await readJson(req);
      if (await misbehave())
        return reply(res, 502, { error: 'payment provider unavailable' }, '/api/payments');
      send(res, 201, { id: `pay_${randomUUID().slice(0, 8)}`, amount: body.amount ?? 0, status: 'captured' });
      return '/api/payments';
    }
    send(res, 404, { error: 'not found' });
    return 'other';
  };

  const server: Server = createServer((req, res) => {
    const end = duration.startTimer();
    handle(req, res)
      .catch(() => {
        if (!res.headersSent) send(res, 400, { error: 'bad request' });
        return 'other';
      })
      .then((route) => {
        if (route === '/metrics') return;
        end({ route });
        requests.inc({ route, method: req.method ?? 'GET', code: String(res.statusCode) });
      });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    port,
    get version() {
      return version;
    },
    deploy(next) {
      version = next;
      businessCount = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
