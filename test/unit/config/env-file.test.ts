// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} references are config syntax here
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEnvFile, envFileArgs, readEnvFile } from '../../../src/config/env-file.js';
import { VIGIL_BIN } from '../../helpers/cli.js';

/*
 * The `.env` beside the config (or --env-file) is read at start and never overrides a variable already
 * set (DESIGN §9); the line saying which file was read names variables, never values.
 */

const run = promisify(execFile);

describe('envFileArgs', () => {
  const cases: [string, string[], { args: string[]; file: string; explicit: boolean } | undefined][] = [
    [
      'the default .env is beside the default config',
      ['validate'],
      { args: ['validate'], file: '.env', explicit: false },
    ],
    [
      'beside the config given with -c',
      ['validate', '-c', 'deploy/vigil.yaml'],
      { args: ['validate', '-c', 'deploy/vigil.yaml'], file: 'deploy/.env', explicit: false },
    ],
    [
      'beside --config=FILE',
      ['serve', '--config=/etc/vigil/vigil.yaml'],
      { args: ['serve', '--config=/etc/vigil/vigil.yaml'], file: '/etc/vigil/.env', explicit: false },
    ],
    [
      '--env-file names the file and is taken out of the arguments',
      ['wait', 'w_1', '--env-file', 'ci.env', '--json'],
      { args: ['wait', 'w_1', '--json'], file: 'ci.env', explicit: true },
    ],
    [
      '--env-file=FILE too',
      ['watch', 'start', '--env-file=ci.env'],
      { args: ['watch', 'start'], file: 'ci.env', explicit: true },
    ],
    ['no file for the demo', ['demo'], undefined],
    ['no file for --help', ['--help'], undefined],
  ];
  it.each(cases)('%s', (_behaviour, argv, expected) => {
    expect(envFileArgs(argv)).toEqual(expected);
  });
});

describe('readEnvFile', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-env-'));
    writeFileSync(
      join(dir, '.env'),
      '# comment\nVIGIL_LISTEN=127.0.0.1:9999\nexport VIGIL_API_TOKEN="from file"\nVIGIL_LOKI_URL=\n',
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('adds what is not set and keeps what is, even an empty value', async () => {
    const file = join(dir, '.env');
    const { env, report } = await readEnvFile(file, { VIGIL_LISTEN: '0.0.0.0:1', VIGIL_LOKI_URL: '' }, false);
    expect(env).toEqual({ VIGIL_LISTEN: '0.0.0.0:1', VIGIL_API_TOKEN: 'from file', VIGIL_LOKI_URL: '' });
    expect(report).toEqual({
      file,
      read: true,
      applied: ['VIGIL_API_TOKEN'],
      kept: ['VIGIL_LISTEN', 'VIGIL_LOKI_URL'],
    });
    expect(describeEnvFile(report)).toBe(
      `environment: read ${file} (1 variable; VIGIL_LISTEN, VIGIL_LOKI_URL already set, kept from the environment)`,
    );
  });

  it('no .env beside the config is no error, and is said', async () => {
    const { env, report } = await readEnvFile(join(dir, 'none', '.env'), { A: '1' }, false);
    expect(env).toEqual({ A: '1' });
    expect(describeEnvFile(report)).toBe(`environment: no ${join(dir, 'none', '.env')} (nothing read)`);
  });

  it('a missing --env-file is an error naming it', async () => {
    await expect(readEnvFile(join(dir, 'ci.env'), {}, true)).rejects.toThrow(
      `--env-file ${join(dir, 'ci.env')}: cannot read: file not found`,
    );
  });
});

describe('the vigil process reads the .env beside its config', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-env-cli-'));
    writeFileSync(
      join(dir, 'vigil.yaml'),
      'service: s\ntarget: { baseUrl: "${VIGIL_TARGET_URL}" }\nstorage: { path: ":memory:" }\n',
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function validate(env: Record<string, string>, extra: string[] = []) {
    const result = await run(
      process.execPath,
      [VIGIL_BIN, 'validate', '-c', join(dir, 'vigil.yaml'), ...extra],
      {
        env: { PATH: process.env.PATH, ...env },
      },
    ).catch((error: { code: number; stderr: string }) => ({ ...error, exitCode: error.code }));
    return {
      code: 'exitCode' in result ? result.exitCode : 0,
      stderr: result.stderr,
    };
  }

  it('without .env the variable is missing; with it the config is valid and the file is named', async () => {
    const before = await validate({});
    expect(before.code).toBe(1);
    expect(before.stderr).toContain(`environment: no ${join(dir, '.env')} (nothing read)`);
    expect(before.stderr).toContain('environment variable VIGIL_TARGET_URL is not set');

    writeFileSync(join(dir, '.env'), 'VIGIL_TARGET_URL=http://127.0.0.1:8080\n');
    const after = await validate({});
    expect(after.stderr).toContain(`note: environment: read ${join(dir, '.env')} (1 variable)`);
    expect(after.code).toBe(0);
  });

  it('a variable already set wins over the .env', async () => {
    writeFileSync(join(dir, '.env'), 'VIGIL_TARGET_URL=not a url\n');
    const run1 = await validate({ VIGIL_TARGET_URL: 'http://127.0.0.1:8080' });
    expect(run1.stderr).toContain('VIGIL_TARGET_URL already set, kept from the environment');
    expect(run1.code).toBe(0);
  });

  it('--env-file reads another file', async () => {
    writeFileSync(join(dir, 'ci.env'), 'VIGIL_TARGET_URL=http://127.0.0.1:8080\n');
    writeFileSync(join(dir, '.env'), 'VIGIL_TARGET_URL=not a url\n');
    const ok = await validate({}, ['--env-file', join(dir, 'ci.env')]);
    expect(ok.stderr).toContain(`read ${join(dir, 'ci.env')}`);
    expect(ok.code).toBe(0);
    // A missing --env-file: Vigil exits 2 naming it — or Node 20/22 itself does first, exit 9 with
    // "node: FILE: not found", since it checks --env-file even after the script (nodejs/node#54232).
    const missing = await validate({}, ['--env-file', join(dir, 'nope.env')]);
    expect([2, 9]).toContain(missing.code);
    expect(missing.stderr).toMatch(new RegExp(`${join(dir, 'nope.env')}: (cannot read: file )?not found`));
  });
});
