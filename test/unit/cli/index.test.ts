import { describe, expect, test } from 'vitest';
import { COMMANDS, USAGE } from '../../../src/cli/index.js';
import { VERSION } from '../../../src/version.js';
import { runInProcess } from '../../helpers/cli.js';

describe('vigil command dispatch', () => {
  test.each([
    { name: 'an unknown command', args: ['launch'], names: 'launch' },
    { name: 'a flag in place of a command', args: ['--config', 'vigil.yaml'], names: '--config' },
  ])('$name prints usage on stderr and exits 2', async ({ args, names }) => {
    const run = await runInProcess(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`unknown command "${names}"`);
    expect(run.stderr).toContain(USAGE);
    expect(run.stdout).toBe('');
  });

  test('no arguments at all prints usage and exits 2', async () => {
    const run = await runInProcess([]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(USAGE);
  });

  test.each([['--help'], ['-h'], ['help'], ['validate', '--help'], ['serve', '-h']])(
    '%s prints usage and exits 0',
    async (...args) => {
      const run = await runInProcess(args);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('Usage: vigil <command>');
      expect(run.stdout).toBe('');
    },
  );

  test.each([
    { command: 'validate', usage: 'usage: vigil validate' },
    { command: 'serve', usage: 'usage: vigil serve' },
  ])('an unknown flag on $command exits 2 with its usage', async ({ command, usage }) => {
    const run = await runInProcess([command, '--no-such-flag']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--no-such-flag');
    expect(run.stderr).toContain(usage);
  });

  test.each(['validate', 'serve'])('a stray positional argument on %s exits 2', async (command) => {
    const run = await runInProcess([command, 'extra']);
    expect(run.code).toBe(2);
  });

  test('--version prints the version on stdout', async () => {
    const run = await runInProcess(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${VERSION}\n`);
  });

  test('every command of DESIGN §2 is registered and named in the usage text', () => {
    const expected = [
      'serve',
      'validate',
      'probe',
      'watch start',
      'watch list',
      'watch show',
      'watch promote',
      'watch rollback',
      'watch abort',
      'wait',
      'evaluate',
      'demo',
      'schema',
    ];
    expect(Object.keys(COMMANDS).sort()).toEqual([...expected].sort());
    // The three overrides share one line of the usage text.
    for (const command of expected.filter((c) => !/^watch (rollback|abort)$/.test(c)))
      expect(USAGE).toContain(`  ${command}`);
  });

  test('every registered command loads to a function', async () => {
    for (const load of Object.values(COMMANDS)) expect(typeof (await load())).toBe('function');
  });
});
