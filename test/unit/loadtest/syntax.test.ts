import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkK6Scripts,
  checkK6Source,
  formatSyntaxProblem,
  listScripts,
} from '../../../src/loadtest/syntax.js';
import { REPO_ROOT } from '../../helpers/cli.js';

const SYNTAX = join(import.meta.dirname, '../../fixtures/k6/syntax');
const source = (name: string) => readFileSync(join(SYNTAX, name), 'utf8');

describe('the k6 syntax check (ES2017 + modules, what k6 before v0.52 parses)', () => {
  // Positions are those real k6 v0.49.0 reported for each recorded script (shared/fixtures/k6/
  // syntax-support.md), whose columns count from 0: ours count from 1.
  it.each([
    ['syntax-object-spread.js', 2, 24, 'object spread "{ ...x }" (ES2018)'],
    ['syntax-optional-catch.js', 2, 30, 'optional catch binding "catch {" (ES2019)'],
    ['syntax-optional-chaining.js', 2, 17, 'optional chaining "?." (ES2020)'],
    ['syntax-nullish.js', 2, 21, 'nullish coalescing "??" (ES2020)'],
    ['syntax-numeric-separator.js', 2, 12, 'numeric separator "_" (ES2021)'],
    ['syntax-class-field.js', 2, 12, 'class field (ES2022)'],
  ])('rejects %s where k6 v0.49 did (%i:%i from 0), naming the construct', (file, line, k6Column, what) => {
    expect(checkK6Source(source(file))).toEqual({ line, column: k6Column + 1, message: what });
  });

  it.each([
    ['newer-object-rest.js', 2, 12, 'object rest "{ ...x }" (ES2018)'],
    ['newer-logical-assignment.js', 2, 16, 'logical assignment "||=" (ES2021)'],
    ['newer-private-field.js', 2, 11, 'private class member "#" (ES2022)'],
    ['newer-bigint.js', 2, 15, 'BigInt literal (ES2020)'],
    ['newer-async-generator.js', 2, 15, 'async generator (ES2018)'],
    ['newer-regexp-dotall.js', 2, 13, 'regular expression flag "s" (ES2018+)'],
    // Not recorded with k6: the position is where acorn stops, the token after the last valid one.
  ])('rejects the unrecorded newer construct in %s at %i:%i', (file, line, column, what) => {
    expect(checkK6Source(source(file))).toEqual({ line, column, message: what });
  });

  it.each([['syntax-exponent.js'], ['syntax-async-await.js']])(
    'accepts %s, which k6 v0.49 ran (exit 0)',
    (file) => {
      expect(checkK6Source(source(file))).toBeNull();
    },
  );

  it('reports a plain syntax error as one no k6 can parse', () => {
    expect(checkK6Source(source('broken.js'))).toEqual({
      line: 2,
      column: 70,
      message: 'syntax error, no k6 can parse it: Unexpected token',
    });
  });

  it('is held to ES modules: import/export parse, an ES2017 script with CommonJS-only syntax too', () => {
    expect(checkK6Source("import { a } from './a.js';\nexport const b = a ** 2;\n")).toBeNull();
    expect(checkK6Source('export default async function () { await 1; }\n')).toBeNull();
    // `await` at the top level is ES2022: k6 <0.52 refuses it.
    expect(checkK6Source('await 1;\n')).toMatchObject({ line: 1, column: 1 });
  });
});

describe('checking scripts and what they import', () => {
  it('follows relative imports, checks each file once and reports a missing one at its import', async () => {
    const problems = await checkK6Scripts([join(SYNTAX, 'imports/main.js')]);
    const lines = problems.map((p) => formatSyntaxProblem(p, (f) => relative(SYNTAX, f)));
    expect(lines).toEqual([
      'imports/main.js:2:25: cannot read ./lib/missing.js: ENOENT',
      'imports/lib/summary.js:2:55: syntax k6 <0.52 cannot parse: optional chaining "?." (ES2020)',
    ]);
  });

  it('a script that cannot be read is itself a problem', async () => {
    const problems = await checkK6Scripts([join(SYNTAX, 'absent.js')]);
    expect(problems).toEqual([
      expect.objectContaining({
        line: 1,
        column: 1,
        message: 'cannot read the script: ENOENT',
      }),
    ]);
  });

  it('every script shipped in loadtests/ parses as k6 v0.49 would', async () => {
    const files = await listScripts(join(REPO_ROOT, 'loadtests'));
    expect(files.map((f) => relative(REPO_ROOT, f))).toEqual(
      expect.arrayContaining(['loadtests/smoke.js', 'loadtests/lib/summary.js', 'loadtests/lib/journey.js']),
    );
    const problems = await checkK6Scripts(files);
    expect(problems.map((p) => formatSyntaxProblem(p, (f) => relative(REPO_ROOT, f)))).toEqual([]);
  });
});

describe("CI's syntax gate (dist/src/loadtest/syntax-cli.js, run by .ci/run)", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-syntax-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const cli = join(REPO_ROOT, 'dist/src/loadtest/syntax-cli.js');
  const run = (folder: string) =>
    promisify(execFile)(process.execPath, [cli, folder], { cwd: dir, timeout: 20_000 }).then(
      (r) => ({ code: 0, stderr: r.stderr }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );

  it('fails with file:line:column on a script using ?.', async () => {
    writeFileSync(join(dir, 'ok.js'), 'export default function () {}\n');
    writeFileSync(join(dir, 'bad.js'), 'export const x = {}.a?.b;\n');
    const { code, stderr } = await run('.');
    expect(code).toBe(1);
    expect(stderr).toContain('bad.js:1:23: syntax k6 <0.52 cannot parse: optional chaining "?." (ES2020)');
  });

  it('passes on valid ES2017 modules', async () => {
    writeFileSync(join(dir, 'ok.js'), 'export default function () {}\n');
    const { code, stderr } = await run('.');
    expect(code).toBe(0);
    expect(stderr).toMatch(/1 files parse/);
  });

  it('.ci/run runs it on loadtests/', () => {
    expect(readFileSync(join(REPO_ROOT, '.ci/run'), 'utf8')).toMatch(
      /node dist\/src\/loadtest\/syntax-cli\.js loadtests/,
    );
  });
});
