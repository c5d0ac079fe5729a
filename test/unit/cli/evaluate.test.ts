import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluationExitCode, parseEvaluateArgs, parseTime } from '../../../src/cli/evaluate.js';
import type { CheckResult } from '../../../src/evaluator/types.js';
import { createProbeRollups } from '../../../src/prober/rollups.js';
import { openStore } from '../../../src/store/open.js';
import { runInProcess } from '../../helpers/cli.js';

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

describe("vigil evaluate: probes checks read the daemon's store", () => {
  let dir: string;
  const at = Date.parse('2026-11-27T10:30:00Z');
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-evaluate-probes-'));
    mkdirSync(join(dir, 'slo'));
    mkdirSync(join(dir, 'probes'));
    writeFileSync(
      join(dir, 'probes', 'p.yaml'),
      '- { name: health, kind: smoke, request: { path: /health }, expect: [ { status: 200 } ] }\n',
    );
    writeFileSync(
      join(dir, 'vigil.yaml'),
      'service: prep-api\ntarget: { baseUrl: "http://127.0.0.1:8080" }\nstorage: { path: data.db }\n' +
        'probes: [probes/*.yaml]\nslos: [slo/*.yaml]\nwatch: { window: 10m }\n',
    );
    writeFileSync(
      join(dir, 'slo', 'checks.yaml'),
      '- { name: availability, source: probes, sli: { probe: health, measure: successRatio }, objective: { gte: 0.9 } }\n',
    );
    const store = await openStore({ path: join(dir, 'data.db') });
    // As the daemon writes them: under the service's name, 9 of 10 runs a minute ago passing.
    const rollups = createProbeRollups(store, 'prep-api');
    for (let i = 0; i < 10; i++) rollups.recordResult(run(at - 60_000 + i * 1_000, i !== 0));
    await rollups.flush();
    await store.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("judges the service's probe runs", async () => {
    const result = await runInProcess([
      'evaluate',
      '-c',
      join(dir, 'vigil.yaml'),
      '--since',
      String((at - 600_000) / 1000),
      '--at',
      String(at / 1000),
      '--json',
    ]);
    const report = JSON.parse(result.stdout) as { checks: CheckResult[] };
    expect(report.checks.map((c) => [c.name, c.result, c.value])).toEqual([['availability', 'pass', 0.9]]);
    expect(result.code).toBe(0);
  });
});

function run(at: number, success: boolean) {
  return {
    probe: 'health',
    kind: 'smoke' as const,
    success,
    startedAt: new Date(at).toISOString(),
    durationMs: 12,
    phases: { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: 12, transferMs: 0 },
    failure: null,
    assertions: [],
    steps: [],
  };
}
