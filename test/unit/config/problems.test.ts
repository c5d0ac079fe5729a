import { describe, expect, it } from 'vitest';
import { formatPath, ProblemList } from '../../../src/config/problems.js';
import { closestWord } from '../../../src/config/suggest.js';

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

describe('ProblemList', () => {
  it('names a labelled item by its name, and keeps the index of one that is not', () => {
    const list = new ProblemList();
    list.label('slo/prep.yaml', [0], 'error-rate');
    list.add('slo/prep.yaml', [0, 'objective'], 'bad');
    list.add('slo/prep.yaml', [1, 'objective'], 'bad');
    list.add('slo/other.yaml', [0, 'objective'], 'bad');
    expect(list.problems.map((p) => `${p.file}:${p.path}`)).toEqual([
      'slo/prep.yaml:error-rate.objective',
      'slo/prep.yaml:[1].objective',
      'slo/other.yaml:[0].objective',
    ]);
  });

  it('keeps a problem found twice once', () => {
    const list = new ProblemList();
    list.add('vigil.yaml', ['watch', 'window'], 'too short');
    list.add('vigil.yaml', ['watch', 'window'], 'too short');
    list.add('vigil.yaml', ['watch', 'window'], 'another problem');
    expect(list.size).toBe(2);
  });

  it('a derived list (warnings) names items as its parent does', () => {
    const list = new ProblemList();
    list.label('probes/prep.yaml', [2], 'health');
    const warnings = list.derive();
    warnings.add('probes/prep.yaml', [2, 'expect', 0], 'w');
    expect(warnings.problems[0]?.path).toBe('health.expect[0]');
    expect(list.size).toBe(0);
  });
});

describe('closestWord', () => {
  const cases: [string, string, string[], string | undefined][] = [
    ['one letter missing', 'objectve', ['name', 'objective', 'warn'], 'objective'],
    ['two letters swapped', 'duraiton', ['duration', 'window'], 'duration'],
    ['another case', 'minwindow', ['minWindow', 'window'], 'minWindow'],
    ['nothing close: no guess', 'colour', ['name', 'objective'], undefined],
    ['a short word needs a closer match', 'kin', ['name'], undefined],
  ];
  it.each(cases)('%s', (_behaviour, given, known, expected) => {
    expect(closestWord(given, known)).toBe(expected);
  });
});
