import { JSONPath } from 'jsonpath-plus';
import type { Assertion, AssertionOperator } from '../config/assertions.js';
import type { AssertionOutcome, PhaseTimings, TlsInfo } from './types.js';

/** Everything an assertion can look at in one response. */
export interface ResponseFacts {
  status?: number;
  headers: Record<string, string>;
  bodyText: string;
  bodyTruncated: boolean;
  durationMs: number;
  phases: PhaseTimings;
  tls?: TlsInfo;
  /** Wall-clock time of the check, ms since epoch, for certificate days left. */
  now: number;
}

const DAY_MS = 86_400_000;
const NOT_JSON = Symbol('not JSON');
/**
 * The parsed body, kept on the facts it came from so several JSONPaths parse it once. A property rather
 * than a WeakMap (an entry per response is an ephemeron the GC traces on every run); it remembers the
 * text it parsed, since spreading the facts (`{ ...facts, bodyText }`) copies the property along.
 */
const PARSED = Symbol('parsed body');
type ParsedMemo = { [PARSED]?: { text: string; value: unknown } };

function parsedBody(facts: ResponseFacts): unknown {
  const memo = facts as ParsedMemo;
  const cached = memo[PARSED];
  if (cached !== undefined && cached.text === facts.bodyText) return cached.value;
  let value: unknown = NOT_JSON;
  try {
    value = JSON.parse(facts.bodyText);
  } catch {
    // Not JSON: every jsonPath on this body finds nothing, and says why.
  }
  memo[PARSED] = { text: facts.bodyText, value };
  return value;
}

/** `$.a.b.c` with plain names: the common health-check path, walked without the JSONPath evaluator. */
const PLAIN_PATH = /^\$(?:\.[A-Za-z_][A-Za-z0-9_]*)+$/;
const plainPaths = new Map<string, string[] | null>();

function plainNames(path: string): string[] | null {
  let names = plainPaths.get(path);
  if (names === undefined) {
    names = PLAIN_PATH.test(path) ? path.slice(2).split('.') : null;
    // Paths come from the config, a bounded set; the cap only guards against a caller passing many.
    if (plainPaths.size < 10_000) plainPaths.set(path, names);
  }
  return names;
}

/**
 * Walks plain member names through objects, as jsonpath-plus does for them: a missing name matches
 * nothing. Returns `FALLBACK` at anything but a plain object (an array, or a string whose `length` the
 * evaluator reads), which the evaluator treats by its own rules.
 */
const FALLBACK = Symbol('use the evaluator');
function walkPlain(json: unknown, names: readonly string[]): unknown {
  let value = json;
  for (const name of names) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return FALLBACK;
    if (!Object.hasOwn(value, name)) return undefined;
    value = (value as Record<string, unknown>)[name];
  }
  // A single match is the value itself; an array value is still one match (wrap keeps it whole).
  return value;
}

/**
 * Evaluates a JSONPath on the response body: undefined when nothing matches or the body is not JSON,
 * the value for one match, an array for several.
 *
 * @example selectJsonPath(facts, '$.checks.db.status') // 'ok'
 */
export function selectJsonPath(facts: ResponseFacts, path: string): unknown {
  const json = parsedBody(facts);
  if (json === NOT_JSON) return undefined;
  const names = plainNames(path);
  if (names) {
    const value = walkPlain(json, names);
    if (value !== FALLBACK) return value;
  }
  const matches = JSONPath({ path, json: json as object, wrap: true }) as unknown[];
  if (matches.length === 0) return undefined;
  return matches.length === 1 ? matches[0] : matches;
}

function subjectValue(assertion: Assertion, facts: ResponseFacts): unknown {
  const selector = assertion.selector ?? '';
  switch (assertion.subject) {
    case 'status':
      return facts.status;
    case 'header':
      return facts.headers[selector];
    case 'body':
      return facts.bodyText;
    case 'jsonPath':
      return selectJsonPath(facts, selector);
    case 'latencyMs':
      return round(facts.durationMs);
    case 'phaseMs':
      return round(facts.phases[`${selector}Ms` as keyof PhaseTimings]);
    case 'certExpiresInDays':
      return facts.tls ? round((facts.tls.chainExpiresAt - facts.now) / DAY_MS) : undefined;
    case 'tlsVersion':
      return facts.tls?.protocol;
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** Equality across the loose types of YAML and HTTP: `200` equals `"200"`, objects compare as JSON. */
export function looselyEqual(actual: unknown, expected: unknown): boolean {
  if (actual === undefined || actual === null || expected === undefined || expected === null)
    return actual === expected;
  if (typeof actual === 'object' || typeof expected === 'object')
    return JSON.stringify(actual) === JSON.stringify(expected);
  return String(actual) === String(expected);
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  return undefined;
}

/** TLS protocol names compare by version so `tlsVersion: { gte: 1.2 }` reads naturally. */
function tlsNumber(value: unknown): number | undefined {
  if (typeof value === 'string') {
    const match = /^TLSv(\d(?:\.\d)?)$/.exec(value);
    if (match) return Number(match[1]);
  }
  return toNumber(value);
}

const OPERATORS = {
  equals: (a, e) => looselyEqual(a, e),
  notEquals: (a, e) => !looselyEqual(a, e),
  lt: (a, e, num) => compare(num(a), num(e), (x, y) => x < y),
  lte: (a, e, num) => compare(num(a), num(e), (x, y) => x <= y),
  gt: (a, e, num) => compare(num(a), num(e), (x, y) => x > y),
  gte: (a, e, num) => compare(num(a), num(e), (x, y) => x >= y),
  in: (a, e) => Array.isArray(e) && e.some((item) => looselyEqual(a, item)),
  matches: (a, e) => a !== undefined && a !== null && e instanceof RegExp && e.test(textOf(a)),
  contains: (a, e) =>
    Array.isArray(a)
      ? a.some((item) => looselyEqual(item, e))
      : a !== undefined && textOf(a).includes(String(e)),
  exists: (a, e) => (a !== undefined) === (e !== false),
} satisfies Record<
  AssertionOperator,
  (actual: unknown, expected: unknown, num: (value: unknown) => number | undefined) => boolean
>;

function compare(
  x: number | undefined,
  y: number | undefined,
  test: (x: number, y: number) => boolean,
): boolean {
  return x !== undefined && y !== undefined && test(x, y);
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Shows a value in a failure message: JSON, cut to keep messages readable. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = value instanceof RegExp ? String(value) : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/**
 * Checks one assertion against a response. `expected` overrides the configured value (a journey renders
 * `{{var}}` templates into it first). The failure message puts the actual value beside the expected one.
 *
 * @example
 *   checkAssertion({ subject: 'status', operator: 'equals', expected: 200, description: 'status equals 200' }, facts)
 *   // { outcome: { description: 'status equals 200', passed: false, actual: 503 }, message: 'status (503) equals 200' }
 */
export function checkAssertion(
  assertion: Assertion,
  facts: ResponseFacts,
  expected: unknown = assertion.expected,
): { outcome: AssertionOutcome; message?: string } {
  const actual = subjectValue(assertion, facts);
  const num = assertion.subject === 'tlsVersion' ? tlsNumber : toNumber;
  const passed = OPERATORS[assertion.operator](actual, expected, num);
  const shownActual =
    assertion.subject === 'body' && typeof actual === 'string' ? actual.slice(0, 200) : actual;
  const outcome: AssertionOutcome = {
    description: assertion.description,
    passed,
    actual: shownActual ?? null,
  };
  if (passed) return { outcome };
  const what =
    assertion.selector === undefined ? assertion.subject : `${assertion.subject} ${assertion.selector}`;
  const wanted =
    assertion.operator === 'exists'
      ? expected === false
        ? 'does not exist'
        : 'exists'
      : `${assertion.operator} ${showValue(expected)}`;
  let note = '';
  if (assertion.subject === 'jsonPath' && parsedBody(facts) === NOT_JSON) note = ' (the body is not JSON)';
  if (facts.bodyTruncated && (assertion.subject === 'jsonPath' || assertion.subject === 'body')) {
    note += ` (body cut at ${Buffer.byteLength(facts.bodyText)} bytes by maxBodyBytes)`;
  }
  return { outcome, message: `${what} (${showValue(actual)}) ${wanted}${note}` };
}
