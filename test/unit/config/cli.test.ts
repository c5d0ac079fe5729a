import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { schema } from '../../../src/cli/schema.js';
import type { Command } from '../../../src/cli/types.js';
import { validate } from '../../../src/cli/validate.js';
import { renderJsonSchema } from '../../../src/config/json-schema.js';

async function run(command: Command, argv: string[], env: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const code = await command({ argv, stdout, stderr, env, signal: new AbortController().signal });
  stdout.end();
  stderr.end();
  const text = (stream: PassThrough) => (stream.read() as Buffer | null)?.toString('utf8') ?? '';
  return { code, stdout: text(stdout), stderr: text(stderr) };
}

describe('vigil validate', () => {
  it('exits 0 on the shipped config (two services) with warnings and a summary per service on stderr', async () => {
    const result = await run(validate, []);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    // The rollback target both services inherit is said once, at the root.
    expect(lines.slice(0, 2)).toEqual([
      'warning: vigil.yaml:actions.rollback[0].url: empty: this rollback target is off',
      'warning: vigil.yaml:server.apiToken: empty: /api/v1 answers only clients on loopback',
    ]);
    expect(lines.slice(2)).toEqual([
      'vigil.yaml: valid — 2 services',
      expect.stringMatching(/^ {2}prep-api: \d+ probes, \d+ SLO checks, 5 load profiles$/),
      '  prep-worker: 2 probes, 4 SLO checks, 0 load profiles',
    ]);
  });

  it('exits 0 with -c on a valid fixture, naming the file as given', async () => {
    const result = await run(validate, ['-c', 'test/fixtures/config/valid/vigil.yaml'], {
      VIGIL_API_TOKEN: 'x',
    });
    expect(result.code).toBe(0);
    expect(result.stderr.trimEnd().split('\n').at(-1)).toBe(
      'test/fixtures/config/valid/vigil.yaml: valid — 2 probes, 3 SLO checks, 1 load profile',
    );
  });

  it('exits 1 printing every problem, one per line, on stderr only', async () => {
    const file = 'test/fixtures/config/invalid-multi-problem/vigil.yaml';
    const result = await run(validate, ['--config', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(10);
    expect(lines[0]).toBe(
      `${file}:actions.rollback[0].secret: environment variable VIGIL_TEST_SECRET is not set and has no default`,
    );
    for (const line of lines)
      expect(line).toMatch(/^test\/fixtures\/config\/invalid-multi-problem\/[^:]+:[^:]*: /);
  });

  it('exits 1 when the file does not exist', async () => {
    const result = await run(validate, ['-c', 'no-such.yaml']);
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: `no-such.yaml:: cannot read: file not found (${process.cwd()}/no-such.yaml)\n`,
    });
  });

  it.each([[['--nope']], [['extra']], [['-c']]])('exits 2 with usage on %j', async (argv) => {
    const result = await run(validate, argv);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('usage: vigil validate [-c FILE]');
  });
});

describe('vigil schema', () => {
  it('prints the JSON Schema on stdout and exits 0', async () => {
    const result = await run(schema, []);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(renderJsonSchema());
    expect(JSON.parse(result.stdout).$defs.probeFile.type).toBe('array');
  });

  it('exits 2 on an unknown flag', async () => {
    const result = await run(schema, ['--nope']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
  });
});
