import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { K6_MIN_VERSION, k6VersionWarning, parseK6Version } from '../../../src/loadtest/k6-version.js';
import { k6Check } from '../../../src/server/health-checks.js';

const FAKE_K6 = join(import.meta.dirname, '../../helpers/fake-k6.mjs');

describe('k6 versions', () => {
  it.each([
    ['k6 v0.49.0 (go1.19.8, linux/amd64)', { major: 0, minor: 49, patch: 0 }],
    ['k6 v2.3.0 (commit/12b6520225, go1.27.0, linux/amd64)', { major: 2, minor: 3, patch: 0 }],
    ['v1.10.2', { major: 1, minor: 10, patch: 2 }],
    ['custom build', null],
  ])('reads %j', (text, version) => {
    expect(parseK6Version(text)).toEqual(version);
  });

  it.each([
    ['v0.48.9', true],
    ['v0.9.99', true],
    ['v0.49.0', false],
    ['v0.52.0', false],
    ['v1.0.0', false],
    ['v2.3.0', false],
    ['unknown', false],
  ])('%s is older than the supported minimum: %s', (version, old) => {
    expect(k6VersionWarning(version) !== null).toBe(old);
  });

  it('the warning names both versions', () => {
    expect(K6_MIN_VERSION).toBe('v0.49.0');
    expect(k6VersionWarning('v0.45.1')).toMatch(
      /^k6 v0\.45\.1 is older than v0\.49\.0, the oldest k6 Vigil supports/,
    );
  });
});

describe('the /health k6 check (src/server/health-checks.ts)', () => {
  const signal = new AbortController().signal;

  it('reports the version `k6 version` printed, with no warning for a supported one', async () => {
    const outcome = await k6Check(FAKE_K6, process.env.PATH)(signal);
    expect(outcome).toMatchObject({ status: 'ok', version: 'v0.49.0', path: FAKE_K6 });
    expect(outcome).not.toHaveProperty('warning');
  });

  it('carries the warning for a k6 older than the minimum, still up', async () => {
    const outcome = await k6Check(FAKE_K6, process.env.PATH, {
      FAKE_K6_VERSION: 'k6 v0.46.0 (go1.20.7, linux/amd64)',
    })(signal);
    expect(outcome).toMatchObject({ status: 'ok', version: 'v0.46.0' });
    expect(outcome).toHaveProperty('warning', expect.stringMatching(/older than v0\.49\.0/));
  });

  it('is down, naming the command, when k6 cannot be found', async () => {
    expect(await k6Check('k6', '/nonexistent-dir')(signal)).toEqual({
      status: 'down',
      error: 'k6 not found or not executable',
    });
  });
});
