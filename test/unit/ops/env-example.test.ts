import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../helpers/cli.js';

/*
 * `.env.example` is the operator's list of every variable Vigil reads (DESIGN §9): nothing in it may be
 * dead, and nothing the code or the shipped config reads may be missing from it.
 */

/** The variables of DESIGN §9, the contract. */
const DESIGN_VARIABLES = [
  'VIGIL_TARGET_URL',
  'VIGIL_PROMETHEUS_URL',
  'VIGIL_LOKI_URL',
  'VIGIL_ALERTMANAGER_URL',
  'VIGIL_ROLLBACK_WEBHOOK_URL',
  'VIGIL_ROLLBACK_WEBHOOK_SECRET',
  'VIGIL_API_TOKEN',
  'VIGIL_LISTEN',
  'VIGIL_DATA_DIR',
  'VIGIL_K6_PATH',
  'VIGIL_SERVER',
  'LOG_LEVEL',
  'LOG_FORMAT',
];

/** Variables the suite and CI read; they are not the daemon's and do not belong in .env.example. */
const TEST_ONLY = new Set(['VIGIL_REQUIRE_INTEGRATION']);

function files(dir: string, suffixes: string[]): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...files(path, suffixes));
    else if (suffixes.some((s) => entry.endsWith(s))) out.push(path);
  }
  return out;
}

function envExampleVariables(): string[] {
  const text = readFileSync(join(REPO_ROOT, '.env.example'), 'utf8');
  return text
    .split('\n')
    .map((line) => /^\s*([A-Z_][A-Z0-9_]*)=/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

/** Names read as `env.X`, `env['X']`, `env["X"]`, or interpolated as `${X}` / `${X:-default}`. */
function readVariables(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/\benv(?:\.([A-Z_][A-Z0-9_]*)|\[\s*['"]([A-Z_][A-Z0-9_]*)['"]\s*\])/g))
    names.add((m[1] ?? m[2]) as string);
  for (const m of text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)(?::?-[^}]*)?\}/g)) names.add(m[1] as string);
  return names;
}

/** Where each VIGIL_* / LOG_* variable is read: src/**\/*.ts and the shipped config (root + definitions). */
function variablesReadByShippedCode(): Map<string, string[]> {
  const sources = [
    ...files(join(REPO_ROOT, 'src'), ['.ts']),
    join(REPO_ROOT, 'vigil.yaml'),
    ...files(join(REPO_ROOT, 'probes'), ['.yaml', '.yml']),
    ...files(join(REPO_ROOT, 'slo'), ['.yaml', '.yml']),
  ];
  const where = new Map<string, string[]>();
  for (const file of sources) {
    for (const name of readVariables(readFileSync(file, 'utf8'))) {
      if (!/^(VIGIL|LOG)_/.test(name)) continue;
      where.set(name, [...(where.get(name) ?? []), relative(REPO_ROOT, file)]);
    }
  }
  return where;
}

describe('.env.example', () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's ${VAR} syntax is what is scanned
  test("the scanner finds env.X, env['X'] and ${X:-default} forms", () => {
    expect([
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's ${VAR} syntax is what is scanned
      ...readVariables("ctx.env.VIGIL_SERVER; env['LOG_LEVEL']; url: ${VIGIL_LISTEN:-127.0.0.1:9469}; ${X}"),
    ]).toEqual(['VIGIL_SERVER', 'LOG_LEVEL', 'VIGIL_LISTEN', 'X']);
  });

  test('lists every variable of DESIGN §9', () => {
    const listed = envExampleVariables();
    for (const name of DESIGN_VARIABLES) expect(listed, name).toContain(name);
  });

  test('lists each variable once', () => {
    const listed = envExampleVariables();
    expect(listed.length).toBe(new Set(listed).size);
  });

  test('every variable it lists is read by the code or the shipped config', () => {
    const read = variablesReadByShippedCode();
    const dead = envExampleVariables().filter((name) => !read.has(name));
    expect(dead).toEqual([]);
  });

  test('every VIGIL_* and LOG_* variable the code or shipped config reads is listed', () => {
    const listed = new Set(envExampleVariables());
    const missing = [...variablesReadByShippedCode()]
      .filter(([name]) => !listed.has(name) && !TEST_ONLY.has(name))
      .map(([name, where]) => `${name} (read in ${where.join(', ')})`);
    expect(missing).toEqual([]);
  });

  test('holds no secret values: the token and webhook secret are empty', () => {
    const text = readFileSync(join(REPO_ROOT, '.env.example'), 'utf8');
    for (const name of ['VIGIL_API_TOKEN', 'VIGIL_ROLLBACK_WEBHOOK_SECRET'])
      expect(text).toMatch(new RegExp(`^${name}=$`, 'm'));
  });
});
