// The Prep journeys every profile mixes: the health check, the booking journey (create, read back,
// cancel) and a payment. Each request is checked and tagged; a booking created here is always
// deleted, even when reading it back failed, so load runs leave no test data behind.
import { check, group } from 'k6';
import http from 'k6/http';
import { BASE_URL, params } from './env.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** GET /health answers 200 with status ok. */
export function health() {
  const res = http.get(`${BASE_URL}/health`, params('GET /health', 'health'));
  check(res, {
    'health: status 200': (r) => r.status === 200,
    'health: status ok': (r) => r.status === 200 && r.json('status') === 'ok',
  });
}

/**
 * POST /api/bookings → GET /api/bookings/{id} → DELETE /api/bookings/{id}.
 *
 * @returns {string | undefined} the booking id when the booking was created
 */
export function bookingJourney() {
  /** @type {string | undefined} */
  let bookingId;
  group('booking journey', () => {
    const slot = new Date(Date.now() + DAY_MS).toISOString();
    const created = http.post(
      `${BASE_URL}/api/bookings`,
      JSON.stringify({ kitchenId: `k-${(__VU % 20) + 1}`, slot }),
      params('POST /api/bookings', 'booking'),
    );
    const id = created.status === 201 ? created.json('id') : undefined;
    check(created, {
      'booking: created (201)': (r) => r.status === 201,
      'booking: has an id': () => typeof id === 'string' && id.length > 0,
    });
    if (typeof id !== 'string') return;
    bookingId = id;

    const read = http.get(`${BASE_URL}/api/bookings/${id}`, params('GET /api/bookings/:id', 'booking'));
    check(read, {
      'booking: read back (200)': (r) => r.status === 200,
      'booking: same id': (r) => r.status === 200 && r.json('id') === id,
    });

    const cancelled = http.del(
      `${BASE_URL}/api/bookings/${id}`,
      null,
      params('DELETE /api/bookings/:id', 'booking'),
    );
    check(cancelled, { 'booking: cancelled (2xx)': (r) => r.status >= 200 && r.status < 300 });
  });
  return bookingId;
}

/**
 * POST /api/payments for a small amount.
 *
 * @param {string} [bookingId]  the booking paid for, when there is one
 */
export function payment(bookingId) {
  const res = http.post(
    `${BASE_URL}/api/payments`,
    JSON.stringify({ bookingId: bookingId === undefined ? null : bookingId, amount: 1200, currency: 'EUR' }),
    params('POST /api/payments', 'payment'),
  );
  check(res, {
    'payment: accepted (2xx)': (r) => r.status >= 200 && r.status < 300,
    'payment: has an id': (r) => r.status >= 200 && r.status < 300 && typeof r.json('id') === 'string',
  });
}

/** One user visit: health, the booking journey, and a payment for it. */
export function visit() {
  health();
  const bookingId = bookingJourney();
  payment(bookingId);
}
