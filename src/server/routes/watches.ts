import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { phaseSchema } from '../../config/schema.js';
import { parseDurationMs } from '../../config/units.js';
import type { CreateWatchInput, WatchManager } from '../../watch/manager.js';
import { WAIT_UNTIL } from '../../watch/outcome.js';
import { WATCH_STATUSES } from '../../watch/types.js';
import { parseBody, parseParams, parseQuery, sendProblems } from '../problems.js';

/** Longest long poll (DESIGN §3). */
export const MAX_WAIT_MS = 120_000;

/** The part of WatchManager the routes use. */
export type WatchApi = Pick<
  WatchManager,
  'create' | 'get' | 'list' | 'verdictJson' | 'waitForChange' | 'override'
>;

const duration = z.string().transform((text, ctx) => {
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : parseDurationMs(text.trim());
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `invalid duration "${text}": use e.g. 30s, 5m, 24h` });
    return z.NEVER;
  }
  return ms;
});

/** RFC 3339 or Unix seconds, as everywhere in Vigil (DESIGN §2). */
const time = z.union([z.string(), z.number()]).transform((input, ctx) => {
  const ms =
    typeof input === 'number' || /^\d+(\.\d+)?$/.test(input)
      ? Number(input) * 1000
      : /^\d{4}-\d\d-\d\dT/.test(input)
        ? Date.parse(input)
        : Number.NaN;
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'expected an RFC 3339 time or Unix seconds' });
    return z.NEVER;
  }
  return ms;
});

const label = z.string().trim().min(1).max(128);

/**
 * Text that reaches the store as is: PostgreSQL's text type cannot hold a NUL character (it refuses
 * the statement, a 500 here), and no id, service or reason has one, so it is bad input at the edge.
 */
const storedText = z.string().regex(/^[^\0]*$/, 'no NUL characters');

/**
 * A version is a label value, a query template value (`{{version}}`, regex-escaped inside `=~"…"`) and a
 * webhook field: plain characters only, so none of them needs to trust an escape.
 */
export const VERSION_PATTERN = /^[A-Za-z0-9._+-]{1,128}$/;
const version = z
  .string()
  .regex(VERSION_PATTERN, 'use 1 to 128 letters, digits, ".", "_", "+" or "-" (e.g. 1.4.2, 2026.11.27-rc.1)');

const createBody = z.strictObject({
  service: label.regex(/^[a-z0-9][a-z0-9_.-]*$/i, 'service names use letters, digits, ".", "_" and "-"'),
  version,
  previousVersion: version.optional(),
  duration: duration.refine((ms) => ms > 0, 'duration must be positive').optional(),
  phases: z.array(phaseSchema).min(1).optional(),
  startedAt: time.optional(),
});

const listQuery = z.object({
  service: storedText.min(1).optional(),
  status: z.enum(WATCH_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

const verdictQuery = z.object({
  wait: duration.optional(),
  until: z.enum(WAIT_UNTIL).optional(),
  /** The `updatedAt` the client last saw: a change after it answers at once (no change is lost between polls). */
  since: time.optional(),
});

/** A watch id in a path. */
export const watchIdParams = z.object({ id: storedText.min(1).max(64) });
/** An operator's decision, audited: why, and who (`vigil watch … --who`, or the token holder). */
export const auditedDecisionBody = z.strictObject({
  reason: storedText.trim().min(1, 'say why').max(1000),
  // Printable text only: it is shown in the timeline and in alerts.
  who: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .regex(/^[^\p{Cc}]*$/u, 'no control characters')
    .optional(),
});

/**
 * Who asked, for the timeline. The API cannot verify a name the client gives (`who`), so the record
 * keeps how it arrived beside it: "alice (via loopback)", "alice (via token, 10.0.0.7)".
 */
export function requester(request: FastifyRequest, who: string | undefined): string {
  const token = request.headers.authorization !== undefined;
  if (who !== undefined) return `${who} (via ${token ? `token, ${request.ip}` : 'loopback'})`;
  return token ? `token holder (${request.ip})` : `loopback client (${request.ip})`;
}

/** What the watch routes need besides the watches. */
export interface WatchRouteOptions {
  /** The configured service names, read per request (a reload may change them); absent: no check. */
  services?: () => readonly string[];
}

function notFound(reply: FastifyReply, id: string): FastifyReply {
  return reply.code(404).send({ error: 'not found', message: `no watch ${id}` });
}

/**
 * The watch routes of DESIGN §3, as a plugin for the authenticated `/api/v1` scope of buildApp.
 *
 * @example
 *   await buildApp({ ...deps, routes: [watchRoutes(manager, { services: () => ['prep-api'] })] })
 *   // POST /api/v1/watches …
 */
export function watchRoutes(watches: WatchApi, options: WatchRouteOptions = {}): FastifyPluginAsync {
  return async (app) => {
    app.post('/watches', async (request, reply) => {
      const body = parseBody(createBody, request);
      const known = options.services?.();
      if (known !== undefined && !known.includes(body.service)) {
        return sendProblems(reply, [
          {
            path: 'body.service',
            message: `unknown service "${body.service}" (configured: ${known.join(', ') || 'none'})`,
          },
        ]);
      }
      const input: CreateWatchInput = { service: body.service, version: body.version };
      if (body.previousVersion !== undefined) input.previousVersion = body.previousVersion;
      if (body.duration !== undefined) input.durationMs = body.duration;
      if (body.phases !== undefined) input.phases = body.phases;
      if (body.startedAt !== undefined) input.startedAt = body.startedAt;
      const outcome = await watches.create(input);
      if (!outcome.ok) {
        return sendProblems(
          reply,
          outcome.problems.map((p) => ({ path: `body.${p.path}`, message: p.message })),
        );
      }
      return reply.code(201).send(outcome.watch);
    });

    app.get('/watches', async (request) => {
      const query = parseQuery(listQuery, request);
      return { watches: await watches.list(query) };
    });

    app.get('/watches/:id', async (request, reply) => {
      const { id } = parseParams(watchIdParams, request);
      const watch = await watches.get(id);
      return watch ?? notFound(reply, id);
    });

    app.get('/watches/:id/verdict', async (request, reply) => {
      const { id } = parseParams(watchIdParams, request);
      const query = parseQuery(verdictQuery, request);
      const timeoutMs = Math.min(query.wait ?? 0, MAX_WAIT_MS);
      // A plain read (no wait) answers with the current verdict whatever `until` and `since` say, as
      // waitForChange does; its JSON is cached by the manager, the hot path of a polling client.
      if (timeoutMs <= 0) {
        const json = await watches.verdictJson(id);
        if (json === undefined) return notFound(reply, id);
        return reply.type('application/json; charset=utf-8').send(json);
      }
      // A long poll stops waiting when the client goes away (the response's close).
      const abort = new AbortController();
      reply.raw.once('close', () => abort.abort());
      const verdict = await watches.waitForChange(id, {
        timeoutMs,
        signal: abort.signal,
        ...(query.until !== undefined ? { until: query.until } : {}),
        ...(query.since !== undefined ? { since: query.since } : {}),
      });
      return verdict ?? notFound(reply, id);
    });

    for (const action of ['abort', 'promote', 'rollback'] as const) {
      app.post(`/watches/:id/${action}`, async (request, reply) => {
        const { id } = parseParams(watchIdParams, request);
        const { reason, who } = parseBody(auditedDecisionBody, request);
        const outcome = await watches.override(id, action, { who: requester(request, who), reason });
        if (outcome.ok) return outcome.watch;
        if (outcome.code === 'not-found') return notFound(reply, id);
        return reply.code(409).send({ error: 'conflict', message: outcome.message });
      });
    }
  };
}
