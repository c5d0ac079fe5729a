import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import {
  definitionBytes,
  ISOLATE_FROM_BYTES,
  loadConfigIsolated,
} from '../../../src/config/load-isolated.js';
import { ConfigError } from '../../../src/errors.js';

/*
 * `vigil serve` loads in a worker thread (the compiled dist/src/config/load-worker.js that the global setup
 * builds): what comes back must be what loadConfig gives in process, frozen the same way, and a
 * ConfigError the same error.
 */

const FIXTURES = 'test/fixtures/config';
const env = { VIGIL_API_TOKEN: '12345678901234567890' };

/** Every plain object and array under `value` that is not frozen, by path. */
function unfrozen(value: unknown, at = 'config'): string[] {
  if (typeof value !== 'object' || value === null) return [];
  const plain = Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype;
  if (!plain) return [];
  const own = Object.isFrozen(value) ? [] : [at];
  return [...own, ...Object.entries(value).flatMap(([key, item]) => unfrozen(item, `${at}.${key}`))];
}

/** Every RegExp under `value`, as `/source/flags`, checking each is a real RegExp. */
function regexes(value: unknown): string[] {
  if (value instanceof RegExp) return [String(value)];
  if (typeof value !== 'object' || value === null) return [];
  return Object.values(value).flatMap(regexes);
}

async function rejection(load: Promise<unknown>): Promise<unknown> {
  return load.then(
    () => {
      throw new Error('loaded without a problem');
    },
    (error: unknown) => error,
  );
}

// [behaviour, root file, environment]
const valid: [string, string, Record<string, string>][] = [
  ['the shipped config (two services, regex assertions)', 'vigil.yaml', {}],
  ['the valid fixture', `${FIXTURES}/valid/vigil.yaml`, env],
  ['a fleet', `${FIXTURES}/fleet/vigil.yaml`, env],
];

// [behaviour, root file]
const invalid: [string, string][] = [
  ['problems in several files', `${FIXTURES}/invalid-multi-problem/vigil.yaml`],
  ['a YAML syntax error with its line:column', `${FIXTURES}/invalid-yaml-syntax.yaml`],
  ['a root file that does not exist', `${FIXTURES}/no-such-file.yaml`],
];

describe('loadConfigIsolated', () => {
  it.each(valid)(
    '%s: the same config as loadConfig, frozen all the way down',
    async (_, file, environment) => {
      const inProcess = await loadConfig(file, environment);
      const isolated = await loadConfigIsolated(file, environment);
      expect(isolated).toStrictEqual(inProcess);
      expect(unfrozen(isolated)).toEqual([]);
    },
  );

  it('regex assertions come back as RegExp, not as the empty object a clone of a class gives', async () => {
    const isolated = await loadConfigIsolated('vigil.yaml', {});
    const patterns = regexes(isolated);
    expect(patterns.length).toBeGreaterThan(0);
    expect(patterns).toEqual(regexes(await loadConfig('vigil.yaml', {})));
  });

  it.each(invalid)('%s: a ConfigError with every problem and warning', async (_, file) => {
    const expected = await rejection(loadConfig(file, env));
    const error = await rejection(loadConfigIsolated(file, env));
    expect(expected).toBeInstanceOf(ConfigError);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual((expected as ConfigError).problems);
    expect((error as ConfigError).message).toBe((expected as ConfigError).message);
    expect((error as ConfigError).code).toBe('CONFIG_INVALID');
  });

  it('the warnings of a valid config come back with it', async () => {
    const file = `${FIXTURES}/valid/vigil.yaml`;
    const isolated = await loadConfigIsolated(file, env);
    expect(isolated.warnings).toHaveLength(2);
    expect(isolated.warnings).toEqual((await loadConfig(file, env)).warnings);
  });
});

describe('which loader the daemon uses', () => {
  it('counts the bytes of the probe and SLO files every service of the root file points at', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-bytes-'));
    try {
      mkdirSync(join(dir, 'probes'));
      writeFileSync(join(dir, 'probes', 'a.yaml'), 'x'.repeat(1_000));
      writeFileSync(join(dir, 'probes', 'b.yaml'), 'x'.repeat(2_000));
      writeFileSync(join(dir, 'worker.yaml'), 'x'.repeat(500));
      writeFileSync(
        join(dir, 'vigil.yaml'),
        // A glob with a variable is not counted: it is only known once interpolated.
        `services:\n  api: { probes: [probes/*.yaml] }\n  worker: { slos: [worker.yaml, "\${X}/y.yaml"] }\n`,
      );
      expect(await definitionBytes(join(dir, 'vigil.yaml'))).toBe(3_500);
      // The shipped config is small: it loads in process (no worker start at every `vigil serve`).
      expect(await definitionBytes('vigil.yaml')).toBeGreaterThan(0);
      expect(await definitionBytes('vigil.yaml')).toBeLessThan(ISOLATE_FROM_BYTES);
      expect(await definitionBytes(join(dir, 'missing.yaml'))).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
