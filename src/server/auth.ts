import { createHash, timingSafeEqual } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Compares two secrets in time that does not depend on where they differ. Both sides are hashed first
 * because `timingSafeEqual` needs equal lengths, and comparing lengths directly would leak the token's
 * length; SHA-256 digests are always 32 bytes.
 *
 * @example constantTimeEqual('s3cret', 's3cret') // true
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const digestA = createHash('sha256').update(a, 'utf8').digest();
  const digestB = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(digestA, digestB);
}

/**
 * Whether a socket address belongs to this machine: 127.0.0.0/8, ::1, or an IPv4-mapped 127.x
 * (a dual-stack listener on `::` reports IPv4 clients as `::ffff:127.0.0.1`).
 *
 * @example isLoopback('::ffff:127.0.0.1') // true
 */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const lower = address.toLowerCase();
  if (lower === '::1' || lower === '0:0:0:0:0:0:0:1') return true;
  const v4 = lower.startsWith('::ffff:') ? lower.slice('::ffff:'.length) : lower;
  return isIPv4(v4) && v4.startsWith('127.');
}

/** The token of an `Authorization: Bearer <token>` header, or undefined when absent or another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}

/** What the auth gate decided for one request. */
export type AuthDecision =
  | { allowed: true }
  | { allowed: false; status: 401 | 403; body: { error: string; message: string } };

/**
 * Decides whether a request may use `/api/v1` (DESIGN §3). With a token configured every client, local
 * or not, must present it. With no token only loopback clients are answered; remote clients get 403,
 * not 401, because no credential they could send would be accepted.
 *
 * @example authorize({ token: '', authorization: undefined, remoteAddress: '127.0.0.1' }) // { allowed: true }
 */
export function authorize(input: {
  token: string;
  authorization: string | undefined;
  remoteAddress: string | undefined;
}): AuthDecision {
  if (input.token === '') {
    if (isLoopback(input.remoteAddress)) return { allowed: true };
    return {
      allowed: false,
      status: 403,
      body: {
        error: 'forbidden',
        message: 'no API token is configured (server.apiToken), so only loopback clients are answered',
      },
    };
  }
  const presented = bearerToken(input.authorization);
  if (presented !== undefined && constantTimeEqual(presented, input.token)) return { allowed: true };
  return {
    allowed: false,
    status: 401,
    body: {
      error: 'unauthorized',
      message:
        presented === undefined ? 'missing bearer token' : 'the bearer token does not match server.apiToken',
    },
  };
}

/**
 * An onRequest hook enforcing {@link authorize}. The token is read through `apiToken()` on every request
 * so a SIGHUP reload takes effect without rebuilding the app. The socket address is used rather than
 * `request.ip` so a forwarded-for header can never make a remote client look local.
 *
 * @example api.addHook('onRequest', authHook(() => config.server.apiToken));
 */
export function authHook(apiToken: () => string) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const decision = authorize({
      token: apiToken(),
      authorization: request.headers.authorization,
      remoteAddress: request.socket.remoteAddress,
    });
    if (decision.allowed) return;
    if (decision.status === 401) reply.header('www-authenticate', 'Bearer realm="vigil"');
    await reply.code(decision.status).send(decision.body);
  };
}
