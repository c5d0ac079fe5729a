import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvFormats, { type FormatsPlugin } from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildJsonSchema, renderJsonSchema } from '../../../src/config/json-schema.js';

type Node = Record<string, unknown>;

function at(schema: Node, ...keys: string[]): Node {
  let node: unknown = schema;
  for (const key of keys) node = (node as Node)[key];
  return node as Node;
}

describe('JSON Schema', () => {
  it('the committed vigil.schema.json equals the generated one', async () => {
    // After a schema change: `npx vitest run test/unit/config/json-schema.test.ts -u` (or `vigil schema > vigil.schema.json`).
    await expect(renderJsonSchema()).toMatchFileSnapshot('../../../vigil.schema.json');
  });

  it('vigil.yaml points editors at it', () => {
    expect(readFileSync('vigil.yaml', 'utf8').split('\n')[0]).toBe(
      '# yaml-language-server: $schema=./vigil.schema.json',
    );
  });

  const schema = buildJsonSchema();

  it('describes the input: durations are strings with a pattern, or an interpolated reference', () => {
    const duration = at(schema, 'properties', 'watch', 'properties', 'duration');
    expect(duration.anyOf).toEqual([
      expect.objectContaining({ type: 'string', pattern: expect.stringContaining('ms|s|m|h|d|w') }),
      { $ref: '#/$defs/interpolated' },
    ]);
  });

  it('is strict like the loader: unknown keys are not allowed', () => {
    expect(schema.additionalProperties).toBe(false);
    expect(at(schema, 'properties', 'watch').additionalProperties).toBe(false);
  });

  it('numbers keep their default outside the interpolation wrapper', () => {
    const failureLimit = at(schema, 'properties', 'watch', 'properties', 'failureLimit');
    expect(failureLimit.default).toBe(3);
    expect(failureLimit.anyOf).toEqual([
      expect.objectContaining({ type: 'integer' }),
      { $ref: '#/$defs/interpolated' },
    ]);
  });

  it('carries the probe and SLO file schemas under $defs', () => {
    const probeFile = at(schema, '$defs', 'probeFile');
    const sloFile = at(schema, '$defs', 'sloFile');
    expect(probeFile.type).toBe('array');
    expect(sloFile.type).toBe('array');
    expect(JSON.stringify(at(sloFile, 'items', 'properties', 'source'))).toContain(
      '"prometheus","loki","probes"',
    );
  });

  it('name patterns keep their case-insensitivity (no regex flags in JSON Schema)', () => {
    const service = at(schema, 'properties', 'service');
    const pattern = new RegExp(String((service.anyOf as Node[])[0]?.pattern));
    expect(pattern.test('Prep-API')).toBe(true);
  });

  // ajv comes with fastify; a real 2020-12 validator shows editors will accept what the loader accepts.
  describe('checked by a JSON Schema validator', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    // ajv-formats is CommonJS: its default export is the module object under NodeNext typing.
    const addFormats = ((ajvFormats as { default?: FormatsPlugin }).default ?? ajvFormats) as FormatsPlugin;
    addFormats(ajv);
    ajv.addSchema(JSON.parse(readFileSync('vigil.schema.json', 'utf8')), 'vigil');
    const check = (file: string, ref: string) => ajv.getSchema(ref)?.(parse(readFileSync(file, 'utf8')));

    it.each([
      ['vigil.yaml', 'vigil'],
      ['probes/prep.yaml', 'vigil#/$defs/probeFile'],
      ['slo/prep.yaml', 'vigil#/$defs/sloFile'],
      ['test/fixtures/config/valid/vigil.yaml', 'vigil'],
      ['test/fixtures/config/valid/probes/journeys.yaml', 'vigil#/$defs/probeFile'],
      ['test/fixtures/config/valid/slo/checks.yaml', 'vigil#/$defs/sloFile'],
    ])('accepts %s', (file, ref) => {
      expect(check(file, ref)).toBe(true);
    });

    it.each([
      ['test/fixtures/config/invalid-unknown-key.yaml', 'vigil'],
      ['test/fixtures/config/invalid-bad-duration.yaml', 'vigil'],
      ['test/fixtures/config/invalid-bad-phase.yaml', 'vigil'],
      ['test/fixtures/config/invalid-probe-kind/probes/p.yaml', 'vigil#/$defs/probeFile'],
    ])('rejects %s', (file, ref) => {
      expect(check(file, ref)).toBe(false);
    });
  });
});
