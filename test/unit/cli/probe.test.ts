import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runInProcess } from '../../helpers/cli.js';

/** `vigil probe` with nothing to run must not report success: "0 probes passed" is not a green check. */

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-probe-none-'));
  writeFileSync(
    join(dir, 'vigil.yaml'),
    'service: prep-api\ntarget: { baseUrl: "http://127.0.0.1:9" }\nstorage: { path: ":memory:" }\n',
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('vigil probe with no probe to run', () => {
  test('no probes configured: exit 2 with why, no results printed', async () => {
    const run = await runInProcess(['probe', '-c', join(dir, 'vigil.yaml'), '--json']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('vigil probe: no probes configured');
    expect(run.stdout).toBe('');
  });

  test('a --probe name that matches nothing: exit 2 naming it', async () => {
    const run = await runInProcess(['probe', '-c', join(dir, 'vigil.yaml'), '--probe', 'health']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no probe named health (configured: none)');
  });
});
