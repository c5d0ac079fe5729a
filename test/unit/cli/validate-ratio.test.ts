// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} references are config syntax here
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { vanishingNumerator } from '../../../src/config/query.js';
import { runInProcess } from '../../helpers/cli.js';

/*
 * `vigil validate` warns on a PromQL ratio whose numerator selects a subset of the denominator and can
 * vanish (no 5xx series until the first 5xx): the check would be inconclusive for as long as the deploy
 * stays perfect.
 */

const UNFIXED =
  'sum(rate(http_requests_total{job="prep-api",code=~"5.."}[{{window}}]))\n/ sum(rate(http_requests_total{job="prep-api"}[{{window}}]))';
const FIXED =
  '(sum(rate(http_requests_total{job="prep-api",code=~"5.."}[{{window}}])) or vector(0))\n/ sum(rate(http_requests_total{job="prep-api"}[{{window}}]))';

describe('vanishingNumerator', () => {
  test.each([
    { name: 'the unfixed error ratio', query: UNFIXED, want: ['code=~"5.."'] },
    { name: 'the fixed error ratio', query: FIXED, want: undefined },
    {
      name: 'or on() vector(0)',
      query: '(sum(rate(x{code=~"5.."}[5m])) or on() vector(0)) / sum(rate(x[5m]))',
      want: undefined,
    },
    {
      name: 'wrapped in parentheses',
      query: '((sum(rate(x{code="500"}[5m])) / sum(rate(x[5m]))))',
      want: ['code="500"'],
    },
    {
      name: 'several filters',
      query: 'sum(x{a="1",b!="2",job="j"}) / sum(x{job="j"})',
      want: ['a="1"', 'b!="2"'],
    },
    { name: 'the same matchers both sides', query: 'sum(x{job="j"}) / sum(y{job="j"})', want: undefined },
    {
      name: 'a denominator filtering more',
      query: 'sum(x{job="j"}) / sum(y{job="j",resource="cpu"})',
      want: undefined,
    },
    { name: 'a match-all matcher filters nothing', query: 'sum(x{code=~".*"}) / sum(x)', want: undefined },
    {
      name: 'not a top-level division',
      query: 'max(sum by (pod) (x{code="5"}) / sum by (pod) (x))',
      want: undefined,
    },
    { name: 'a product, not a ratio', query: 'sum(x{code="5"}) * sum(x)', want: undefined },
    {
      name: 'or vector on the wrong side',
      query: 'sum(x{code="5"}) / (sum(x) or vector(1))',
      want: ['code="5"'],
    },
    { name: 'a syntax error', query: 'sum(x{code="5"} / ', want: undefined },
  ])('$name', ({ query, want }) => {
    expect(vanishingNumerator(query)).toEqual(want);
  });
});

describe('vigil validate', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function validateWith(query: string) {
    dir = mkdtempSync(join(tmpdir(), 'vigil-ratio-'));
    mkdirSync(join(dir, 'slo'));
    writeFileSync(
      join(dir, 'vigil.yaml'),
      [
        'service: prep-api',
        'target: { baseUrl: "http://127.0.0.1:9" }',
        // Secrets from the environment, as they must be: literal ones would add warnings of their own.
        'server: { apiToken: "${VIGIL_API_TOKEN}" }',
        'storage: { path: ":memory:" }',
        'sources: { prometheus: { url: "http://127.0.0.1:9090" } }',
        'actions: { rollback: [ { url: "http://127.0.0.1:9/hook", secret: "${VIGIL_ROLLBACK_WEBHOOK_SECRET}" } ] }',
        'slos: [slo/*.yaml]',
        '',
      ].join('\n'),
    );
    const indented = query.replace(/\n/g, '\n    ');
    writeFileSync(
      join(dir, 'slo', 'http.yaml'),
      `- name: error-rate\n  source: prometheus\n  query: |\n    ${indented}\n  objective: { lt: 0.01 }\n`,
    );
    return runInProcess(['validate', '-c', join(dir, 'vigil.yaml')], {
      VIGIL_API_TOKEN: 'token-0123456789abcdef',
      VIGIL_ROLLBACK_WEBHOOK_SECRET: '0123456789abcdef',
    });
  }

  test('warns on the unfixed ratio, naming the file, the check and the fix, and still exits 0', async () => {
    const run = await validateWith(UNFIXED);
    expect(run.code).toBe(0);
    const warnings = run.stderr.split('\n').filter((l) => l.startsWith('warning:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^warning: \S*slo\/http\.yaml:error-rate\.query: check "error-rate": /);
    expect(warnings[0]).toContain('code=~"5.."');
    expect(warnings[0]).toContain('or vector(0)');
  });

  test('says nothing about the fixed ratio', async () => {
    const run = await validateWith(FIXED);
    expect(run.code).toBe(0);
    expect(run.stderr).not.toContain('warning:');
  });
});
