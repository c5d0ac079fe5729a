import { describe, expect, it } from 'vitest';
import { sloSchema } from '../../../src/config/schema.js';
import { lintLogQuery } from '../../../src/patterns/query.js';

const DESIGN_EXAMPLE = {
  name: 'new-error-signatures',
  source: 'loki',
  patterns: { query: '{app="prep-api"} | json | level=~"error|fatal"', minCount: 5, maxNewSignatures: 0 },
  baseline: { from: 'pre-deploy' },
};

function problems(input: unknown): string[] {
  const parsed = sloSchema.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('patterns check config', () => {
  it('the DESIGN §4 example validates, with the issue defaults', () => {
    const slo = sloSchema.parse(DESIGN_EXAMPLE);
    expect(slo.patterns).toEqual({
      query: '{app="prep-api"} | json | level=~"error|fatal"',
      minCount: 5,
      maxNewSignatures: 0,
      maxSignatures: 1_000,
      maxLines: 20_000,
      baselineWindow: 3_600_000,
    });
    expect(
      problems({ ...DESIGN_EXAMPLE, total: 'sum(count_over_time({app="prep-api"}[{{window}}]))' }),
    ).toEqual([]);
    expect(problems({ ...DESIGN_EXAMPLE, baseline: { from: 'pre-deploy', maxIncrease: '100%' } })).toEqual(
      [],
    );
  });

  it.each([
    ['another source', { source: 'prometheus' }, 'patterns: patterns checks read logs: use source: loki'],
    [
      'a metric query beside it',
      { query: 'sum(x)' },
      'query: a patterns check takes no query (its lines come from patterns.query)',
    ],
    [
      'an objective',
      { objective: { lt: 1 } },
      'objective: a patterns check takes no objective (its lines come from patterns.query)',
    ],
    [
      'no baseline',
      { baseline: undefined },
      ': a patterns check needs a baseline, e.g. baseline: { from: pre-deploy }',
    ],
    [
      'a pinned baseline',
      { baseline: { from: 'pinned', version: '1.4.1' } },
      'baseline.from: a patterns baseline is read at watch start: from: pre-deploy, offset (a window of logs) or previous-watch (the signatures the last passed watches knew)',
    ],
    [
      'a Mann-Whitney test',
      { baseline: { from: 'pre-deploy', test: 'mann-whitney' } },
      'baseline.test: a patterns check judges known signatures by maxIncrease (a proportion test); test does not apply',
    ],
  ])('refuses %s', (_name, change, expected) => {
    expect(problems({ ...DESIGN_EXAMPLE, ...change })).toContain(expected);
  });

  it('other checks still need a comparison in their baseline', () => {
    expect(
      problems({ name: 'x', source: 'prometheus', query: 'up', baseline: { from: 'pre-deploy' } }),
    ).toEqual(['baseline: a baseline needs maxIncrease, maxDecrease or test']);
  });
});

describe('patterns query', () => {
  it.each([
    '{app="prep-api"} | json | level=~"error|fatal"',
    '{app="{{service}}", version="{{version}}"} |= "error"',
    '{app="prep-api"} | logfmt | level="error" | line_format "{{.msg}}"',
  ])('a log query is valid: %s', (query) => {
    expect(lintLogQuery(query)).toEqual([]);
  });

  it.each([
    ['sum(count_over_time({app="x"}[5m]))', 'a patterns query is a log query selecting the lines to study'],
    ['{app="prep-api"} | json | level="error"[', 'LogQL syntax error'],
    ['{app="{{app}}"}', 'unknown template variable {{app}}'],
  ])('%s is refused', (query, expected) => {
    expect(lintLogQuery(query).join('; ')).toContain(expected);
  });
});
