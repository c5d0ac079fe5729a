import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';
import { REPO_ROOT } from '../../helpers/cli.js';

/*
 * The config loader on hostile input: random YAML documents, random text, and mutations of the shipped
 * Prep config (vigil.yaml and its probe and SLO files). Whatever the input, loading either succeeds or
 * throws ConfigError with at least one problem naming a file — never a TypeError, a RangeError, a
 * stack overflow or a hang.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
/** Per-test budget that grows with FUZZ_RUNS (a longer hunt: FUZZ_RUNS=2000 npx vitest run test/unit/fuzz). */
const BUDGET_MS = Math.max(30_000, RUNS * 60);
const SHIPPED = {
  root: readFileSync(join(REPO_ROOT, 'vigil.yaml'), 'utf8'),
  probes: readFileSync(join(REPO_ROOT, 'probes', 'prep.yaml'), 'utf8'),
  slos: readFileSync(join(REPO_ROOT, 'slo', 'prep.yaml'), 'utf8'),
};

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-fuzz-config-'));
  for (const folder of ['probes', 'slo', 'loadtests'])
    cpSync(join(REPO_ROOT, folder), join(dir, folder), { recursive: true });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Loads the tree as written; returns 'ok' or 'config-error', rethrowing anything else with the input. */
async function loadOutcome(
  files: { root: string; probes?: string; slos?: string },
  env: Record<string, string> = {},
): Promise<string> {
  writeFileSync(join(dir, 'vigil.yaml'), files.root);
  writeFileSync(join(dir, 'probes', 'prep.yaml'), files.probes ?? SHIPPED.probes);
  writeFileSync(join(dir, 'slo', 'prep.yaml'), files.slos ?? SHIPPED.slos);
  try {
    await loadConfig(join(dir, 'vigil.yaml'), { VIGIL_DATA_DIR: join(dir, 'data'), ...env });
    return 'ok';
  } catch (error) {
    if (error instanceof ConfigError) {
      expect(error.problems.length).toBeGreaterThan(0);
      for (const problem of error.problems) {
        expect(typeof problem.file).toBe('string');
        expect(typeof problem.message).toBe('string');
      }
      return 'config-error';
    }
    throw new Error(
      `loadConfig threw ${(error as Error)?.constructor?.name}: ${String(error)}\n--- env ---\n${JSON.stringify(env)}\n--- vigil.yaml ---\n${files.root.slice(0, 2000)}`,
    );
  }
}

type Path = (string | number)[];

/** Every path to a node of a parsed document (objects and arrays), for picking a mutation point. */
function paths(value: unknown, prefix: Path = []): Path[] {
  const found: Path[] = [prefix];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) found.push(...paths(v, [...prefix, i]));
  } else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) found.push(...paths(v, [...prefix, k]));
  return found;
}

type Mutation =
  | { kind: 'set'; value: unknown }
  | { kind: 'delete' }
  | { kind: 'add'; key: string; value: unknown };

/** Applies one mutation at `path` of a structured clone of `doc`. */
function mutate(doc: unknown, path: Path, mutation: Mutation): unknown {
  const copy = structuredClone(doc);
  if (path.length === 0) return mutation.kind === 'set' ? mutation.value : copy;
  let parent = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (mutation.kind === 'set') parent[last] = mutation.value;
  else if (mutation.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else {
    const target = parent[last];
    if (target !== null && typeof target === 'object' && !Array.isArray(target))
      (target as Record<string, unknown>)[mutation.key] = mutation.value;
  }
  return copy;
}

const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    '',
    '0s',
    '-5m',
    '1e309',
    'NaN',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a config-file reference, not a JS template
    '${UNSET}',
    '${X:-',
    '{{window}}',
    '{{nope}}',
    '999999999999h',
    '101%',
    '*',
  ),
  fc.double(),
  fc.constantFrom(null, true, [], {}),
);

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  anyValue.map((value) => ({ kind: 'set' as const, value })),
  fc.constant({ kind: 'delete' as const }),
  fc.record({ kind: fc.constant('add' as const), key: fc.string({ maxLength: 12 }), value: anyValue }),
);

/** A structural mutation of one YAML text: parse, change one node, print. */
function structuralMutation(text: string): fc.Arbitrary<string> {
  const doc = YAML.parse(text) as unknown;
  const all = paths(doc);
  return fc
    .tuple(fc.integer({ min: 0, max: all.length - 1 }), mutationArb)
    .map(([index, mutation]) => YAML.stringify(mutate(doc, all[index] as Path, mutation)));
}

/** A text mutation: overwrite, insert or delete a few characters somewhere. */
function textMutation(text: string): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.integer({ min: 0, max: text.length }),
      fc.integer({ min: 0, max: 8 }),
      fc.string({
        maxLength: 8,
        unit: fc.constantFrom(
          ':',
          '-',
          ' ',
          '\n',
          '{',
          '}',
          '[',
          ']',
          '"',
          "'",
          '#',
          '&',
          '*',
          '!',
          '|',
          '>',
          '$',
          'a',
          '1',
          '\t',
          '%',
          '@',
          '\\',
        ),
      }),
    )
    .map(([at, cut, insert]) => text.slice(0, at) + insert + text.slice(at + cut));
}

describe('config loader fuzzing: only ConfigError, never a crash', () => {
  it('the shipped config loads as it is (the mutations start from a valid tree)', async () => {
    expect(await loadOutcome(SHIPPED)).toBe('ok');
  });

  it(
    'random YAML documents and random text as vigil.yaml',
    async () => {
      const documents = fc.oneof(
        fc.anything({ maxDepth: 3 }).map((v) => {
          try {
            return YAML.stringify(v) ?? '';
          } catch {
            return String(v);
          }
        }),
        fc.string({ maxLength: 200 }),
        fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      );
      await fc.assert(
        fc.asyncProperty(documents, async (root) => void (await loadOutcome({ root }))),
        {
          numRuns: RUNS,
        },
      );
    },
    BUDGET_MS,
  );

  it(
    'one structural mutation of vigil.yaml',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          structuralMutation(SHIPPED.root),
          async (root) => void (await loadOutcome({ root })),
        ),
        { numRuns: RUNS },
      );
    },
    BUDGET_MS,
  );

  it(
    'one structural mutation of the shipped probe file or SLO file',
    async () => {
      const arb = fc.oneof(
        structuralMutation(SHIPPED.probes).map((probes) => ({ root: SHIPPED.root, probes })),
        structuralMutation(SHIPPED.slos).map((slos) => ({ root: SHIPPED.root, slos })),
      );
      await fc.assert(
        fc.asyncProperty(arb, async (files) => void (await loadOutcome(files))),
        { numRuns: RUNS },
      );
    },
    BUDGET_MS,
  );

  it(
    'hostile values for every environment variable the shipped config reads',
    async () => {
      const names = [...new Set([...SHIPPED.root.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1] as string))];
      expect(names).toEqual(expect.arrayContaining(['VIGIL_TARGET_URL', 'VIGIL_LISTEN', 'VIGIL_API_TOKEN']));
      const envArb = fc.dictionary(
        fc.constantFrom(...names),
        fc.oneof(
          fc.string({ maxLength: 30 }),
          fc.constantFrom(
            '',
            ' ',
            'http://',
            'http://[::1',
            'ftp://x',
            '127.0.0.1:99999',
            ':0',
            '$${X}',
            '\n- x',
            '"',
            "'",
            '{',
            'k6; rm -rf /',
            '/dev/null',
            '.',
          ),
        ),
        { maxKeys: 6 },
      );
      await fc.assert(
        fc.asyncProperty(envArb, async (env) => void (await loadOutcome({ root: SHIPPED.root }, env))),
        { numRuns: RUNS },
      );
    },
    BUDGET_MS,
  );

  it(
    'character-level damage to any of the three files',
    async () => {
      const arb = fc.oneof(
        textMutation(SHIPPED.root).map((root) => ({ root })),
        textMutation(SHIPPED.probes).map((probes) => ({ root: SHIPPED.root, probes })),
        textMutation(SHIPPED.slos).map((slos) => ({ root: SHIPPED.root, slos })),
      );
      await fc.assert(
        fc.asyncProperty(arb, async (files) => void (await loadOutcome(files))),
        { numRuns: RUNS },
      );
    },
    BUDGET_MS,
  );
});
