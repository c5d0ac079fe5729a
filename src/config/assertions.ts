import { z } from 'zod';
import { closestWord } from './suggest.js';

/*
 * Assertions as DESIGN §4 writes them, parsed at load into one typed shape:
 *   - status: 200                       (bare value means equals)
 *   - latencyMs: { lt: 500 }            (subject without selector: operator object as value)
 *   - jsonPath: $.status, equals: ok    (subject with selector: operator beside it)
 *   - header: content-type, contains: json
 *   - phaseMs: ttfb, lt: 200
 */

export const ASSERTION_SUBJECTS = [
  'status',
  'header',
  'body',
  'jsonPath',
  'latencyMs',
  'phaseMs',
  'certExpiresInDays',
  'tlsVersion',
] as const;
export type AssertionSubject = (typeof ASSERTION_SUBJECTS)[number];

export const ASSERTION_OPERATORS = [
  'equals',
  'notEquals',
  'lt',
  'lte',
  'gt',
  'gte',
  'in',
  'matches',
  'contains',
  'exists',
] as const;
export type AssertionOperator = (typeof ASSERTION_OPERATORS)[number];

const SELECTOR_SUBJECTS: ReadonlySet<AssertionSubject> = new Set(['header', 'jsonPath', 'phaseMs']);
const NUMERIC_OPERATORS: ReadonlySet<AssertionOperator> = new Set(['lt', 'lte', 'gt', 'gte']);
export const PHASES = ['dns', 'connect', 'tls', 'ttfb', 'transfer'] as const;
export type PhaseName = (typeof PHASES)[number];

/** One parsed assertion. `expected` is a RegExp for `matches`, an array for `in`, a boolean for `exists`. */
export interface Assertion {
  readonly subject: AssertionSubject;
  /** Header name (lower-cased), JSONPath expression, or phase name. */
  readonly selector?: string;
  readonly operator: AssertionOperator;
  readonly expected: unknown;
  /** Human text, e.g. `status equals 200`, `jsonPath $.status equals "ok"`. */
  readonly description: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
const INTEGER = /^\d+$/;

/**
 * Why `value` can never equal what `subject` measures, or undefined when it can: a status is an HTTP
 * code, the timings and days are numbers, a TLS version is one of Node's protocol names. Caught at load, a
 * `status: "two hundred"` is a config problem rather than a probe that fails at every run.
 */
function valueProblem(subject: AssertionSubject, value: unknown): string | undefined {
  // A journey step may compare with a value carried from an earlier step: known only at run time.
  if (typeof value === 'string' && value.includes('{{')) return undefined;
  switch (subject) {
    case 'status': {
      const code = typeof value === 'string' && INTEGER.test(value) ? Number(value) : value;
      return typeof code === 'number' && Number.isInteger(code) && code >= 100 && code <= 599
        ? undefined
        : `takes an HTTP status code from 100 to 599, got ${JSON.stringify(value)}`;
    }
    case 'latencyMs':
    case 'phaseMs':
    case 'certExpiresInDays':
      return typeof value === 'number' ? undefined : `takes a number, got ${JSON.stringify(value)}`;
    case 'tlsVersion':
      return (TLS_VERSIONS as readonly unknown[]).includes(value)
        ? undefined
        : `takes one of ${TLS_VERSIONS.join(', ')}, got ${JSON.stringify(value)}`;
    default:
      return undefined;
  }
}

function describe(
  subject: AssertionSubject,
  selector: string | undefined,
  op: AssertionOperator,
  expected: unknown,
) {
  const what = selector === undefined ? subject : `${subject} ${selector}`;
  if (op === 'exists') return `${what} ${expected === false ? 'does not exist' : 'exists'}`;
  const shown = expected instanceof RegExp ? String(expected) : JSON.stringify(expected);
  return `${what} ${op} ${shown}`;
}

function unknownOperatorMessage(unknown: readonly string[]): string {
  const suggestion =
    unknown.length === 1 ? closestWord(unknown[0] as string, ASSERTION_OPERATORS) : undefined;
  const hint = suggestion === undefined ? '' : `did you mean \`${suggestion}\`? `;
  return `unknown operator ${unknown.map((k) => `"${k}"`).join(', ')} (${hint}use one of ${ASSERTION_OPERATORS.join(', ')})`;
}

/**
 * Parses one raw assertion object into an Assertion, reporting every problem on `ctx`.
 *
 * @example parseAssertion({ status: 200 }, ctx) // { subject: 'status', operator: 'equals', expected: 200, … }
 */
export function parseAssertion(raw: Record<string, unknown>, ctx: z.RefinementCtx): Assertion | undefined {
  const subjects = ASSERTION_SUBJECTS.filter((s) => s in raw);
  if (subjects.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      message:
        subjects.length === 0
          ? `an assertion needs one subject of ${ASSERTION_SUBJECTS.join(', ')}`
          : `an assertion has one subject, found ${subjects.join(' and ')}`,
    });
    return undefined;
  }
  const subject = subjects[0] as AssertionSubject;
  let selector: string | undefined;
  let operands: Record<string, unknown>;
  if (SELECTOR_SUBJECTS.has(subject)) {
    const sel = raw[subject];
    if (typeof sel !== 'string' || sel === '') {
      ctx.addIssue({ code: 'custom', path: [subject], message: `${subject} takes a non-empty string` });
      return undefined;
    }
    if (subject === 'phaseMs' && !(PHASES as readonly string[]).includes(sel)) {
      ctx.addIssue({ code: 'custom', path: [subject], message: `phaseMs is one of ${PHASES.join(', ')}` });
      return undefined;
    }
    selector = subject === 'header' ? sel.toLowerCase() : sel;
    operands = Object.fromEntries(Object.entries(raw).filter(([k]) => k !== subject));
  } else {
    const value = raw[subject];
    const extra = Object.keys(raw).filter((k) => k !== subject);
    if (extra.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `unknown key ${extra.map((k) => `"${k}"`).join(', ')} beside ${subject}`,
      });
      return undefined;
    }
    operands = isRecord(value) ? value : { equals: value };
  }
  const keys = Object.keys(operands);
  const unknown = keys.filter((k) => !(ASSERTION_OPERATORS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    ctx.addIssue({
      code: 'custom',
      message: unknownOperatorMessage(unknown),
    });
    return undefined;
  }
  if (keys.length !== 1) {
    const message =
      keys.length === 0
        ? `${subject} needs an operator`
        : `one operator per assertion, found ${keys.join(', ')}`;
    ctx.addIssue({ code: 'custom', message });
    return undefined;
  }
  const operator = keys[0] as AssertionOperator;
  let expected = operands[operator];
  const path = SELECTOR_SUBJECTS.has(subject)
    ? [operator]
    : isRecord(raw[subject])
      ? [subject, operator]
      : [subject];
  if (NUMERIC_OPERATORS.has(operator) && typeof expected !== 'number') {
    ctx.addIssue({ code: 'custom', path, message: `${operator} takes a number` });
    return undefined;
  }
  if (operator === 'in' && !Array.isArray(expected)) {
    ctx.addIssue({ code: 'custom', path, message: 'in takes a list' });
    return undefined;
  }
  if (operator === 'exists' && typeof expected !== 'boolean') {
    ctx.addIssue({ code: 'custom', path, message: 'exists takes true or false' });
    return undefined;
  }
  if (operator === 'matches') {
    if (typeof expected !== 'string') {
      ctx.addIssue({ code: 'custom', path, message: 'matches takes a regular expression string' });
      return undefined;
    }
    try {
      expected = new RegExp(expected);
    } catch (error) {
      // V8 says "Invalid regular expression: /(/: Unterminated group"; keep the reason, show the source as written.
      const reason = (error as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
      ctx.addIssue({
        code: 'custom',
        path,
        message: `invalid regular expression ${JSON.stringify(expected)}: ${reason}`,
      });
      return undefined;
    }
  }
  if (operator === 'contains' && typeof expected !== 'string') {
    ctx.addIssue({ code: 'custom', path, message: 'contains takes a string' });
    return undefined;
  }
  if (operator === 'equals' || operator === 'notEquals' || operator === 'in') {
    const values = operator === 'in' ? (expected as unknown[]) : [expected];
    const problem = values.map((value) => valueProblem(subject, value)).find((p) => p !== undefined);
    if (problem !== undefined) {
      ctx.addIssue({ code: 'custom', path, message: `${subject} ${operator} ${problem}` });
      return undefined;
    }
    // `status: "200"` compares as 200; the number is what the result shows.
    const asCode = (value: unknown) =>
      typeof value === 'string' && INTEGER.test(value) ? Number(value) : value;
    if (subject === 'status')
      expected = operator === 'in' ? (expected as unknown[]).map(asCode) : asCode(expected);
  }
  return Object.freeze({
    subject,
    selector,
    operator,
    expected,
    description: describe(subject, selector, operator, expected),
  });
}

/** Zod schema for one assertion: a mapping parsed by parseAssertion. */
export const assertionSchema = z
  .record(z.string(), z.unknown(), { error: 'an assertion is a mapping such as { status: 200 }' })
  .transform((raw, ctx) => parseAssertion(raw, ctx) ?? z.NEVER)
  .meta({
    description:
      'One subject (status, header, body, jsonPath, latencyMs, phaseMs, certExpiresInDays, tlsVersion) and one operator (equals, notEquals, lt, lte, gt, gte, in, matches, contains, exists).',
  });
