import { describe, expect, it } from 'vitest';
import { loadProfileSchema } from '../../../src/config/schema.js';
import { buildInvocation, deadlineFor, profileFingerprint } from '../../../src/loadtest/invocation.js';

const profile = (fields: Record<string, unknown>) =>
  loadProfileSchema.parse({ script: 'smoke.js', ...fields });

describe('k6 invocation', () => {
  it.each([
    ['timeout wins', { duration: '30s', timeout: '5m' }, 300_000],
    ['duration plus two minutes', { duration: '30s' }, 150_000],
    ['an hour when the script decides', {}, 3_600_000],
  ])('deadline: %s', (_name, fields, deadlineMs) => {
    expect(deadlineFor(profile(fields))).toBe(deadlineMs);
  });

  it.each([
    ['the same target URL', 'http://prep.internal:8080/', []],
    ['another URL', 'http://elsewhere.example', ['BASE_URL']],
  ])('a profile env BASE_URL set to %s is never passed on', (_name, url, ignored) => {
    const invocation = buildInvocation({
      profile: profile({ vus: 2, duration: '1m30s', env: { BASE_URL: url, API_TOKEN: 't' } }),
      scriptPath: '/defs/smoke.js',
      targetBaseUrl: 'http://prep.internal:8080',
      workDir: '/tmp/run',
      apiPort: 6565,
      baseEnv: { PATH: '/usr/bin' },
    });
    expect(invocation.ignoredEnv).toEqual(ignored);
    expect(invocation.env).toEqual({
      PATH: '/usr/bin',
      API_TOKEN: 't',
      K6_NO_USAGE_REPORT: 'true',
    });
    expect(invocation.args).toEqual([
      'run',
      '--no-color',
      '--no-usage-report',
      '--quiet',
      '--summary-export',
      '/tmp/run/summary.json',
      '--summary-trend-stats',
      'avg,min,med,max,p(90),p(95),p(99)',
      '--address',
      '127.0.0.1:6565',
      '--vus',
      '2',
      '--duration',
      '1m30s',
      '-e',
      'BASE_URL=http://prep.internal:8080',
      '-e',
      'VIGIL_SUMMARY_PATH=/tmp/run/handle-summary.json',
      '/defs/smoke.js',
    ]);
  });

  it('fingerprints the definition, not the secrets', () => {
    const a = profileFingerprint(profile({ vus: 2, env: { API_TOKEN: 'one' } }), 'script');
    expect(profileFingerprint(profile({ vus: 2, env: { API_TOKEN: 'two' } }), 'script')).toBe(a);
    expect(profileFingerprint(profile({ vus: 3, env: { API_TOKEN: 'one' } }), 'script')).not.toBe(a);
    expect(profileFingerprint(profile({ vus: 2, env: { API_TOKEN: 'one' } }), 'script v2')).not.toBe(a);
  });
});
