import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ASSERTION_OPERATORS, ASSERTION_SUBJECTS } from '../../../src/config/assertions.js';
import { REPO_ROOT } from '../../helpers/cli.js';

/*
 * The configuration reference (docs/configuration.md, linked from the README) covers every field of the config: each dotted path of the JSON
 * Schema (vigil.schema.json, generated from the zod schemas) appears in backticks in the right section.
 * A field added to the schema without a line in the reference fails here.
 *
 * Path spelling: arrays are transparent (`actions.rollback.url`; the README may write
 * `actions.rollback[].url`), map keys are `<name>` (`loadtests.profiles.<name>.script`). A path with
 * children counts as covered when one of its children is. In probe files, `teardown.*` is covered by
 * `steps.*` and `steps.request.*` by `request.*` (the reference says they take the same fields).
 */

type Node = Record<string, unknown>;

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every dotted field path under a JSON Schema node, with whether it has children. */
function fieldPaths(node: unknown, prefix = '', out = new Map<string, boolean>()): Map<string, boolean> {
  if (!isNode(node) || '$ref' in node) return out;
  for (const key of ['anyOf', 'oneOf', 'allOf'])
    if (Array.isArray(node[key]))
      for (const branch of node[key] as unknown[]) fieldPaths(branch, prefix, out);
  if (node.items !== undefined) fieldPaths(node.items, prefix, out);
  if (isNode(node.properties)) {
    for (const [key, child] of Object.entries(node.properties)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (!out.has(path)) out.set(path, false);
      const before = out.size;
      fieldPaths(child, path, out);
      if (out.size > before) out.set(path, true);
    }
  }
  if (isNode(node.additionalProperties)) {
    const before = out.size;
    fieldPaths(node.additionalProperties, `${prefix}.<name>`, out);
    if (out.size > before && prefix) out.set(prefix, true);
  }
  return out;
}

/** The backticked spans of a text, normalised: `[]` dropped, any `<placeholder>` spelled `<name>`. */
function backticked(text: string): Set<string> {
  return new Set(
    [...text.matchAll(/`([^`\n]+)`/g)].map((m) =>
      (m[1] as string).replace(/\[\]/g, '').replace(/<[^>]+>/g, '<name>'),
    ),
  );
}

/** The text of a markdown section, from its heading to the next heading of the same or a higher level. */
function section(markdown: string, heading: RegExp): string | undefined {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => heading.test(line));
  if (start < 0) return undefined;
  const level = /^(#+)/.exec(lines[start] as string)?.[1]?.length ?? 2;
  const end = lines.findIndex(
    (line, i) => i > start && /^(#+) /.test(line) && (/^(#+)/.exec(line)?.[1]?.length ?? 9) <= level,
  );
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

type Alias = (path: string) => string | undefined;

const PROBE_ALIASES: Alias = (path) => {
  if (path.startsWith('teardown.')) return `steps.${path.slice('teardown.'.length)}`;
  if (path.startsWith('steps.request.')) return path.slice('steps.'.length);
  return undefined;
};

/** Fields of `paths` that `spans` does not document. */
function undocumented(
  paths: Map<string, boolean>,
  spans: Set<string>,
  alias: Alias = () => undefined,
): string[] {
  const covered = (path: string): boolean => {
    if (spans.has(path)) return true;
    const other = alias(path);
    if (other !== undefined && covered(other)) return true;
    if (paths.get(path)) return [...paths.keys()].some((p) => p.startsWith(`${path}.`) && covered(p));
    return false;
  };
  return [...paths.keys()].filter((path) => !covered(path));
}

const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'vigil.schema.json'), 'utf8')) as Node;
const defs = schema.$defs as Record<string, unknown>;
const ROOT_PATHS = fieldPaths({ properties: schema.properties });
const PROBE_PATHS = fieldPaths(defs.probeFile);
const SLO_PATHS = fieldPaths(defs.sloFile);

describe('the schema walk', () => {
  test('finds nested, map and definition-file fields', () => {
    expect(ROOT_PATHS.has('watch.evaluationInterval')).toBe(true);
    expect(ROOT_PATHS.has('loadtests.profiles.<name>.script')).toBe(true);
    expect(ROOT_PATHS.has('actions.rollback.secret')).toBe(true);
    expect(ROOT_PATHS.get('server.rateLimit')).toBe(true);
    expect(PROBE_PATHS.has('steps.extract.<name>.regex')).toBe(true);
    expect(PROBE_PATHS.has('tls.caFile')).toBe(true);
    expect(SLO_PATHS.has('baseline.maxIncrease')).toBe(true);
    expect(SLO_PATHS.has('sli.measure')).toBe(true);
  });

  test('reports a field the text leaves out, and accepts the aliases', () => {
    const paths = new Map([
      ['server', true],
      ['server.listen', false],
      ['server.apiToken', false],
    ]);
    expect(undocumented(paths, backticked('`server.listen`'))).toEqual(['server.apiToken']);
    const probe = new Map([
      ['teardown.request.path', false],
      ['request.path', false],
    ]);
    expect(undocumented(probe, backticked('`request.path`'), PROBE_ALIASES)).toEqual([]);
  });
});

describe('docs/configuration.md, the configuration reference', () => {
  const reference = section(
    readFileSync(join(REPO_ROOT, 'docs/configuration.md'), 'utf8'),
    /^# Configuration reference/,
  );

  test('exists, and the README links to it', () => {
    expect(reference, 'docs/configuration.md has no "# Configuration reference" heading').toBeDefined();
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('](docs/configuration.md)');
  });

  test('documents every field of the root file (vigil.yaml)', () => {
    expect(undocumented(ROOT_PATHS, backticked(reference ?? ''))).toEqual([]);
  });

  test('documents every field of probe files under "## Probe files"', () => {
    const text = section(reference ?? '', /^## Probe files/) ?? '';
    expect(undocumented(PROBE_PATHS, backticked(text), PROBE_ALIASES)).toEqual([]);
  });

  test('documents every field of SLO files (baseline included) from "## SLO files" on', () => {
    const text = `${section(reference ?? '', /^## SLO files/) ?? ''}\n${section(reference ?? '', /^## Baseline/) ?? ''}`;
    expect(undocumented(SLO_PATHS, backticked(text))).toEqual([]);
  });

  test('documents every assertion subject and operator under "## Assertions"', () => {
    const spans = backticked(section(reference ?? '', /^## Assertions/) ?? '');
    const missing = [...ASSERTION_SUBJECTS, ...ASSERTION_OPERATORS].filter((word) => !spans.has(word));
    expect(missing).toEqual([]);
  });
});
