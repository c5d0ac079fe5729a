import { describe, expect, it } from 'vitest';
import { evaluationExitCode, parseEvaluateArgs, parseTime } from '../../../src/cli/evaluate.js';
import type { CheckResult } from '../../../src/evaluator/types.js';

describe('TIME arguments of vigil evaluate', () => {
  it.each([
    { text: '1795762800', ms: 1_795_762_800_000 },
    { text: '1795762800.5', ms: 1_795_762_800_500 },
    { text: '2026-11-27T10:00:00Z', ms: Date.UTC(2026, 10, 27, 10) },
    { text: '2026-11-27T11:00:00+01:00', ms: Date.UTC(2026, 10, 27, 10) },
    { text: '2026-11-27T10:00:00.250Z', ms: Date.UTC(2026, 10, 27, 10) + 250 },
  ])('$text is accepted', ({ text, ms }) => {
    expect(parseTime(text)).toBe(ms);
  });

  it.each(['2026-11-27T10:00:00', '2026-11-27', 'yesterday', '-5', '1e9', ''])(
    '"%s" is refused (a time without a zone is ambiguous)',
    (text) => {
      expect(parseTime(text)).toBeUndefined();
    },
  );

  it('parses every flag, repeated --slo included', () => {
    expect(
      parseEvaluateArgs([
        '-c',
        'x/vigil.yaml',
        '--since',
        '100',
        '--at',
        '200',
        '--slo',
        'a',
        '--slo',
        'b',
        '--json',
      ]),
    ).toEqual({
      configFile: 'x/vigil.yaml',
      since: 100_000,
      at: 200_000,
      slos: ['a', 'b'],
      json: true,
    });
  });

  it.each([
    { argv: ['--since', '200', '--at', '100'], message: /--since is after --at/ },
    { argv: ['--at', 'noon'], message: /--at "noon"/ },
    { argv: ['--bogus'], message: /bogus/ },
  ])('refuses $argv', ({ argv, message }) => {
    expect(() => parseEvaluateArgs(argv)).toThrow(message);
  });
});

describe('exit code of an evaluation', () => {
  const check = (result: CheckResult['result'], shadow = false) => ({ result, shadow }) as CheckResult;
  it.each([
    { name: 'all pass or warn is 0', checks: [check('pass'), check('warn')], code: 0 },
    {
      name: 'any fail is 1, even beside inconclusive',
      checks: [check('inconclusive'), check('fail')],
      code: 1,
    },
    { name: 'inconclusive without failure is 2', checks: [check('pass'), check('inconclusive')], code: 2 },
    {
      name: 'a failing shadow check does not fail the gate',
      checks: [check('pass'), check('fail', true)],
      code: 0,
    },
  ])('$name', ({ checks, code }) => {
    expect(evaluationExitCode(checks)).toBe(code);
  });
});
