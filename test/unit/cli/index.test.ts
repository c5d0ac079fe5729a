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

  test.each([['--help'], ['-h'], ['help']])('%s prints usage and exits 0', async (...args) => {
    const run = await runInProcess(args);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('Usage: vigil <command>');
    expect(run.stdout).toBe('');
  });

  test.each(Object.keys(COMMANDS))(
    'vigil %s --help and -h print its own usage, flags and exit codes',
    async (name) => {
      for (const flag of ['--help', '-h']) {
        const run = await runInProcess([...name.split(' '), flag]);
        expect(run.code).toBe(0);
        expect(run.stderr.startsWith(`usage: vigil ${name}`), run.stderr).toBe(true);
        expect(run.stderr).toMatch(/\nexit: 0/);
        expect(run.stdout).toBe('');
      }
    },
  );

  test('vigil help wait is vigil wait --help', async () => {
    const run = await runInProcess(['help', 'wait']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('usage: vigil wait ID');
    expect(run.stderr).toContain('--until PHASE         smoke, load or complete (default complete)');
    expect(run.stderr).toContain('130 interrupted');
  });

  test.each([
    {
      args: ['wait', 'w_1', '--untill', 'load'],
      code: 64,
      says: 'vigil wait: unknown flag --untill (did you mean --until?)',
    },
    { args: ['wait', 'w_1', '--timeout'], code: 64, says: 'vigil wait: --timeout needs a value' },
    { args: ['wait', 'w_1', '--json=yes'], code: 64, says: 'vigil wait: --json takes no value' },
    {
      args: ['watch', 'start', '--service', 'a', '--verison', '1'],
      code: 2,
      says: 'unknown flag --verison (did you mean --version?)',
    },
    {
      args: ['probe', '--probes', 'health'],
      code: 2,
      says: 'vigil probe: unknown flag --probes (did you mean --probe?)',
    },
    {
      args: ['evaluate', '--slos', 'x'],
      code: 3,
      says: 'vigil evaluate: unknown flag --slos (did you mean --slo?)',
    },
    {
      args: ['demo', '--without-prom'],
      code: 2,
      says: 'vigil demo: unknown flag --without-prom (did you mean --without-prometheus?)',
    },
    {
      args: ['serve', '--confg', 'x.yaml'],
      code: 2,
      says: 'vigil serve: unknown flag --confg (did you mean --config?)',
    },
    { args: ['schema', '-x'], code: 2, says: 'vigil schema: unknown flag -x' },
  ])(
    "$args: says which flag in Vigil's words and keeps the usage exit code $code",
    async ({ args, code, says }) => {
      const run = await runInProcess(args);
      expect(run.code).toBe(code);
      expect(run.stderr).toContain(says);
      expect(run.stderr).not.toMatch(/Unknown option|To specify a positional/);
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
      'logs diff',
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
