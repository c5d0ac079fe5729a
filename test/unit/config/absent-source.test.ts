import { describe, expect, it } from 'vitest';
import { configWarnings, loadConfig } from '../../../src/config/load.js';
import { formatProblem } from '../../../src/errors.js';
import { runInProcess } from '../../helpers/cli.js';

/*
 * Sources left out are really off (README "Sources"): a check on one is inconclusive with the reason, never
 * a config error, and an empty-but-set URL variable turns its source off. The fixture and the shipped
 * vigil.yaml write `${VIGIL_LOKI_URL-http://…}` (no colon): the default fills in only when unset.
 */

const FIXTURE = 'test/fixtures/config/absent-source/vigil.yaml';
const REASON = 'source loki is not configured (sources.loki is absent or its url empty)';

describe('a source left out is off, not an error', () => {
  it('VIGIL_LOKI_URL= (empty) turns Loki off, with a warning naming the check', async () => {
    const config = await loadConfig(FIXTURE, { VIGIL_LOKI_URL: '' });
    expect(config.root.sources.loki?.url).toBe('');
    expect(configWarnings(config, FIXTURE).map(formatProblem)).toContain(
      `test/fixtures/config/absent-source/slo/checks.yaml:error-logs.source: ${REASON}: this check will be inconclusive; set sources.loki.url or remove the check`,
    );
  });

  it('VIGIL_LOKI_URL unset keeps the default, and nothing is said', async () => {
    const config = await loadConfig(FIXTURE, {});
    expect(config.root.sources.loki?.url).toBe('http://127.0.0.1:3100');
    expect(configWarnings(config, FIXTURE).map(formatProblem).join('\n')).not.toContain('not configured');
  });

  it('the shipped vigil.yaml follows the same rule for Prometheus, Loki and Alertmanager', async () => {
    const off = await loadConfig('vigil.yaml', {
      VIGIL_LOKI_URL: '',
      VIGIL_PROMETHEUS_URL: '',
      VIGIL_ALERTMANAGER_URL: '',
    });
    expect([
      off.root.sources.loki?.url,
      off.root.sources.prometheus?.url,
      off.root.alertmanager?.url,
    ]).toEqual(['', '', '']);
    const on = await loadConfig('vigil.yaml', {});
    expect(on.root.sources.loki?.url).toBe('http://127.0.0.1:3100');
  });

  it('vigil validate passes with the warning; vigil evaluate reports the check inconclusive (exit 2)', async () => {
    const env = { VIGIL_LOKI_URL: '' };
    const validated = await runInProcess(['validate', '-c', FIXTURE], env);
    expect(validated.stderr).toContain(REASON);
    expect(validated.code).toBe(0);
    const evaluated = await runInProcess(['evaluate', '-c', FIXTURE, '--json'], env);
    expect(evaluated.code).toBe(2);
    const checks = (
      JSON.parse(evaluated.stdout) as { checks: { name: string; result: string; explanation: string }[] }
    ).checks;
    expect(checks).toEqual([
      expect.objectContaining({ name: 'error-logs', result: 'inconclusive', explanation: REASON }),
    ]);
  });
});
