import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runInProcess, VIGIL_BIN } from '../../helpers/cli.js';

/*
 * `vigil validate` parses every configured profile script, and the files it imports, as k6 v0.49
 * would: a script k6 <0.52 cannot parse is a problem (exit 1), named by file, line and column.
 */

const SYNTAX = join(import.meta.dirname, '../../fixtures/k6/syntax');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-validate-k6-'));
  mkdirSync(join(dir, 'loadtests/lib'), { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(profiles: Record<string, string>): string {
  const file = join(dir, 'vigil.yaml');
  writeFileSync(
    file,
    [
      'service: prep-api',
      'target: { baseUrl: "http://127.0.0.1:8080" }',
      'storage: { path: ./vigil.db }',
      'loadtests:',
      '  profiles:',
      ...Object.entries(profiles).map(([name, script]) => `    ${name}: { script: ${script} }`),
    ].join('\n'),
  );
  return file;
}

/** The problem lines of validate's stderr, without the config warnings and notes (.env read) above them. */
const problems = (stderr: string) =>
  stderr
    .trim()
    .split('\n')
    .filter((line) => !line.startsWith('warning: ') && !line.startsWith('note: '));

describe('vigil validate: k6 profile scripts', () => {
  it('reports a profile script k6 0.49 cannot parse as <file>:<line>:<col>, exit 1', async () => {
    cpSync(join(SYNTAX, 'syntax-optional-chaining.js'), join(dir, 'loadtests/smoke.js'));
    cpSync(join(SYNTAX, 'syntax-exponent.js'), join(dir, 'loadtests/load.js'));
    const file = writeConfig({ smoke: 'loadtests/smoke.js', load: 'loadtests/load.js' });
    const { code, stderr } = await runInProcess(['validate', '-c', file]);
    expect(code).toBe(1);
    expect(problems(stderr)).toEqual([
      `${join(dir, 'loadtests/smoke.js')}:2:18: syntax k6 <0.52 cannot parse: optional chaining "?." (ES2020)`,
    ]);
  });

  it('follows the imports of a profile script, showing paths as the config was named', async () => {
    writeFileSync(
      join(dir, 'loadtests/smoke.js'),
      "import { t } from './lib/env.js';\nexport default function () { return t; }\n",
    );
    writeFileSync(join(dir, 'loadtests/lib/env.js'), 'export const t = { a: 1 }.a ?? 2;\n');
    writeConfig({ smoke: 'loadtests/smoke.js' });
    // The real binary, run from the config's folder: paths are printed as the user named them.
    const { code, stderr } = await promisify(execFile)(
      process.execPath,
      [VIGIL_BIN, 'validate', '-c', 'vigil.yaml'],
      {
        cwd: dir,
        env: { PATH: process.env.PATH },
        timeout: 20_000,
      },
    ).then(
      (r) => ({ code: 0, stderr: r.stderr }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    expect(code).toBe(1);
    expect(problems(stderr)).toEqual([
      'loadtests/lib/env.js:1:30: syntax k6 <0.52 cannot parse: nullish coalescing "??" (ES2020)',
    ]);
  });

  it('a missing profile script is reported once, by the config loader', async () => {
    const file = writeConfig({ smoke: 'loadtests/nope.js' });
    const { code, stderr } = await runInProcess(['validate', '-c', file]);
    expect(code).toBe(1);
    expect(problems(stderr)).toEqual([
      `${file}:loadtests.profiles.smoke.script: file not found: ${join(dir, 'loadtests/nope.js')}`,
    ]);
  });

  it('passes scripts in ES2017 + modules, the shipped ones included', async () => {
    cpSync(join(import.meta.dirname, '../../../loadtests'), join(dir, 'loadtests'), { recursive: true });
    const file = writeConfig({ smoke: 'loadtests/smoke.js', soak: 'loadtests/soak.js' });
    const { code, stderr } = await runInProcess(['validate', '-c', file]);
    expect(stderr).toMatch(/valid — .*2 load profiles/);
    expect(code).toBe(0);
  });
});
