import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../helpers/cli.js';
import { PROMTOOL_BIN } from '../../helpers/prometheus.js';

const RULES = join(REPO_ROOT, 'deploy/prometheus/vigil-rules.yaml');
const missing = !existsSync(PROMTOOL_BIN);
const skip = missing && process.env.VIGIL_REQUIRE_INTEGRATION !== '1';

describe('deploy/prometheus/vigil-rules.yaml', () => {
  test.skipIf(skip)('promtool check rules accepts it', async () => {
    if (missing) throw new Error(`${PROMTOOL_BIN} is required (VIGIL_REQUIRE_INTEGRATION=1)`);
    const { stdout } = await promisify(execFile)(PROMTOOL_BIN, ['check', 'rules', RULES], {
      timeout: 20_000,
    });
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  test.skipIf(skip)('promtool rejects a broken rule file (the check can fail)', async () => {
    if (missing) throw new Error(`${PROMTOOL_BIN} is required (VIGIL_REQUIRE_INTEGRATION=1)`);
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'vigil-rules-'));
    try {
      const file = join(dir, 'broken.yaml');
      writeFileSync(
        file,
        'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[5m]\n',
      );
      await expect(
        promisify(execFile)(PROMTOOL_BIN, ['check', 'rules', file], { timeout: 20_000 }),
      ).rejects.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
