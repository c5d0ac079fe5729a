import { Agent, request } from 'undici';

export interface Traffic {
  /** Requests sent so far. */
  readonly sent: number;
  stop(): Promise<void>;
}

/**
 * Sends steady user traffic (bookings and payments) to the demo service so Prometheus has rates to
 * judge: `ratePerSecond` requests a second, at most `maxInFlight` at once, until stopped or `maxRequests`.
 *
 * @example const traffic = startTraffic(svc.url, { ratePerSecond: 20 }); … await traffic.stop();
 */
export function startTraffic(
  baseUrl: string,
  options: { ratePerSecond?: number; maxInFlight?: number; maxRequests?: number } = {},
): Traffic {
  const rate = options.ratePerSecond ?? 20;
  const maxInFlight = options.maxInFlight ?? 64;
  const maxRequests = options.maxRequests ?? 20_000;
  const dispatcher = new Agent({ connections: maxInFlight, keepAliveTimeout: 5_000 });
  let sent = 0;
  let inFlight = 0;
  const pending = new Set<Promise<void>>();
  const send = (): void => {
    if (inFlight >= maxInFlight || sent >= maxRequests) return;
    const n = sent++;
    inFlight++;
    const payment = n % 2 === 1;
    const p = request(`${baseUrl}${payment ? '/api/payments' : '/api/bookings'}`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        payment ? { amount: 4200, currency: 'EUR' } : { kitchenId: 'k-2', slot: '2026-12-02T09:00:00Z' },
      ),
      headersTimeout: 5_000,
      bodyTimeout: 5_000,
    })
      .then((res) => res.body.dump())
      .catch(() => {})
      .finally(() => {
        inFlight--;
        pending.delete(p);
      });
    pending.add(p);
  };
  const timer = setInterval(send, Math.max(1, Math.round(1000 / rate)));
  return {
    get sent() {
      return sent;
    },
    async stop() {
      clearInterval(timer);
      await Promise.allSettled([...pending]);
      await dispatcher.close();
    },
  };
}
