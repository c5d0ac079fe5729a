import { describe, expect, it } from 'vitest';
import { formatPath } from '../../../src/config/problems.js';

describe('formatPath', () => {
  const cases: [string, PropertyKey[], string][] = [
    ['the whole file is the empty path', [], ''],
    ['keys are joined with dots', ['watch', 'duration'], 'watch.duration'],
    [
      'indexes are bracketed, also at the start',
      [1, 'steps', 0, 'request', 'path'],
      '[1].steps[0].request.path',
    ],
    [
      'a key that is not a plain word is quoted',
      ['target', 'headers', 'x.scope id'],
      'target.headers["x.scope id"]',
    ],
    [
      'dashes and $ are plain',
      ['loadtests', 'profiles', 'soak-1', '$schema'],
      'loadtests.profiles.soak-1.$schema',
    ],
  ];
  it.each(cases)('%s', (_behaviour, path, expected) => {
    expect(formatPath(path)).toBe(expected);
  });
});
