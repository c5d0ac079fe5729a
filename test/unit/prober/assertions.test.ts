import { JSONPath } from 'jsonpath-plus';
import { describe, expect, it } from 'vitest';
import {
  type AssertionOperator,
  type AssertionSubject,
  assertionSchema,
} from '../../../src/config/assertions.js';
import {
  checkAssertion,
  looselyEqual,
  type ResponseFacts,
  selectJsonPath,
} from '../../../src/prober/assertions.js';

const NOW = Date.parse('2026-11-27T10:00:00Z');

const facts: ResponseFacts = {
  status: 200,
  headers: { 'x-count': '42', 'content-type': 'application/json' },
  bodyText: '{"n":3,"status":"ok","tags":["a","b"]}',
  bodyTruncated: false,
  durationMs: 120.5,
  phases: { dnsMs: 1, connectMs: 2, tlsMs: 3, ttfbMs: 80, transferMs: 4 },
  tls: {
    protocol: 'TLSv1.3',
    leafExpiresAt: NOW + 90 * 86_400_000,
    chainExpiresAt: NOW + 45 * 86_400_000,
    issuer: 'CN=R3',
    subjectAltNames: ['DNS:prep.example'],
  },
  now: NOW,
};

type Cases = Record<AssertionOperator, [pass: unknown, fail: unknown]>;

/** Per subject: its selector (if any), the actual value the facts give, and a passing and failing operand per operator. */
const SUBJECTS: Record<
  AssertionSubject,
  { selector?: string; actual: unknown; cases: Cases; bodyText?: string }
> = {
  status: {
    actual: 200,
    cases: {
      equals: [200, 201],
      notEquals: [500, 200],
      lt: [300, 200],
      lte: [200, 199],
      gt: [199, 200],
      gte: [200, 201],
      in: [
        [200, 204],
        [500, 503],
      ],
      matches: ['^2\\d\\d$', '^5'],
      contains: ['20', '5'],
      exists: [true, false],
    },
  },
  header: {
    selector: 'X-Count',
    actual: '42',
    cases: {
      equals: ['42', '43'],
      notEquals: ['43', '42'],
      lt: [43, 42],
      lte: [42, 41],
      gt: [41, 42],
      gte: [42, 43],
      in: [['41', '42'], ['1']],
      matches: ['^\\d+$', '^a'],
      contains: ['4', '7'],
      exists: [true, false],
    },
  },
  body: {
    actual: '42',
    bodyText: '42',
    cases: {
      equals: ['42', 'ok'],
      notEquals: ['ok', '42'],
      lt: [50, 42],
      lte: [42, 10],
      gt: [10, 42],
      gte: [42, 43],
      in: [['42'], ['ok']],
      matches: ['^4', 'x'],
      contains: ['2', 'ok'],
      exists: [true, false],
    },
  },
  jsonPath: {
    selector: '$.n',
    actual: 3,
    cases: {
      equals: [3, 4],
      notEquals: [4, 3],
      lt: [4, 3],
      lte: [3, 2],
      gt: [2, 3],
      gte: [3, 4],
      in: [[1, 3], [5]],
      matches: ['^3$', '^4'],
      contains: ['3', '9'],
      exists: [true, false],
    },
  },
  latencyMs: {
    actual: 120.5,
    cases: {
      equals: [120.5, 120],
      notEquals: [121, 120.5],
      lt: [500, 100],
      lte: [120.5, 120],
      gt: [100, 500],
      gte: [120.5, 121],
      in: [[120.5], [1]],
      matches: ['^120\\.5$', '^9'],
      contains: ['120', '999'],
      exists: [true, false],
    },
  },
  phaseMs: {
    selector: 'ttfb',
    actual: 80,
    cases: {
      equals: [80, 81],
      notEquals: [81, 80],
      lt: [100, 80],
      lte: [80, 79],
      gt: [79, 80],
      gte: [80, 81],
      in: [[80], [81]],
      matches: ['^8', '^9'],
      contains: ['8', '9'],
      exists: [true, false],
    },
  },
  certExpiresInDays: {
    actual: 45,
    cases: {
      equals: [45, 90],
      notEquals: [90, 45],
      lt: [46, 45],
      lte: [45, 44],
      gt: [30, 45],
      gte: [45, 46],
      in: [[45], [90]],
      matches: ['^45$', '^90$'],
      contains: ['4', '9'],
      exists: [true, false],
    },
  },
  tlsVersion: {
    actual: 'TLSv1.3',
    cases: {
      equals: ['TLSv1.3', 'TLSv1.2'],
      notEquals: ['TLSv1.2', 'TLSv1.3'],
      lt: [1.4, 1.3],
      lte: [1.3, 1.2],
      gt: [1.2, 1.3],
      gte: [1.2, 1.4],
      in: [['TLSv1.2', 'TLSv1.3'], ['TLSv1.1']],
      matches: ['^TLSv1\\.[23]$', '^SSL'],
      contains: ['1.3', '1.1'],
      exists: [true, false],
    },
  },
};

function parse(
  subject: AssertionSubject,
  selector: string | undefined,
  op: AssertionOperator,
  operand: unknown,
) {
  const raw =
    selector === undefined ? { [subject]: { [op]: operand } } : { [subject]: selector, [op]: operand };
  return assertionSchema.parse(raw);
}

const table = Object.entries(SUBJECTS).flatMap(([subject, spec]) =>
  Object.entries(spec.cases).map(([op, [pass, fail]]) => ({
    subject: subject as AssertionSubject,
    op: op as AssertionOperator,
    pass,
    fail,
    spec,
  })),
);

describe('every assertion subject × operator', () => {
  it.each(table)(
    '$subject $op passes on a matching value and fails, naming the actual, on another',
    ({ subject, op, pass, fail, spec }) => {
      const f = spec.bodyText === undefined ? facts : { ...facts, bodyText: spec.bodyText };
      const good = checkAssertion(parse(subject, spec.selector, op, pass), f);
      expect(good.outcome.passed).toBe(true);
      expect(good.message).toBeUndefined();
      const bad = checkAssertion(parse(subject, spec.selector, op, fail), f);
      expect(bad.outcome.passed).toBe(false);
      expect(bad.outcome.actual).toEqual(spec.actual);
      expect(bad.message).toContain(`(${JSON.stringify(spec.actual)})`);
    },
  );
});

describe('assertion messages and edge cases', () => {
  it.each([
    [{ status: 200 }, { ...facts, status: 503 }, 'status (503) equals 200'],
    [{ header: 'x-missing', exists: true }, facts, 'header x-missing (missing) exists'],
    [
      { jsonPath: '$.status', equals: 'ok' },
      { ...facts, bodyText: '<html>' },
      'jsonPath $.status (missing) equals "ok" (the body is not JSON)',
    ],
    [{ latencyMs: { lt: 100 } }, facts, 'latencyMs (120.5) lt 100'],
    [{ certExpiresInDays: { gt: 14 } }, { ...facts, tls: undefined }, 'certExpiresInDays (missing) gt 14'],
    [{ jsonPath: '$.tags[*]', contains: 'c' }, facts, 'jsonPath $.tags[*] (["a","b"]) contains "c"'],
    [
      { body: { contains: 'ok' } },
      { ...facts, bodyText: 'x'.repeat(10), bodyTruncated: true },
      'body ("xxxxxxxxxx") contains "ok" (body cut at 10 bytes by maxBodyBytes)',
    ],
  ])('%j reads "%s"', (raw, f, message) => {
    expect(checkAssertion(assertionSchema.parse(raw), f as ResponseFacts).message).toBe(message);
  });

  it('facts copied with another body are judged on that body, not on the first one parsed', () => {
    const status = assertionSchema.parse({ jsonPath: '$.status', equals: 'ok' });
    expect(checkAssertion(status, facts).outcome.passed).toBe(true);
    expect(checkAssertion(status, { ...facts, bodyText: '{"status":"down"}' }).outcome.actual).toBe('down');
  });

  it('contains on a JSONPath with several matches looks for an element', () => {
    expect(
      checkAssertion(assertionSchema.parse({ jsonPath: '$.tags[*]', contains: 'b' }), facts).outcome.passed,
    ).toBe(true);
  });

  it('exists: false passes on a missing header and fails on a present one', () => {
    expect(
      checkAssertion(assertionSchema.parse({ header: 'x-missing', exists: false }), facts).outcome.passed,
    ).toBe(true);
    expect(
      checkAssertion(assertionSchema.parse({ header: 'x-count', exists: false }), facts).outcome.passed,
    ).toBe(false);
  });

  it('a rendered expectation replaces the configured one', () => {
    const a = assertionSchema.parse({ jsonPath: '$.n', equals: '{{n}}' });
    expect(checkAssertion(a, facts, 3).outcome.passed).toBe(true);
    expect(checkAssertion(a, facts).outcome.passed).toBe(false);
  });

  it.each([
    [200, '200', true],
    [true, 'true', true],
    [{ a: 1 }, { a: 1 }, true],
    [undefined, 'undefined', false],
    [null, null, true],
    [0, '', false],
  ])('looselyEqual(%j, %j) is %s', (a, b, want) => {
    expect(looselyEqual(a, b)).toBe(want);
  });
});

describe('plain member paths', () => {
  const bodies = [
    '{"status":"ok","checks":{"db":{"status":"down"}},"tags":["a"],"nothing":null}',
    '{"a":"text","b":[{"c":1},{"c":2}],"constructor":1}',
    '[{"status":"ok"}]',
    '7',
  ];
  const paths = [
    '$.status',
    '$.checks.db.status',
    '$.checks.db',
    '$.tags',
    '$.nothing',
    '$.nothing.deeper',
    '$.missing.deeper',
    '$.a.length',
    '$.b.c',
    '$.constructor',
    '$.toString',
    '$.status.length',
  ];
  // The walk that skips the evaluator for `$.a.b` must answer exactly as jsonpath-plus does.
  it.each(bodies.flatMap((body) => paths.map((path) => [path, body])))('%s on %s', (path, body) => {
    const matches = JSONPath({ path, json: JSON.parse(body), wrap: true }) as unknown[];
    const want = matches.length === 0 ? undefined : matches.length === 1 ? matches[0] : matches;
    expect(selectJsonPath({ ...facts, bodyText: body }, path)).toEqual(want);
  });
});
