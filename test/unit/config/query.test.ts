import { describe, expect, it } from 'vitest';
import { lintQuery, renderQuery } from '../../../src/config/query.js';

describe('lintQuery', () => {
  const valid: [string, 'prometheus' | 'loki', string][] = [
    ['a range selector on {{window}}', 'prometheus', 'sum(rate(http_requests_total[{{window}}]))'],
    [
      'a multi-line ratio',
      'prometheus',
      'sum(rate(x{code=~"5.."}[{{window}}]))\n/ sum(rate(x[{{window}}]))\n',
    ],
    [
      'labels from {{service}} and {{version}}',
      'prometheus',
      'up{job="{{service}}",version="{{ version }}"}',
    ],
    ['an offset by {{window}}', 'prometheus', 'sum(rate(x[{{window}}] offset {{window}}))'],
    [
      'a LogQL metric query',
      'loki',
      'sum(count_over_time({app="prep-api"} | json | level="error" [{{window}}]))',
    ],
    [
      'LogQL with its own Go template in line_format',
      'loki',
      'sum(rate({app="a"} | line_format "{{.msg}}" [5m]))',
    ],
  ];
  it.each(valid)('accepts %s', (_behaviour, language, query) => {
    expect(lintQuery(language, query)).toEqual([]);
  });

  const invalid: [string, 'prometheus' | 'loki', string, string[]][] = [
    [
      'a missing parenthesis, located after the last character',
      'prometheus',
      'sum(rate(x[{{window}}])',
      ['PromQL syntax error at 1:24: unexpected end of query'],
    ],
    ['a stray token', 'prometheus', 'sum(x) foo', ['PromQL syntax error at 1:8: unexpected "foo"']],
    [
      'an unknown variable, with no second error for it standing in a range',
      'prometheus',
      'rate(x[{{windw}}])',
      ['unknown template variable {{windw}} (known: window, service, version, previousVersion)'],
    ],
    [
      'a Go-style {{.window}} in PromQL',
      'prometheus',
      'rate(x[{{.window}}])',
      ['unknown template variable {{.window}} (known: window, service, version, previousVersion)'],
    ],
    [
      'a LogQL stream selector left open',
      'loki',
      'count_over_time({app="x"[{{window}}])',
      ['LogQL syntax error at 1:25: unexpected "["'],
    ],
    [
      'a LogQL log query',
      'loki',
      '{app="x"} |= "error"',
      ['a Loki SLI needs a metric query such as sum(count_over_time({app="x"} |= "error" [{{window}}]))'],
    ],
    ['an empty query', 'prometheus', '  \n', ['query is empty']],
  ];
  it.each(invalid)('reports %s', (_behaviour, language, query, problems) => {
    expect(lintQuery(language, query)).toEqual(problems);
  });
});

describe('renderQuery', () => {
  it('substitutes every known variable, the window as a duration', () => {
    const query = 'rate(x{job="{{service}}",v="{{version}}",p="{{previousVersion}}"}[{{window}}])';
    expect(
      renderQuery(query, {
        windowMs: 90_000,
        service: 'prep-api',
        version: '1.4.2',
        previousVersion: '1.4.1',
      }),
    ).toBe('rate(x{job="prep-api",v="1.4.2",p="1.4.1"}[1m30s])');
  });

  it('escapes quotes and backslashes so a value cannot end its string', () => {
    expect(renderQuery('x{v="{{version}}"}', { windowMs: 1000, service: 's', version: 'a"b\\c' })).toBe(
      'x{v="a\\"b\\\\c"}',
    );
  });

  it('a variable with no value is an error, never an empty label', () => {
    expect(() => renderQuery('x{v="{{version}}"}', { windowMs: 1000, service: 's' })).toThrow(
      'the query uses {{version}} but no version is known here',
    );
  });

  it('an unknown variable is an error', () => {
    expect(() => renderQuery('x[{{foo}}]', { windowMs: 1000, service: 's' })).toThrow(
      'unknown template variable {{foo}}',
    );
  });

  it('leaves LogQL line_format templates alone', () => {
    expect(
      renderQuery(
        'rate({a="b"} | line_format "{{.msg}}" [{{window}}])',
        { windowMs: 300_000, service: 's' },
        'loki',
      ),
    ).toBe('rate({a="b"} | line_format "{{.msg}}" [5m])');
  });
});
