import { describe, expect, it } from 'vitest';
import { assertionSchema } from '../../../src/config/assertions.js';

/* Values whose type the subject fixes are checked at load: a wrong one would fail the probe at every run. */
describe('an assertion value of the wrong type is a load error', () => {
  const invalid: [string, Record<string, unknown>, string][] = [
    [
      'a status in words',
      { status: 'two hundred' },
      'status equals takes an HTTP status code from 100 to 599, got "two hundred"',
    ],
    ['a status out of range', { status: { in: [200, 1000] } }, 'status in takes an HTTP status code'],
    ['a latency as text', { latencyMs: { equals: 'fast' } }, 'latencyMs equals takes a number'],
    ['a TLS version as a number with equals', { tlsVersion: 1.3 }, 'tlsVersion equals takes one of TLSv1'],
    ['an operator typo', { status: { equal: 200 } }, 'did you mean `equals`?'],
  ];
  it.each(invalid)('%s', (_behaviour, raw, message) => {
    const result = assertionSchema.safeParse(raw);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain(message);
  });

  const valid: [string, Record<string, unknown>, unknown][] = [
    ['a quoted status compares as the number', { status: '200' }, 200],
    ['a list of codes', { status: { in: [200, '204'] } }, [200, 204]],
    ['a value carried from an earlier step', { status: '{{expected}}' }, '{{expected}}'],
    ['a TLS protocol name', { tlsVersion: 'TLSv1.3' }, 'TLSv1.3'],
    ['a body compared with anything', { body: 42 }, 42],
  ];
  it.each(valid)('%s', (_behaviour, raw, expected) => {
    const result = assertionSchema.safeParse(raw);
    expect(result.success).toBe(true);
    expect(result.data?.expected).toEqual(expected);
  });
});
