import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature } from '../actions/sign.js';

/** One request the sink received, with the outcome of checking its signature. */
export interface SinkDelivery {
  receivedAt: number;
  event: string;
  deliveryId: string;
  idempotencyKey: string;
  signatureValid: boolean;
  signatureError?: string;
  body: unknown;
}

export interface WebhookSink {
  readonly url: string;
  readonly deliveries: readonly SinkDelivery[];
  /** Resolves with the first delivery matching `predicate`, or rejects after `timeoutMs`. */
  waitFor(predicate: (d: SinkDelivery) => boolean, timeoutMs: number): Promise<SinkDelivery>;
  close(): Promise<void>;
}

/**
 * A webhook receiver that verifies Vigil's signature the way a real receiver should (HMAC over
 * "<timestamp>.<raw body>", constant-time, timestamp within 5 minutes) and answers 401 when it fails.
 *
 * @example const sink = await startWebhookSink(secret); await sink.waitFor((d) => d.event === 'rollback', 30_000);
 */
export async function startWebhookSink(secret: string): Promise<WebhookSink> {
  const deliveries: SinkDelivery[] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const header = (name: string): string | undefined => {
        const value = req.headers[name];
        return Array.isArray(value) ? value[0] : value;
      };
      const check = verifySignature(secret, header('x-vigil-signature'), header('x-vigil-timestamp'), raw);
      let body: unknown = null;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        body = raw.toString('utf8');
      }
      deliveries.push({
        receivedAt: Date.now(),
        event: header('x-vigil-event') ?? '',
        deliveryId: header('x-vigil-delivery') ?? '',
        idempotencyKey: header('idempotency-key') ?? '',
        signatureValid: check.ok,
        signatureError: check.ok ? undefined : check.message,
        body,
      });
      for (const wake of waiters) wake();
      res.writeHead(check.ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(check.ok ? { received: true } : { error: check.message }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/rollback`,
    deliveries,
    waitFor(predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = deliveries.find(predicate);
          if (!found) return false;
          cleanup();
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching webhook within ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(wake);
        };
        const wake = (): void => {
          check();
        };
        if (!check()) waiters.add(wake);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
