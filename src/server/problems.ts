import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { VigilError } from '../errors.js';

/** One thing wrong with a request: where (`body.service`, `query.wait`, `params.id`) and what. */
export interface RequestProblem {
  path: string;
  message: string;
}

/**
 * Thrown by {@link parseBody} and friends; the app's error handler turns it into
 * 400 `{"error":"bad request","problems":[...]}`, so a route never builds that answer by hand.
 */
export class BadRequestError extends VigilError {
  readonly problems: readonly RequestProblem[];

  constructor(problems: readonly RequestProblem[]) {
    super('BAD_REQUEST', problems.map((p) => `${p.path}: ${p.message}`).join('; '));
    this.name = 'BadRequestError';
    this.problems = problems;
  }
}

/**
 * Sends 400 with the problem list (DESIGN §3). Routes that find a problem zod cannot see (an id that is
 * well-formed but refers to nothing is a 404, not this) call it directly.
 *
 * @example return sendProblems(reply, [{ path: 'body.duration', message: 'must be shorter than 7d' }]);
 */
export function sendProblems(reply: FastifyReply, problems: readonly RequestProblem[]): FastifyReply {
  return reply.code(400).send({ error: 'bad request', problems });
}

/** The lower-case reason phrase used as `error` in every error answer: 404 → "not found". */
export function reasonPhrase(status: number): string {
  return (STATUS_CODES[status] ?? 'error').toLowerCase();
}

/**
 * Sends an error answer in the API's one shape, `{"error": <reason phrase>, "message"?}`. The message is
 * for the client: never put request content, URLs or secrets in it.
 *
 * @example return sendError(reply, 404, 'no watch with this id');
 * @example return sendError(reply, 409, 'the watch has already ended');
 */
export function sendError(reply: FastifyReply, status: number, message?: string): FastifyReply {
  return reply
    .code(status)
    .send({ error: reasonPhrase(status), ...(message === undefined ? {} : { message }) });
}

/** Formats a zod issue path under its request part: `['phases', 0]` in the body → `body.phases[0]`. */
export function formatIssuePath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const key of path) {
    out += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  }
  return out;
}

function parsePart<S extends z.ZodType>(schema: S, value: unknown, root: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new BadRequestError(
    result.error.issues.map((issue) => ({ path: formatIssuePath(root, issue.path), message: issue.message })),
  );
}

/**
 * Parses the JSON body with a zod schema; on failure throws {@link BadRequestError} listing every
 * problem, which the app answers with 400. An absent body is parsed as `undefined`, so a schema for a
 * POST with an optional body should accept it (`schema.optional()` or `.default({})`).
 *
 * @example const body = parseBody(startWatchSchema, request); // typed, or a 400 was answered
 */
export function parseBody<S extends z.ZodType>(schema: S, request: FastifyRequest): z.output<S> {
  return parsePart(schema, request.body, 'body');
}

/**
 * Parses the query string (an object of strings) with a zod schema; problems are reported as `query.<name>`.
 *
 * @example const { wait } = parseQuery(z.object({ wait: z.string().optional() }), request);
 */
export function parseQuery<S extends z.ZodType>(schema: S, request: FastifyRequest): z.output<S> {
  return parsePart(schema, request.query, 'query');
}

/**
 * Parses route parameters with a zod schema; problems are reported as `params.<name>`.
 *
 * @example const { id } = parseParams(z.object({ id: z.string().uuid() }), request);
 */
export function parseParams<S extends z.ZodType>(schema: S, request: FastifyRequest): z.output<S> {
  return parsePart(schema, request.params, 'params');
}
