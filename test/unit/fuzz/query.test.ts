import { parser } from '@prometheus-io/lezer-promql';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderQuery } from '../../../src/config/query.js';
import { VERSION_PATTERN } from '../../../src/server/routes/watches.js';

/*
 * A version goes into queries as a label value, and often inside a regex matcher (`version=~"{{version}}"`).
 * Whatever version the API accepts, the rendered query must parse and its matcher must select that
 * version and nothing else.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

/** The string literals of a PromQL query, unquoted (Go-style escapes: `\\` and `\"`). */
function stringLiterals(query: string): string[] {
  const out: string[] = [];
  parser.parse(query).iterate({
    enter: (node) => {
      if (node.name === 'StringLiteral') {
        const raw = query.slice(node.from + 1, node.to - 1);
        out.push(raw.replace(/\\(.)/g, '$1'));
      }
    },
  });
  return out;
}

function hasSyntaxError(query: string): boolean {
  let error = false;
  parser.parse(query).iterate({
    enter: (node) => {
      if (node.type.isError) error = true;
    },
  });
  return error;
}

/** Prometheus anchors a regex matcher at both ends. */
function matches(regex: string, value: string): boolean {
  return new RegExp(`^(?:${regex})$`).test(value);
}

const versionArb = fc.stringMatching(VERSION_PATTERN);
const vars = (version: string) => ({ windowMs: 300_000, service: 'prep-api', version });

describe('{{version}} in a regex matcher', () => {
  it('selects exactly the version it names', () => {
    fc.assert(
      fc.property(versionArb, versionArb, (version, other) => {
        const query = renderQuery('sum(up{version=~"{{version}}"})', vars(version));
        expect(hasSyntaxError(query), query).toBe(false);
        const [regex] = stringLiterals(query);
        expect(matches(regex ?? '', version), query).toBe(true);
        if (other !== version) expect(matches(regex ?? '', other), query).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it.each([
    { name: 'the dots of 1.4.2 do not match any character', version: '1.4.2', other: '1x4y2' },
    { name: 'a "+" is literal, not a repetition', version: '1.4.2+b', other: '1.4.2+++b' },
  ])('$name', ({ version, other }) => {
    const query = renderQuery('up{version=~"{{version}}"}', vars(version));
    expect(matches(stringLiterals(query)[0] ?? '', other)).toBe(false);
    expect(matches(stringLiterals(query)[0] ?? '', version)).toBe(true);
  });

  it('is escaped in !~ and in single-quoted strings, but an = matcher takes the value as it is', () => {
    const query = renderQuery('up{a!~\'{{version}}\', b="{{version}}", c=~ "v{{version}}.*"}', vars('1.4.2'));
    expect(query).toBe('up{a!~\'1\\\\.4\\\\.2\', b="1.4.2", c=~ "v1\\\\.4\\\\.2.*"}');
  });

  it('a regex-looking value outside a matcher string is left alone (a label value stays literal)', () => {
    expect(renderQuery('x{job="{{service}}"} / y{v=~"{{service}}"}', vars('1'))).toBe(
      'x{job="prep-api"} / y{v=~"prep-api"}',
    );
  });

  it('LogQL line filters |~ are regex too', () => {
    expect(renderQuery('{app="a"} |~ "v{{version}}"', vars('2.0'), 'loki')).toBe('{app="a"} |~ "v2\\\\.0"');
  });
});
