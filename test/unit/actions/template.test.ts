import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compileBodyTemplate } from '../../../src/actions/template.js';
import { buildPayload, resolveTargets } from '../../../src/actions/webhook.js';
import { actionsSchema } from '../../../src/config/schema.js';
import { failedVerdict } from './support.js';

const verdict = failedVerdict();
const payload = buildPayload({
  event: 'rollback',
  deliveryId: 'd_1',
  dryRun: false,
  watch: verdict,
  verdict,
  triggeredAt: '2026-11-27T10:15:00.000Z',
});

/** The three README examples, verbatim. */
const GITHUB = `{"event_type": "vigil-rollback",
 "client_payload": {"service": "{{watch.service}}", "version": "{{watch.version}}",
   "rollbackTo": "{{watch.previousVersion}}", "watchId": "{{watch.id}}",
   "reasons": "{{verdict.reasons}}", "dryRun": "{{dryRun}}"}}`;
const ARGO = '{"status": {"abort": true}}';
const SCRIPT = `{"service": "{{watch.service}}", "from": "{{watch.version}}", "to": "{{watch.previousVersion}}",
 "dryRun": "{{dryRun}}", "delivery": "{{deliveryId}}", "why": "{{verdict.reasons}}"}`;

function render(text: string, input: Record<string, unknown> = { ...payload }): unknown {
  const compiled = compileBodyTemplate(text);
  if (!compiled.ok) throw new Error(compiled.problems.join('\n'));
  return JSON.parse(compiled.template.render(input));
}

describe('body templates', () => {
  it('renders the GitHub repository_dispatch example with typed whole-value placeholders', () => {
    expect(render(GITHUB)).toEqual({
      event_type: 'vigil-rollback',
      client_payload: {
        service: 'prep-api',
        version: '1.4.2',
        rollbackTo: '1.4.1',
        watchId: 'w_01JDTEST',
        reasons: ['error-rate 0.034 ≥ objective 0.01 for 3 consecutive evaluations'],
        dryRun: false,
      },
    });
  });

  it('renders the Argo Rollouts abort example as is, and says it does not carry dryRun', () => {
    const compiled = compileBodyTemplate(ARGO);
    expect(compiled.ok && compiled.template.usesDryRun).toBe(false);
    expect(render(ARGO)).toEqual({ status: { abort: true } });
  });

  it('renders the script example', () => {
    expect(render(SCRIPT)).toMatchObject({
      service: 'prep-api',
      from: '1.4.2',
      to: '1.4.1',
      dryRun: false,
      delivery: 'd_1',
    });
  });

  it('embeds placeholders inside text, objects as compact JSON', () => {
    expect(render('{"text": "{{watch.service}} {{watch.version}} failed: {{verdict.reasons}}"}')).toEqual({
      text: 'prep-api 1.4.2 failed: ["error-rate 0.034 ≥ objective 0.01 for 3 consecutive evaluations"]',
    });
  });

  it('cannot be broken out of by a value with quotes and braces (JSON-escaped substitution)', () => {
    const hostile = { ...payload, watch: { ...payload.watch, version: '1"}, "abort": {"x": "\\u0000' } };
    const out = render('{"v": "version {{watch.version}}", "w": "{{watch.version}}"}', hostile) as Record<
      string,
      string
    >;
    expect(Object.keys(out)).toEqual(['v', 'w']);
    expect(out.w).toBe(hostile.watch.version);
  });

  it('renders a null previousVersion as null whole, and as empty text inside a string', () => {
    const first = { ...payload, watch: { ...payload.watch, previousVersion: null } };
    expect(render('{"a": "{{watch.previousVersion}}", "b": "to {{watch.previousVersion}}"}', first)).toEqual({
      a: null,
      b: 'to ',
    });
  });

  it('{{payload}} embeds the whole standard body', () => {
    expect(render('{"vigil": "{{payload}}"}')).toEqual({ vigil: JSON.parse(JSON.stringify(payload)) });
  });

  const invalid: [string, string, RegExp][] = [
    ['not JSON', '{"a": ', /not valid JSON/],
    ['an unknown root', '{"a": "{{watchId}}"}', /unknown placeholder \{\{watchId\}\}/],
    ['an unknown watch field', '{"a": "{{watch.name}}"}', /watch has watch\.id/],
    ['a field under a scalar', '{"a": "{{dryRun.x}}"}', /has no fields/],
  ];
  for (const [name, text, message] of invalid) {
    it(`rejects ${name} at load`, () => {
      const compiled = compileBodyTemplate(text);
      expect(compiled.ok).toBe(false);
      if (!compiled.ok) expect(compiled.problems.join('\n')).toMatch(message);
    });
  }
});

describe('README examples', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  // Only the Actions section: other sections may hold YAML of their own.
  const actionsSection = readme.slice(
    readme.indexOf('\n## Actions'),
    readme.indexOf('\n## ', readme.indexOf('\n## Actions') + 1),
  );
  const blocks = [...actionsSection.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);

  it('has the three target examples', () => {
    expect(blocks).toHaveLength(3);
  });

  for (const [index, block] of blocks.entries()) {
    it(`example ${index + 1} is a valid actions section with no target problems`, () => {
      const text = block.replaceAll(/\$\{[A-Z0-9_]+\}/g, 'from-the-environment-0123');
      const actions = actionsSchema.parse((parse(text) as { actions: unknown }).actions);
      const resolved = resolveTargets(actions);
      expect(resolved.problems).toEqual([]);
      expect(resolved.targets).toHaveLength(1);
    });
  }
});
