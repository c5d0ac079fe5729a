import { describe, expect, test } from 'vitest';
import { parseFlags, suggestFlag, UsageError } from '../../../src/cli/args.js';

/* Command-line problems in Vigil's words: which flag, and the one probably meant. */

const WAIT_FLAGS = {
  until: { type: 'string', default: 'complete' },
  timeout: { type: 'string' },
  server: { type: 'string' },
  json: { type: 'boolean', default: false },
  config: { type: 'string', short: 'c' },
} as const;

describe('parseFlags', () => {
  test.each([
    { argv: ['w_1', '--untill', 'load'], says: 'unknown flag --untill (did you mean --until?)' },
    { argv: ['w_1', '--time', '5m'], says: 'unknown flag --time (did you mean --timeout?)' },
    { argv: ['w_1', '--jsno'], says: 'unknown flag --jsno (did you mean --json?)' },
    { argv: ['w_1', '--verbose'], says: 'unknown flag --verbose' },
    { argv: ['w_1', '-x'], says: 'unknown flag -x' },
    { argv: ['w_1', '--timeout'], says: '--timeout needs a value' },
    { argv: ['w_1', '-c', '--server', 'http://x'], says: '-c/--config needs a value' },
    { argv: ['w_1', '--until', '--json'], says: '--until needs a value' },
    { argv: ['w_1', '--json=false'], says: '--json takes no value (got "--json=false")' },
  ])('$argv: $says', ({ argv, says }) => {
    expect(() => parseFlags(argv, WAIT_FLAGS, 1)).toThrow(new UsageError(says));
  });

  test('a stray argument on a command that takes none is named', () => {
    expect(() => parseFlags(['extra'], { json: { type: 'boolean' } })).toThrow(
      'unexpected argument "extra" (this command takes flags only)',
    );
  });

  test('values, defaults and positionals come back typed, a value that starts with a dash included', () => {
    const parsed = parseFlags(
      ['w_1', '--timeout', '5m', '--server=http://127.0.0.1:1', '-c', 'v.yaml'],
      WAIT_FLAGS,
      1,
    );
    expect(parsed.values).toEqual({
      until: 'complete',
      timeout: '5m',
      server: 'http://127.0.0.1:1',
      json: false,
      config: 'v.yaml',
    });
    expect(parsed.positionals).toEqual(['w_1']);
    const reason = parseFlags(['--reason', '-5 % errors'], { reason: { type: 'string' } });
    expect(reason.values.reason).toBe('-5 % errors');
  });
});

describe('suggestFlag', () => {
  test.each([
    ['untill', 'until'],
    ['previous', 'previous-version'],
    ['withoutprometheus', 'without-prometheus'],
    ['zzz', undefined],
  ])('%s → %s', (unknown, expected) => {
    expect(suggestFlag(unknown, ['until', 'timeout', 'previous-version', 'without-prometheus'])).toBe(
      expected,
    );
  });
});
