import type { FastifyRequest } from 'fastify';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import {
  BadRequestError,
  formatIssuePath,
  parseBody,
  parseParams,
  parseQuery,
  reasonPhrase,
} from '../../../src/server/problems.js';

const request = (parts: Partial<Pick<FastifyRequest, 'body' | 'query' | 'params'>>) =>
  parts as FastifyRequest;

function problemsOf(run: () => unknown) {
  try {
    run();
  } catch (error) {
    if (error instanceof BadRequestError) return error.problems;
    throw error;
  }
  throw new Error('expected a BadRequestError');
}

describe('request parsing', () => {
  test.each([
    { path: [], formatted: 'body' },
    { path: ['service'], formatted: 'body.service' },
    { path: ['phases', 0], formatted: 'body.phases[0]' },
    { path: ['a', 2, 'b'], formatted: 'body.a[2].b' },
  ])('issue path $path is $formatted', ({ path, formatted }) => {
    expect(formatIssuePath('body', path)).toBe(formatted);
  });

  test('a valid body is returned parsed, defaults applied', () => {
    const schema = z.strictObject({ service: z.string(), duration: z.string().default('24h') });
    expect(parseBody(schema, request({ body: { service: 'api' } }))).toEqual({
      service: 'api',
      duration: '24h',
    });
  });

  test('every problem of every field is listed, under its part of the request', () => {
    const body = z.strictObject({ service: z.string(), phases: z.array(z.enum(['smoke', 'bake'])) });
    expect(problemsOf(() => parseBody(body, request({ body: { phases: ['smoke', 'nope'] } })))).toEqual([
      { path: 'body.service', message: expect.any(String) },
      { path: 'body.phases[1]', message: expect.any(String) },
    ]);
    const query = z.object({ wait: z.string().regex(/^\d+s$/) });
    expect(problemsOf(() => parseQuery(query, request({ query: { wait: 'soon' } })))).toEqual([
      { path: 'query.wait', message: expect.any(String) },
    ]);
    const params = z.object({ id: z.uuid() });
    expect(problemsOf(() => parseParams(params, request({ params: { id: 'x' } })))).toEqual([
      { path: 'params.id', message: expect.any(String) },
    ]);
  });

  test.each([
    { status: 404, phrase: 'not found' },
    { status: 409, phrase: 'conflict' },
    { status: 413, phrase: 'payload too large' },
    { status: 799, phrase: 'error' },
  ])('reason phrase of $status is "$phrase"', ({ status, phrase }) => {
    expect(reasonPhrase(status)).toBe(phrase);
  });
});
