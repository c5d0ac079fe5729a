import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { BadRequestError, type RequestProblem, sendError } from './problems.js';

/*
 * Every error answer of the API is built here, so none can leak a stack trace, a secret or a query
 * credential (DESIGN §3): 5xx answers say only "internal error" and the request id (the real error goes
 * to the log under that id); 4xx answers use fixed phrases, and only fastify's own messages — which
 * never echo request content — are passed on.
 */

/**
 * Error codes that mean the store, not the request, is at fault: SQLite result codes (better-sqlite3's
 * SqliteError.code); PostgreSQL SQLSTATEs (pg's DatabaseError.code) of a lost connection (class 08),
 * exhausted resources — disk full, too many connections (class 53) —, a server shutting down or starting
 * (57P01-57P03) and a read-only standby (25006); and a database server that cannot be reached (the
 * socket's ECONNREFUSED, ECONNRESET: the store is the only thing a route talks to over the network).
 */
const STORE_UNAVAILABLE =
  /^(SQLITE_(FULL|IOERR|READONLY|BUSY|LOCKED|CANTOPEN|CORRUPT|NOTADB)|(08[0-9A-Z]{3}|53[0-9A-Z]{3}|57P0[1-3]|25006|ECONNREFUSED|ECONNRESET)$)/;

function statusOf(error: Partial<FastifyError>): number {
  const status = error.statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

/** Problems for a 400 that did not come from {@link BadRequestError} (fastify's own body checks). */
function problemsOf(error: Partial<FastifyError>): RequestProblem[] {
  if (error instanceof BadRequestError) return [...error.problems];
  if (error.validation) {
    return error.validation.map((v) => ({
      path: `${error.validationContext ?? 'body'}${v.instancePath.replaceAll('/', '.')}`,
      message: v.message ?? 'invalid',
    }));
  }
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY')
    return [{ path: 'body', message: 'body is not valid JSON' }];
  if (error.code?.startsWith('FST_') && error.message) return [{ path: 'body', message: error.message }];
  return [{ path: 'body', message: 'the request could not be read' }];
}

/**
 * The app's error handler: maps whatever a route, hook or fastify threw to a JSON answer.
 *
 * @example app.setErrorHandler(handleError);
 */
export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = error instanceof BadRequestError ? 400 : statusOf(error);
  if (typeof error.code === 'string' && STORE_UNAVAILABLE.test(error.code)) {
    // The store refuses (disk full, read-only, locked): the request was fine, the daemon cannot serve it now.
    request.log.error({ err: error }, 'request failed: the store is unavailable');
    return reply.code(503).send({
      error: 'store unavailable',
      message: `the store cannot be used right now (${error.code}); see /health`,
      requestId: request.id,
    });
  }
  if (status >= 500) {
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: 'internal error', requestId: request.id });
  }
  request.log.info({ status, code: error.code }, 'request rejected');
  if (status === 400) return reply.code(400).send({ error: 'bad request', problems: problemsOf(error) });
  if (status === 429) {
    // @fastify/rate-limit has already set Retry-After (seconds) on the reply before throwing.
    const retryAfter = Number(reply.getHeader('retry-after'));
    return reply.code(429).send({
      error: 'too many requests',
      message: 'rate limit exceeded; retry after the number of seconds in Retry-After',
      ...(Number.isFinite(retryAfter) ? { retryAfterSeconds: retryAfter } : {}),
    });
  }
  if (status === 413) return sendError(reply, 413, 'request bodies are limited to 64 KiB');
  if (status === 415) return sendError(reply, 415, 'request bodies must be application/json');
  return sendError(reply, status);
}

interface KnownRoute {
  methods: readonly string[];
  pattern: RegExp;
}

/** Turns a fastify route path into a matcher: `/watches/:id` → `^/watches/[^/]+$`. */
export function routePattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => {
      if (segment.startsWith(':')) return '[^/]+';
      if (segment === '*') return '.*';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${source}$`);
}

/**
 * Remembers every route the app declares so an unknown method on a known path answers 405 with `Allow`
 * instead of 404 — the difference tells a client its URL is right and its method wrong.
 *
 * @example const routes = routeIndex(); app.addHook('onRoute', routes.onRoute); app.setNotFoundHandler(routes.notFound);
 */
export function routeIndex() {
  const known: KnownRoute[] = [];
  const allowedMethods = (path: string): string[] => {
    const allowed = new Set<string>();
    for (const route of known) {
      if (route.pattern.test(path)) for (const method of route.methods) allowed.add(method);
    }
    return [...allowed].sort();
  };
  return {
    onRoute(options: { method: string | string[]; url: string }): void {
      const methods = Array.isArray(options.method) ? options.method : [options.method];
      known.push({ methods, pattern: routePattern(options.url) });
    },
    allowedMethods,
    notFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
      // Never echo the URL: its query string may carry a credential.
      const path = request.url.split('?')[0] ?? '/';
      const allowed = allowedMethods(path);
      if (allowed.length > 0) {
        return sendError(reply.header('allow', allowed.join(', ')), 405);
      }
      return sendError(reply, 404);
    },
  };
}
