import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type DaemonFiles,
  type RunningDaemon,
  startDaemon,
  writeDaemonConfig,
} from '../../helpers/daemon.js';

/*
 * The real `vigil serve` with a k6 that answers `k6 version` like an old release: the daemon says so at
 * startup, and /health's k6 check names the version with the warning.
 */

let files: DaemonFiles | undefined;
let daemon: RunningDaemon | undefined;
afterEach(async () => {
  await daemon?.dispose();
  files?.cleanup();
  daemon = undefined;
  files = undefined;
});

function withK6(versionLine: string): DaemonFiles {
  const made = writeDaemonConfig({
    targetUrl: 'http://127.0.0.1:9',
    root: ['loadtests: { k6: ./k6, profiles: { smoke: { script: smoke.js } } }'],
  });
  const k6 = join(made.dir, 'k6');
  writeFileSync(k6, `#!/bin/sh\necho '${versionLine}'\n`);
  chmodSync(k6, 0o755);
  writeFileSync(join(made.dir, 'smoke.js'), 'export default function () {}\n');
  return made;
}

describe('vigil serve: the k6 version at startup', () => {
  it('a k6 older than v0.49.0 is a startup warning, and /health names it', async () => {
    files = withK6('k6 v0.45.1 (go1.20.5, linux/amd64)');
    daemon = await startDaemon(files);
    const line = await daemon.waitForLog((l) => /older than v0\.49\.0/.test(l.msg ?? ''), 10_000);
    expect(line).toMatchObject({ level: 'warn' });
    expect(line.msg).toMatch(/^k6 v0\.45\.1 is older than v0\.49\.0, the oldest k6 Vigil supports/);
    const health = await daemon.api('GET', '/health', undefined, { token: null });
    expect(health.body).toMatchObject({
      checks: { k6: { status: 'ok', version: 'v0.45.1', warning: line.msg } },
    });
  });

  it('a current k6 is reported without a warning', async () => {
    files = withK6('k6 v2.3.0 (commit/12b6520225, go1.27.0, linux/amd64)');
    daemon = await startDaemon(files);
    const health = await daemon.api('GET', '/health', undefined, { token: null });
    expect(health.body).toMatchObject({ checks: { k6: { status: 'ok', version: 'v2.3.0' } } });
    expect(JSON.stringify(health.body)).not.toMatch(/older than/);
    expect(daemon.logs().some((l) => /older than/.test(l.msg ?? ''))).toBe(false);
  });
});
