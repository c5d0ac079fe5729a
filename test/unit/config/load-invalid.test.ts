// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} references are the syntax under test
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError, formatProblem } from '../../../src/errors.js';

/*
 * One fixture per invalid case (blackbox_exporter style), each with the exact line `vigil validate` prints.
 * Fixtures are loaded by a cwd-relative path, so problems name files as `test/fixtures/config/…`.
 */

const FIXTURES = 'test/fixtures/config';

async function problemsOf(file: string): Promise<string[]> {
  try {
    await loadConfig(file, {});
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map(formatProblem);
    throw error;
  }
  throw new Error(`${file} loaded without a problem`);
}

// [behaviour, fixture, the one exact problem (its file relative to test/fixtures/config/)]
const cases: [string, string, string][] = [
  [
    'an assertion with two subjects',
    'invalid-assertion-two-subjects/vigil.yaml',
    'invalid-assertion-two-subjects/probes/p.yaml:health.expect[0]: an assertion has one subject, found status and body',
  ],
  [
    'a malformed duration',
    'invalid-bad-duration.yaml',
    'invalid-bad-duration.yaml:watch.duration: invalid duration "24 hours": use a positive number with a unit ms, s, m, h, d or w (e.g. 30s, 5m, 24h)',
  ],
  [
    'a malformed ${…} reference',
    'invalid-bad-env-reference.yaml',
    'invalid-bad-env-reference.yaml:server.apiToken: invalid variable reference "${VIGIL TOKEN}": use ${NAME}, ${NAME:-default} or ${NAME-default}',
  ],
  [
    'a listen address that is a number',
    'invalid-bad-listen.yaml',
    'invalid-bad-listen.yaml:server.listen: expected a string, got an integer',
  ],
  [
    'a LogQL syntax error',
    'invalid-bad-logql/vigil.yaml',
    'invalid-bad-logql/slo/checks.yaml:error-logs.query: LogQL syntax error at 1:37: unexpected "|"',
  ],
  [
    'a malformed percentage',
    'invalid-bad-percentage/vigil.yaml',
    'invalid-bad-percentage/slo/checks.yaml:throughput.baseline.maxDecrease: invalid percentage "10 percent": use a number followed by % (e.g. 10%)',
  ],
  [
    'an unknown watch phase',
    'invalid-bad-phase.yaml',
    'invalid-bad-phase.yaml:watch.phases[1]: expected one of smoke, load, bake',
  ],
  [
    'a PromQL syntax error, located in a multi-line template',
    'invalid-bad-promql/vigil.yaml',
    'invalid-bad-promql/slo/checks.yaml:error-rate.query: PromQL syntax error at 2:44: unexpected end of query',
  ],
  [
    'an assertion regex that does not compile',
    'invalid-bad-regex/vigil.yaml',
    'invalid-bad-regex/probes/p.yaml:health.expect[1].body.matches: invalid regular expression "status: (ok": Unterminated group',
  ],
  [
    'a base URL without a scheme',
    'invalid-bad-url.yaml',
    'invalid-bad-url.yaml:target.baseUrl: expected an absolute URL such as http://127.0.0.1:9090',
  ],
  [
    'baseline from offset without an offset',
    'invalid-baseline-offset-missing/vigil.yaml',
    'invalid-baseline-offset-missing/slo/checks.yaml:throughput.baseline.offset: from: offset needs an offset such as 1d or 7d',
  ],
  [
    'a key given twice in one mapping',
    'invalid-duplicate-key.yaml',
    'invalid-duplicate-key.yaml:: invalid YAML at 6:1: Map keys must be unique',
  ],
  [
    'one probe name in two files',
    'invalid-duplicate-probe-name/vigil.yaml',
    'invalid-duplicate-probe-name/probes/b.yaml:health.name: duplicate probe name "health" (first defined at test/fixtures/config/invalid-duplicate-probe-name/probes/a.yaml:health.name)',
  ],
  [
    'one SLO name in two files',
    'invalid-duplicate-slo-name/vigil.yaml',
    'invalid-duplicate-slo-name/slo/b.yaml:error-rate.name: duplicate SLO name "error-rate" (first defined at test/fixtures/config/invalid-duplicate-slo-name/slo/a.yaml:error-rate.name)',
  ],
  ['an empty root file', 'invalid-empty.yaml', 'invalid-empty.yaml:: file is empty'],
  [
    'an SLO file named without a glob that does not exist',
    'invalid-definition-file-missing/vigil.yaml',
    'invalid-definition-file-missing/vigil.yaml:slos[0]: file not found: test/fixtures/config/invalid-definition-file-missing/slo/prep.yaml',
  ],
  [
    'a probes glob matching no file',
    'invalid-glob-matches-nothing.yaml',
    'invalid-glob-matches-nothing.yaml:probes[0]: "no-such-folder/*.yaml" matches no file',
  ],
  [
    'a LogQL log query where a metric query is needed',
    'invalid-logql-log-query/vigil.yaml',
    'invalid-logql-log-query/slo/checks.yaml:error-logs.query: a Loki SLI needs a metric query such as sum(count_over_time({app="x"} |= "error" [{{window}}]))',
  ],
  [
    'an environment variable with no value and no default',
    'invalid-missing-env.yaml',
    'invalid-missing-env.yaml:server.apiToken: environment variable VIGIL_TEST_TOKEN is not set and has no default',
  ],
  [
    'a missing required key',
    'invalid-missing-required.yaml',
    'invalid-missing-required.yaml:service: is required (or services:, one entry per service of a fleet)',
  ],
  [
    'a load profile script that does not exist',
    'invalid-missing-script.yaml',
    'invalid-missing-script.yaml:loadtests.profiles.smoke.script: file not found: test/fixtures/config/no-such-script.js',
  ],
  [
    'a root file that is a list',
    'invalid-not-a-mapping.yaml',
    'invalid-not-a-mapping.yaml:: expected a mapping, got a list',
  ],
  [
    'an empty objective',
    'invalid-objective-empty/vigil.yaml',
    'invalid-objective-empty/slo/checks.yaml:error-rate.objective: an objective needs at least one of lt, lte, gt, gte',
  ],
  [
    'an empty probe file',
    'invalid-probe-file-empty/vigil.yaml',
    'invalid-probe-file-empty/probes/p.yaml:: file is empty',
  ],
  [
    'a probe file that is a mapping',
    'invalid-probe-file-not-a-list/vigil.yaml',
    'invalid-probe-file-not-a-list/probes/p.yaml:: expected a list of probes',
  ],
  [
    'an unknown probe kind',
    'invalid-probe-kind/vigil.yaml',
    'invalid-probe-kind/probes/p.yaml:health.kind: expected smoke or synthetic',
  ],
  [
    'a rollback url without a secret',
    'invalid-rollback-without-secret.yaml',
    'invalid-rollback-without-secret.yaml:actions.rollback[0].secret: required (16 or more characters) when url is set',
  ],
  [
    'a rollback secret shorter than 16 characters',
    'invalid-short-secret.yaml',
    'invalid-short-secret.yaml:actions.rollback[0].secret: too short (8 characters; 16 or more required)',
  ],
  [
    'a probes-source check over less than a minute',
    'invalid-probes-window-short/vigil.yaml',
    'invalid-probes-window-short/slo/checks.yaml:availability.window: 30s is too short: the probes source keeps per-minute rollups of probe results, so its windows are 1m or more',
  ],
  [
    'a probes-source check inheriting a watch.window under a minute',
    'invalid-probes-watch-window-short/vigil.yaml',
    'invalid-probes-watch-window-short/slo/checks.yaml:availability: judged over watch.window (30s, in test/fixtures/config/invalid-probes-watch-window-short/vigil.yaml), which is too short: the probes source keeps per-minute rollups of probe results, so its windows are 1m or more; give this check window: 1m or raise watch.window',
  ],
  [
    'a journey step request with neither path nor url',
    'invalid-step-request/vigil.yaml',
    'invalid-step-request/probes/p.yaml:booking-journey.steps[1].request: a request needs exactly one of path or url',
  ],
  [
    'an HTTP status that is not a code is a load error, not a probe failing at every run',
    'invalid-status-not-a-code/vigil.yaml',
    'invalid-status-not-a-code/probes/p.yaml:health.expect[0].status: status equals takes an HTTP status code from 100 to 599, got "two hundred"',
  ],
  [
    'an unknown key in a check, named by the check, with the key it resembles',
    'invalid-unknown-key-suggested/vigil.yaml',
    'invalid-unknown-key-suggested/slo/prep.yaml:error-rate.objectve: unknown key; did you mean `objective`?',
  ],
  [
    'an unknown key',
    'invalid-unknown-key.yaml',
    'invalid-unknown-key.yaml:watch.durration: unknown key; did you mean `duration`?',
  ],
  [
    'watch.loadProfile naming no profile',
    'invalid-unknown-load-profile.yaml',
    'invalid-unknown-load-profile.yaml:watch.loadProfile: unknown load profile "soak" (loadtests.profiles: none defined)',
  ],
  [
    'a schedule entry with an invalid cron expression',
    'invalid-bad-cron/vigil.yaml',
    'invalid-bad-cron/vigil.yaml:loadtests.schedule[0].cron: invalid cron expression "61 * * * *": minute: 61 is a invalid expression for minute',
  ],
  [
    'an SLO referencing an unknown probe',
    'invalid-unknown-probe/vigil.yaml',
    'invalid-unknown-probe/slo/checks.yaml:availability.sli.probe: unknown probe "heatlh" (probes: health)',
  ],
  [
    'an unknown template variable',
    'invalid-unknown-template-variable/vigil.yaml',
    'invalid-unknown-template-variable/slo/checks.yaml:error-rate.query: unknown template variable {{job}} (known: window, service, version, previousVersion)',
  ],
  [
    'a string where a number belongs',
    'invalid-wrong-type.yaml',
    'invalid-wrong-type.yaml:watch.failureLimit: expected a number, got a string',
  ],
  [
    'a YAML syntax error',
    'invalid-yaml-syntax.yaml',
    'invalid-yaml-syntax.yaml:: invalid YAML at 8:3: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ],
];
describe('an invalid config is reported with one exact problem', () => {
  it.each(cases)('%s', async (_behaviour, fixture, problem) => {
    expect(await problemsOf(`${FIXTURES}/${fixture}`)).toEqual([`${FIXTURES}/${problem}`]);
  });
});

describe('every problem of every file is reported at once', () => {
  it('a config with problems in the root, a probe file and an SLO file lists all of them', async () => {
    const dir = `${FIXTURES}/invalid-multi-problem`;
    expect(await problemsOf(`${dir}/vigil.yaml`)).toEqual([
      `${dir}/vigil.yaml:actions.rollback[0].secret: environment variable VIGIL_TEST_SECRET is not set and has no default`,
      `${dir}/vigil.yaml:storage.retention: invalid duration "forever": use a positive number with a unit ms, s, m, h, d or w (e.g. 30s, 5m, 24h)`,
      `${dir}/probes/p.yaml:[0].interval: invalid duration "soon": use a positive number with a unit ms, s, m, h, d or w (e.g. 30s, 5m, 24h)`,
      `${dir}/probes/p.yaml:[1].expect[0].matches: invalid regular expression "[": Unterminated character class`,
      `${dir}/slo/checks.yaml:error-rate.query: unknown template variable {{windw}} (known: window, service, version, previousVersion)`,
      `${dir}/slo/checks.yaml:error-rate.query: PromQL syntax error at 1:41: unexpected end of query`,
      `${dir}/slo/checks.yaml:error-rate.objective.lt: expected a number, got a string`,
      `${dir}/probes/p.yaml:[1].name: duplicate probe name "health" (first defined at test/fixtures/config/invalid-multi-problem/probes/p.yaml:[0].name)`,
      `${dir}/slo/checks.yaml:availability.sli.probe: unknown probe "nope" (probes: health)`,
      `${dir}/vigil.yaml:watch.loadProfile: unknown load profile "soak" (loadtests.profiles: none defined)`,
    ]);
  });

  it('the error message holds one line per problem, as printed by vigil validate', async () => {
    const error = await loadConfig(`${FIXTURES}/invalid-multi-problem/vigil.yaml`, {}).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('CONFIG_INVALID');
    expect((error as ConfigError).message.split('\n')).toHaveLength(10);
  });

  it('a problem found twice is printed once (one variable referenced twice in a value)', async () => {
    expect(await problemsOf(`${FIXTURES}/invalid-same-variable-twice.yaml`)).toEqual([
      `${FIXTURES}/invalid-same-variable-twice.yaml:target.baseUrl: environment variable VIGIL_TEST_HOST is not set and has no default`,
    ]);
  });

  it('a root file that does not exist is one problem naming it', async () => {
    expect(await problemsOf(`${FIXTURES}/no-such-file.yaml`)).toEqual([
      `${FIXTURES}/no-such-file.yaml:: cannot read: file not found (${process.cwd()}/${FIXTURES}/no-such-file.yaml)`,
    ]);
  });
});
