import { createHmac, timingSafeEqual } from 'node:crypto';

/** The prefix of `X-Vigil-Signature`, naming the algorithm so it can change without breaking receivers. */
const SCHEME = 'sha256=';

/**
 * Signs a webhook body per DESIGN §7: `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`.
 * The timestamp is inside the signed text so a captured request cannot be replayed later with a fresh
 * timestamp header.
 *
 * @example
 *   signPayload('s3cret-s3cret-s3cret', 1764237600, '{"event":"rollback"}') // 'sha256=9c1e…'
 */
export function signPayload(secret: string, timestampSec: number, rawBody: string | Uint8Array): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`${timestampSec}.`);
  hmac.update(rawBody);
  return `${SCHEME}${hmac.digest('hex')}`;
}

/** Why a signature was refused; `ok` when it verified. */
export type SignatureCheck =
  | { ok: true }
  | { ok: false; reason: 'malformed' | 'stale' | 'mismatch'; message: string };

export interface VerifyOptions {
  /** How far (seconds) the timestamp may be from `now`, either way. Default 300. */
  toleranceSec?: number;
  /** Epoch ms; defaults to Date.now() — receivers usually pass nothing. */
  now?: number;
}

/**
 * Verifies `X-Vigil-Signature` for a receiver (and the demo sink): the header must be `sha256=<64 hex>`,
 * the timestamp within `toleranceSec` of now, and the HMAC equal, compared in constant time.
 *
 * @example
 *   const check = verifySignature(secret, req.headers['x-vigil-signature'], req.headers['x-vigil-timestamp'], raw);
 *   if (!check.ok) return reply.code(401).send(check.message);
 */
export function verifySignature(
  secret: string,
  header: string | undefined,
  timestamp: string | number | undefined,
  rawBody: string | Uint8Array,
  options: VerifyOptions = {},
): SignatureCheck {
  const toleranceSec = options.toleranceSec ?? 300;
  const nowSec = Math.floor((options.now ?? Date.now()) / 1000);
  if (header === undefined || !/^sha256=[0-9a-f]{64}$/.test(header)) {
    return { ok: false, reason: 'malformed', message: 'X-Vigil-Signature must be sha256=<64 hex digits>' };
  }
  const timestampSec = typeof timestamp === 'number' ? timestamp : Number(timestamp);
  if (timestamp === undefined || !Number.isInteger(timestampSec) || timestampSec < 0) {
    return { ok: false, reason: 'malformed', message: 'X-Vigil-Timestamp must be whole Unix seconds' };
  }
  if (Math.abs(nowSec - timestampSec) > toleranceSec) {
    return { ok: false, reason: 'stale', message: `timestamp is more than ${toleranceSec}s from now` };
  }
  const expected = Buffer.from(signPayload(secret, timestampSec, rawBody).slice(SCHEME.length), 'hex');
  const given = Buffer.from(header.slice(SCHEME.length), 'hex');
  // Both are 32 bytes here (the regex fixed the length), which timingSafeEqual requires.
  if (!timingSafeEqual(expected, given)) {
    return { ok: false, reason: 'mismatch', message: 'signature does not match' };
  }
  return { ok: true };
}
