import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { ProbeResult } from '../prober/types.js';
import type { LeadershipStatus } from '../store/port.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { authHook } from './auth.js';
import { handleError, routeIndex } from './error-handler.js';
import { type HealthReporter, leaderOutcome, sanitizeCheckError } from './health.js';
import { sendProblems } from './problems.js';

/** Request bodies larger than this are refused with 413 (DESIGN §3). */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** At most `max` requests per client per `windowMs`. */
export interface RateLimitSettings {
  max: number;
  windowMs: number;
}

/** Everything the HTTP app reads; built by the composition root (src/main.ts) and by tests. */
export interface AppDeps {
  logger: Logger;
  metrics: Metrics;
  /** Read on every `/api/v1` request so a SIGHUP reload of `server.apiToken` takes effect at once. */
  apiToken: () => string;
  /**
   * Per-client budget on `/api/v1` (config `server.rateLimit`). Pass a function to have a SIGHUP reload
   * take effect; it is read on every request.
   */
  rateLimit: RateLimitSettings | (() => RateLimitSettings);
  /** True once config is loaded and the store is open, false again from the start of shutdown. */
  isReady: () => boolean;
  /** When true, `/ready` says "shutting down" instead of "not ready". */
  isShuttingDown?: () => boolean;
  /**
   * Why this started instance cannot serve right now (e.g. its database is unreachable), or null; read
   * per request. A reason makes `/ready` answer 503 `{"status":"not ready","reason"}` so a load balancer
   * stops sending it requests it would fail. Absent: `/ready` follows `isReady` alone.
   */
  notReadyReason?: () => string | null;
  /**
   * This instance's place among replicas (DESIGN §13), read per request: `/health` gains a `leader`
   * check entry and a ready `/ready` says `"leader": true|false` (followers are ready too: they serve the
   * API). Absent: a single daemon, which leads, and both answers are as without replicas.
   */
  leadership?: () => LeadershipStatus;
  health: HealthReporter;
  /** Latest result per probe of every service (each with its `service`), for `GET /api/v1/probes`. */
  probes?: () => readonly (ProbeResult & { service?: string })[];
  /** Every SLO's current state (each with its `service`), for `GET /api/v1/slos`. */
  slos?: () => readonly unknown[];
  /** The configured services: `?service=` on the lists must name one (read per request: reloads). */
  services?: () => readonly string[];
  /**
   * Plugins registered inside the `/api/v1` scope, after auth and rate limiting: a plugin declaring
   * `app.post('/watches', …)` serves `POST /api/v1/watches` behind the token.
   */
  routes?: FastifyPluginAsync[];
}

/** An incoming `X-Request-Id` is reused only when it is short and plain, so it is safe in logs and headers. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Query parameters whose values never reach a log line. */
const SECRET_QUERY = /^(token|access_token|api_key|apikey|key|secret|password|sig|signature|auth)$/i;

/**
 * The request URL as logged: values of credential-like query parameters replaced, so a client that puts
 * a token in the URL does not leave it in the logs.
 *
 * @example redactUrl('/x?token=abc&wait=30s') // '/x?token=[Redacted]&wait=30s'
 */
export function redactUrl(url: string): string {
  const index = url.indexOf('?');
  if (index < 0) return url;
  const params = new URLSearchParams(url.slice(index + 1));
  for (const name of [...params.keys()]) {
    if (SECRET_QUERY.test(name)) params.set(name, '[Redacted]');
  }
  return `${url.slice(0, index)}?${params.toString()}`;
}

/** The one long-poll route (DESIGN §3), as fastify names it once matched. */
export const LONG_POLL_ROUTE = '/api/v1/watches/:id/verdict';

/**
 * Whether a request is a long poll: `GET` on the verdict route with a `wait` parameter. Only that route
 * waits, so only it gets the long-poll budget; `?wait=` on any other route is an ordinary call, or it
 * would be a way around the rate limit.
 *
 * @example isLongPoll(request) // true for GET /api/v1/watches/w_1/verdict?wait=30s
 */
export function isLongPoll(request: FastifyRequest): boolean {
  if (request.method !== 'GET' || request.routeOptions.url !== LONG_POLL_ROUTE) return false;
  const query = request.query as Record<string, unknown> | undefined;
  return query !== undefined && query !== null && typeof query === 'object' && 'wait' in query;
}

function requestId(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** Helmet's options for this API. */
const HELMET_OPTIONS = {
  // A JSON API needs no content policy beyond "load nothing, frame nowhere".
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  },
  // Served on plain http by default; HSTS belongs to the TLS-terminating proxy.
  strictTransportSecurity: false,
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
} satisfies FastifyHelmetOptions;

/**
 * The security headers helmet sets with HELMET_OPTIONS, taken once from a throwaway app: helmet stays
 * the source of the header set, and no route of this API varies it (no per-route helmet config, no
 * CSP nonces), so every response gets the same headers.
 *
 * @example reply.headers(await securityHeaders()) // { 'content-security-policy': "default-src 'none';…", … }
 */
export async function securityHeaders(): Promise<Readonly<Record<string, string>>> {
  const probe = Fastify({ logger: false });
  let captured: Record<string, string> = {};
  await probe.register(helmet, HELMET_OPTIONS);
  // Helmet's onRequest hooks are on the root (fastify-plugin), so they ran before this one.
  probe.addHook('onRequest', (_request, reply, done) => {
    captured = Object.fromEntries(
      Object.entries(reply.getHeaders()).map(([name, value]) => [name, String(value)]),
    );
    done();
  });
  probe.get('/', async () => ({}));
  await probe.inject({ method: 'GET', url: '/' });
  await probe.close();
  return Object.freeze(captured);
}

/** Probe-style routes log at warn so a scrape every few seconds does not flood the log. */
const QUIET = { logLevel: 'warn' } as const;

/**
 * Builds the HTTP app of DESIGN §3 without listening; `listen()` (src/server/listen.ts) binds it in main.
 *
 * Rate limiting counts a client's requests per socket address before the token is checked, so token
 * guessing is limited too. Long polls (the verdict route with `wait`) are counted in a separate bucket per client:
 * a `vigil wait` loop neither uses up nor is refused by the budget of ordinary calls.
 *
 * @example
 *   const app = await buildApp({ logger, metrics, apiToken: () => config.server.apiToken,
 *     rateLimit: { max: 120, windowMs: 60_000 }, isReady: () => ready, health, routes: [watchRoutes(deps)] });
 *   const res = await app.inject({ method: 'GET', url: '/live' });
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  // Typed as fastify's base logger so the app is a plain FastifyInstance that any plugin can extend.
  const httpLogger: FastifyBaseLogger = deps.logger.child(
    { component: 'http' },
    {
      serializers: {
        // Headers are left out entirely: Authorization must never reach a log line.
        req: (req: FastifyRequest) => ({
          method: req.method,
          url: redactUrl(req.url),
          remoteAddress: req.ip,
        }),
      },
    },
  );
  const app = Fastify({
    loggerInstance: httpLogger,
    genReqId: requestId,
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: false,
  });

  const routes = routeIndex();
  app.addHook('onRoute', routes.onRoute);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(routes.notFound);
  // The API speaks JSON only; anything else is 415 rather than a string handed to a route.
  app.removeContentTypeParser('text/plain');

  // Helmet's headers are the same on every response of this API, so they are computed once and set by
  // one hook: its own per-request hooks cost about 6 % of a core on a polled verdict (issue 17).
  const security = await securityHeaders();
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(security);
    done();
  });

  app.get('/live', QUIET, async () => ({ status: 'ok' }));

  app.get('/ready', QUIET, async (_request, reply) => {
    if (!deps.isReady()) {
      return reply.code(503).send({ status: deps.isShuttingDown?.() ? 'shutting down' : 'not ready' });
    }
    const reason = deps.notReadyReason?.() ?? null;
    // Unauthenticated: the reason is cleaned as a check's error is (no URL credentials, bounded length).
    if (reason !== null)
      return reply.code(503).send({ status: 'not ready', reason: sanitizeCheckError(reason) });
    const leadership = deps.leadership?.();
    return leadership === undefined ? { status: 'ok' } : { status: 'ok', leader: leadership.leader };
  });

  app.get('/health', QUIET, async (_request, reply) => {
    const report = await deps.health.report();
    const code = report.status === 'down' ? 503 : 200;
    const leadership = deps.leadership?.();
    if (leadership === undefined) return reply.code(code).send(report);
    // Read per request, not cached with the dependency checks: a failover shows at once. The entry is
    // always `ok`, so it never changes the report's status.
    return reply
      .code(code)
      .send({ ...report, checks: { ...report.checks, leader: leaderOutcome(leadership) } });
  });

  app.get('/metrics', QUIET, async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });

  await app.register(
    async (api) => {
      const limits =
        typeof deps.rateLimit === 'function' ? deps.rateLimit : () => deps.rateLimit as RateLimitSettings;
      await api.register(rateLimit, {
        max: () => limits().max,
        timeWindow: () => limits().windowMs,
        keyGenerator: (request) => `${request.ip}${isLongPoll(request) ? '|long-poll' : ''}`,
      });
      // preParsing runs after the rate limiter's onRequest hook and before a body is read.
      const checkToken = authHook(deps.apiToken);
      api.addHook('preParsing', async (request, reply, payload) => {
        await checkToken(request, reply);
        return payload;
      });
      // `?service=` keeps one service's items; an unknown service is a 400 naming the configured ones.
      const ofService = <T>(
        request: FastifyRequest,
        reply: FastifyReply,
        items: readonly T[],
      ): readonly T[] | undefined => {
        const { service } = request.query as { service?: unknown };
        if (service === undefined || service === '') return items;
        const known = deps.services?.() ?? [];
        if (typeof service !== 'string' || !known.includes(service)) {
          void sendProblems(reply, [
            {
              path: 'query.service',
              message: `unknown service "${String(service)}" (configured: ${known.join(', ') || 'none'})`,
            },
          ]);
          return undefined;
        }
        return items.filter((item) => (item as { service?: unknown }).service === service);
      };
      api.get('/probes', async (request, reply) => {
        const probes = ofService(request, reply, deps.probes?.() ?? []);
        return probes === undefined ? reply : { probes };
      });
      api.get('/slos', async (request, reply) => {
        const slos = ofService(request, reply, deps.slos?.() ?? []);
        return slos === undefined ? reply : { slos };
      });
      for (const plugin of deps.routes ?? []) await api.register(plugin);
    },
    { prefix: '/api/v1' },
  );

  return app;
}
