import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { serviceNamed } from '../../../src/config/fleet.js';
import { loadConfig } from '../../../src/config/load.js';
import { probesJudgedInBake } from '../../../src/daemon/probe-checks.js';
import { ConfigError, formatProblem } from '../../../src/errors.js';

/*
 * The config side of the probes judged in a bake: `watch.probes` names must exist, and the shipped
 * config judges every Prep probe, the edge check only as an alert.
 */

const SHIPPED = fileURLToPath(new URL('../../../vigil.yaml', import.meta.url));
const PROBES = `
- name: health
  kind: smoke
  request: { path: /health }
- name: orders
  kind: smoke
  request: { path: /api/orders }
`;

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function writeConfig(watch: string): string {
  dir = mkdtempSync(join(tmpdir(), 'vigil-watch-probes-'));
  mkdirSync(join(dir, 'probes'));
  writeFileSync(join(dir, 'probes', 'p.yaml'), PROBES);
  const file = join(dir, 'vigil.yaml');
  writeFileSync(
    file,
    [
      'service: prep-api',
      'target: { baseUrl: "http://127.0.0.1:8080" }',
      `storage: { path: "${join(dir, 'vigil.db')}" }`,
      'probes: [probes/*.yaml]',
      `watch: ${watch}`,
      '',
    ].join('\n'),
  );
  return file;
}

async function problemsOf(file: string): Promise<string[]> {
  const error = await loadConfig(file, {}).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error === undefined) return [];
  if (!(error instanceof ConfigError)) throw error;
  return error.problems.map(formatProblem);
}

describe('watch.probes', () => {
  it('a name that is no probe is a config error naming it and the known probes', async () => {
    const file = writeConfig('{ probes: [orders, ordrs, health] }');
    expect(await problemsOf(file)).toEqual([
      `${file}:watch.probes[1]: unknown probe "ordrs" (probes: health, orders)`,
    ]);
  });

  it('names that all exist load, and the list is kept as given', async () => {
    const file = writeConfig('{ probes: [orders] }');
    expect(await problemsOf(file)).toEqual([]);
    const config = await loadConfig(file, {});
    expect(config.root.watch.probes).toEqual(['orders']);
  });
});

describe('the shipped config', () => {
  it('validates, and its bake judges every Prep probe aimed at the target, edge-readiness as an alert', async () => {
    const config = serviceNamed(await loadConfig(SHIPPED, {}), 'prep-api');
    if (!config) throw new Error('the shipped config has no prep-api');
    const judged = probesJudgedInBake(config.probes, config.root.watch.probes, config.root.target.baseUrl);
    expect(judged.map((p) => p.name)).toEqual(
      expect.arrayContaining(['health', 'ready', 'live', 'booking-journey', 'payments', 'edge-readiness']),
    );
    const enforce = Object.fromEntries(judged.map((p) => [p.name, p.enforce]));
    expect(enforce['edge-readiness']).toBe('alert');
    // Everything else fails the watch as the watch says (watch.enforce).
    expect(enforce.health).toBeUndefined();
  });
});
